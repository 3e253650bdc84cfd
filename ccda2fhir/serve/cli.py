"""The command line: `ccda2fhir convert ...` (one file or thousands) and `ccda2fhir serve`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from ..batch import convert_many, find_documents
from ..convert import convert_with_report
from ..errors import ConversionError, one_line
from ..limits import described
from ..patient_ids import RULE
from . import command as serve_command

_STEM_HELP = (f"the Patient id ({RULE}); required for one document. For many, '{{stem}}' (the default) "
              "stands for each file's name without its suffix, made a valid id: runs of other characters "
              "become '-', '-' at the ends is dropped, and a name that had to change (or is empty or too "
              "long) gets '-' and 8 hex digits of its SHA-256, so distinct names keep distinct ids")


def _add_limits(parser: argparse.ArgumentParser) -> None:
    """One flag per limit of ccda2fhir.limits, its default and meaning from there."""
    for name, default, what in described():
        flag = "--" + name.replace("_", "-")
        if name == "timeout":
            parser.add_argument(flag, type=float, default=default, metavar="SECONDS",
                                help=f"{what}; 0 for no limit (default: {default:g})")
        else:
            parser.add_argument(flag, type=int, default=default, metavar="N", help=f"{what} (default: {default})")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ccda2fhir", description="Convert HL7 C-CDA documents to FHIR R4 batch Bundles.")
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="convert one document (or '-' for stdin), or many files/folders")
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="a C-CDA file, a folder of them, or - for stdin")
    c.add_argument("--patient-id", required=False, help=_STEM_HELP)
    c.add_argument("-o", "--output", help="output file (one document) or folder (many); default stdout")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--pretty", action="store_true", help="indented JSON")
    fmt.add_argument("--compact", action="store_true", help="compact JSON (the default)")
    c.add_argument("--report", metavar="FILE", help="write the unmapped-entries report as JSON to FILE")
    c.add_argument("--embed-source", action="store_true",
                   help="embed the source XML (base64) in the source DocumentReference")
    c.add_argument("--jobs", type=int, default=None, help="parallel workers for many documents (default: CPUs)")
    _add_limits(c)
    serve_command.add_arguments(sub.add_parser("serve", help="serve POST /convert/v1/ccda/to/fhir?patientId=ID "
                                               "(needs the [serve] extra)"))
    return ap


def _options(a) -> dict:
    options = {name: getattr(a, name) for name, _, _ in described() if name != "timeout"}
    options["embed_source"] = a.embed_source
    return options


def _error(src: str, message: str) -> None:
    print(one_line(f"ccda2fhir: error: {src}: {message}"), file=sys.stderr)


def _convert_one(a) -> int:
    src = a.inputs[0]
    if not a.patient_id:
        print("ccda2fhir: error: --patient-id is required", file=sys.stderr)
        return 2
    data = sys.stdin.buffer.read() if src == "-" else Path(src)
    try:
        bundle, report = convert_with_report(data, a.patient_id, timeout=a.timeout or None, **_options(a))
    except (ConversionError, ValueError) as exc:
        _error(src, str(exc))
        return 1
    except OSError as exc:
        _error(src, exc.strerror or str(exc))
        return 1
    out = orjson.dumps(bundle, option=orjson.OPT_INDENT_2 if a.pretty else 0)
    if a.output:
        Path(a.output).write_bytes(out + b"\n")
    else:
        sys.stdout.buffer.write(out + b"\n")
    if a.report:
        Path(a.report).write_bytes(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2))
    print(one_line(f"ccda2fhir: {src}: {report.summary()}"), file=sys.stderr)
    return 0


def _convert_many(a) -> int:
    if not a.output:
        print("ccda2fhir: error: -o/--output FOLDER is required for more than one document", file=sys.stderr)
        return 2
    failed = total = 0
    reports = {}
    try:
        for o in convert_many(a.inputs, a.output, patient_id=a.patient_id or "{stem}", jobs=a.jobs,
                              pretty=a.pretty, with_report=bool(a.report), timeout=a.timeout or None,
                              **_options(a)):
            total += 1
            if o.error:
                failed += 1
                _error(o.source, o.error)
            elif o.report is not None:
                reports[o.source] = o.report
    except ConversionError as exc:  # the --patient-id template itself
        print(one_line(f"ccda2fhir: error: {exc}"), file=sys.stderr)
        return 2
    if a.report:
        Path(a.report).write_bytes(orjson.dumps(dict(sorted(reports.items())), option=orjson.OPT_INDENT_2))
    print(f"ccda2fhir: converted {total - failed} of {total} documents into {a.output}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ccda2fhir` command."""
    a = _parser().parse_args(argv)
    if a.command == "serve":
        return serve_command.run(a)
    if a.timeout < 0:
        print("ccda2fhir: error: --timeout must be 0 (no limit) or more seconds", file=sys.stderr)
        return 2
    many = len(a.inputs) > 1 or (a.inputs[0] != "-" and Path(a.inputs[0]).is_dir())
    if many and not find_documents(a.inputs):
        print("ccda2fhir: error: no C-CDA files (.xml, .ccda, .cda) found", file=sys.stderr)
        return 1
    return _convert_many(a) if many else _convert_one(a)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
