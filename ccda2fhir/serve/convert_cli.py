"""`ccda2fhir convert`: one document to stdout or a file; many into Bundle files or NDJSON.

Thin: it checks what the user asked for (every mistake one line and exit 2, before any work),
then calls the library (convert_with_report for one document, ccda2fhir.bulk for many).
Exit codes: 0 everything converted, 1 a document (or the output) failed, 2 a usage error,
130 interrupted (Ctrl-C or SIGTERM; what was written is whole).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import orjson

from .. import bulk
from ..convert import convert_with_report
from ..errors import ConversionError, one_line
from ..limits import described
from ..map.engine import OverlayError, overlay_for
from ..patient_ids import FROM_DOCUMENT, RULE, STEM, patient_id_for
from .progress import Progress, error_line

USAGE, FAILED, INTERRUPTED = 2, 1, 130

_PATIENT_HELP = (f"the Patient id ({RULE}), the same for every document; required for one document "
                 f"unless --patient-id-from is given. '{STEM}' stands for each file's name without its suffix, "
                 "made a valid id: runs of other characters become '-', '-' at the ends is dropped, and a name "
                 "that had to change (or is empty or too long) gets '-' and 8 hex digits of its SHA-256, so "
                 f"distinct names keep distinct ids (default for many documents: {STEM})")
_FROM_HELP = ("'document': make each Patient id from the document's recordTarget: a UUID of its first "
              "identifier (an SSN only when it has no other) and birth date, so the same patient in two "
              "documents gets the same id; a document with no usable identifier gets an id of its own "
              "(default: off)")


class UsageError(Exception):
    """What the user asked for cannot be done; the message says what, on one line."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} is not 0 or more")
    return value


def add_arguments(c: argparse.ArgumentParser) -> None:
    """The convert subcommand's options, each with its default in its help."""
    c.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="C-CDA files, folders (walked for .xml, .ccda and .cda files), or - for one document "
                        "on stdin")
    c.add_argument("--from-list", metavar="FILE",
                   help="also convert the files listed in FILE, one path a line; - reads the list from stdin "
                        "(find DIR -name '*.xml' | ccda2fhir convert --from-list - -o OUT) (default: none)")
    c.add_argument("-o", "--output", metavar="PATH",
                   help="one document: the Bundle file (default: stdout). Many documents (or --format ndjson): "
                        "the output folder, made if missing (required); - writes to stdout, one JSON per line")
    c.add_argument("--format", choices=("bundle", "ndjson"), default="bundle",
                   help="bundle: one Bundle per document (OUT/<path relative to the inputs' common folder>.json);"
                        " ndjson: FHIR Bulk Data files OUT/<Type>.ndjson, one resource a line, each Type/id once"
                        " (the first document to write an id wins; later different content is reported) "
                        "(default: bundle)")
    pid = c.add_mutually_exclusive_group()
    pid.add_argument("--patient-id", metavar="ID", help=_PATIENT_HELP)
    pid.add_argument("--patient-id-from", choices=("document",), help=_FROM_HELP)
    c.add_argument("--root", metavar="DIR",
                   help="bundle format: the folder whose tree is mirrored under OUT (default: the deepest folder "
                        "holding every INPUT; the current folder for a --from-list alone)")
    c.add_argument("--overwrite", action="store_true",
                   help="--format ndjson: replace the <Type>.ndjson files already in OUT (default: refuse)")
    c.add_argument("--report", metavar="FILE",
                   help="write one JSON line per document to FILE: source, patient id, output, resources, "
                        "every issue of its conversion (unmapped, partial, warning, info, error), NDJSON "
                        "duplicates and conflicts, or the error class and message (default: none)")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--pretty", action="store_true", help="indented JSON, bundle files only (default: off)")
    fmt.add_argument("--compact", action="store_true", help="compact JSON (the default)")
    c.add_argument("--embed-source", action="store_true",
                   help="embed the source XML (base64) in the source DocumentReference (default: off)")
    c.add_argument("--templates", metavar="PATH",
                   help="a folder of templates over the built-in ones: a file replaces the built-in one of the same "
                        "relative name (resource/Observation.json.j2); routes/*.toml add routes or win for the same "
                        "templateId; amend/<Type>.json.j2 adds to every resource of that type (see templates/README.md; "
                        "check it first with ccda2fhir check-templates) (default: none)")
    c.add_argument("--code-systems", metavar="FILE",
                   help="terminology over the built-in data: a JSON file with codesystems (OID -> URI), "
                        "identifier_systems and conceptmaps/valuemaps, or a folder laid out as ccda2fhir/data "
                        "(default: none)")
    c.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help=f"worker processes for many documents (default: all {os.cpu_count() or 1} cores)")
    for name, default, what in described():
        flag = "--" + name.replace("_", "-")
        if name == "timeout":
            c.add_argument(flag, type=non_negative_float, default=default, metavar="SECONDS",
                           help=f"{what}; 0 for no limit (default: {default:g})")
        else:
            c.add_argument(flag, type=positive_int, default=default, metavar="N", help=f"{what} (default: {default})")


def run(a: argparse.Namespace) -> int:
    """Run `convert` with parsed arguments; returns the exit code."""
    try:
        if _single(a):
            return _convert_one(a)
        return _convert_many(a)
    except UsageError as exc:
        print(one_line(f"ccda2fhir: error: {exc}"), file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:             # one document: nothing was written yet
        print("ccda2fhir: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:               # stdout closed early (| head): not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED


# ---- one document -------------------------------------------------------------------------------

def _single(a) -> bool:
    if not a.inputs and a.from_list is None:
        raise UsageError("no input: name C-CDA files or folders, - for stdin, or --from-list FILE")
    if "-" in a.inputs and (len(a.inputs) > 1 or a.from_list is not None):
        raise UsageError("- (a document on stdin) cannot be combined with other inputs; "
                         "--from-list - reads a list of paths from stdin")
    if a.from_list == "-" and "-" in a.inputs:
        raise UsageError("stdin cannot hold both a document and a list")
    one = len(a.inputs) == 1 and a.from_list is None and a.format == "bundle"
    return one and (a.inputs[0] == "-" or not os.path.isdir(a.inputs[0])) and \
        not (a.output not in (None, "-") and os.path.isdir(a.output))


def _options(a) -> dict:
    options = {name: getattr(a, name) for name, _, _ in described() if name != "timeout"}
    options["embed_source"] = a.embed_source
    for name in ("templates", "code_systems"):
        if getattr(a, name, None):
            options[name] = getattr(a, name)
    if "templates" in options or "code_systems" in options:
        try:    # a bad overlay is a usage error, said once here rather than once per document
            overlay_for(options.get("templates"), options.get("code_systems"))
        except OverlayError as exc:
            raise UsageError(str(exc)) from None
    return options


def _check_file_target(path: str, what: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a folder")
    if not os.path.isdir(parent):
        raise UsageError(f"{what} {path}: folder {parent} does not exist")


def _convert_one(a) -> int:
    src = a.inputs[0]
    if a.patient_id_from:
        patient_id = FROM_DOCUMENT
    elif a.patient_id:
        if STEM in a.patient_id and src == "-":
            raise UsageError(f"{STEM} needs a file name; a document on stdin has none")
        try:
            patient_id = patient_id_for(a.patient_id, Path(src))
        except ConversionError as exc:
            raise UsageError(str(exc)) from None
    else:
        raise UsageError("--patient-id (or --patient-id-from document) is required for one document")
    if src != "-" and not os.path.isfile(src):
        raise UsageError(f"{src}: no such file")
    to_stdout = a.output in (None, "-")
    if not to_stdout:
        _check_file_target(a.output, "-o")
    if a.report:
        _check_file_target(a.report, "--report")
    data = sys.stdin.buffer.read() if src == "-" else Path(src)
    try:
        bundle, report = convert_with_report(data, patient_id, timeout=a.timeout or None, **_options(a))
    except ConversionError as exc:
        print(error_line(src, str(exc)), file=sys.stderr)
        if a.report:
            line = bulk.Outcome(src, None if patient_id is FROM_DOCUMENT else patient_id, type(exc).__name__,
                                str(exc)).report_line()
            Path(a.report).write_bytes(line)
        return FAILED
    out = orjson.dumps(bundle, option=orjson.OPT_INDENT_2 if a.pretty else 0) + b"\n"
    if to_stdout:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    else:
        Path(a.output).write_bytes(out)
    if a.report:
        patient = bundle["entry"][0]["resource"]["id"]
        line = bulk.Outcome(src, patient, output=None if to_stdout else a.output, resources=len(bundle["entry"]),
                            unmapped=len(report.unmapped()), report=report.as_dict()).report_line()
        Path(a.report).write_bytes(line)
    print(one_line(f"ccda2fhir: {src}: {report.summary()}"), file=sys.stderr)
    return 0


# ---- many documents -----------------------------------------------------------------------------

def _sink(a, to_stdout: bool):
    if a.pretty and (to_stdout or a.format == "ndjson"):
        raise UsageError("--pretty cannot be used with " + ("-o - (one JSON per line)" if to_stdout else
                                                           "--format ndjson (one resource per line)"))
    if to_stdout:
        return bulk.NdjsonLines() if a.format == "ndjson" else bulk.BundleLines()
    out = Path(a.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out} is a file; many documents need a folder")
    root = _root(a) if a.format == "bundle" else None
    try:
        if a.format == "ndjson":
            return bulk.NdjsonFiles(out, overwrite=a.overwrite)
        out.mkdir(parents=True, exist_ok=True)
        return bulk.BundleFiles(out, root, pretty=a.pretty)
    except bulk.NdjsonExists as exc:
        raise UsageError(f"-o {exc}") from None
    except OSError as exc:
        raise UsageError(f"-o {out}: {exc.strerror or exc}") from None


def _root(a) -> Path:
    if a.root is None:
        return bulk.common_root(a.inputs)
    if not os.path.isdir(a.root):
        raise UsageError(f"--root {a.root}: no such folder")
    root = Path(os.path.abspath(a.root))
    for item in a.inputs:
        try:
            bulk.bundle_name(Path("."), root, Path(item) / "x" if os.path.isdir(item) else Path(item))
        except bulk.OutsideRoot:
            raise UsageError(f"{item} is outside --root {a.root}") from None
    return root


def _convert_many(a) -> int:
    if not a.output:
        raise UsageError("-o/--output FOLDER (or - for stdout) is required for more than one document "
                         "and for --format ndjson")
    for item in a.inputs:
        if not os.path.exists(item):
            raise UsageError(f"{item}: no such file or folder")
    if a.from_list not in (None, "-") and not os.path.isfile(a.from_list):
        raise UsageError(f"--from-list {a.from_list}: no such file")
    if a.report:
        _check_file_target(a.report, "--report")
    patient_id = FROM_DOCUMENT if a.patient_id_from else (a.patient_id or STEM)
    to_stdout = a.output == "-"
    sink = _sink(a, to_stdout)
    documents = bulk.iter_documents(a.inputs, a.from_list)
    try:
        job = bulk.BulkConversion(documents, sink, patient_id=patient_id, jobs=a.jobs, timeout=a.timeout or None,
                                  report=a.report, **_options(a))
    except ConversionError as exc:   # the --patient-id template itself
        raise UsageError(str(exc)) from None
    progress = Progress(a.inputs, a.from_list)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)   # SIGTERM stops as Ctrl-C does
    code = 0
    try:
        job.run(progress.update)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except bulk.OutputError as exc:
        progress.write(one_line(f"ccda2fhir: error: {exc}"))
        code = FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.close()
    summary = job.summary
    if summary.documents == 0 and code == 0:
        print("ccda2fhir: error: no C-CDA files (.xml, .ccda, .cda) found", file=sys.stderr)
        return FAILED
    for line in summary.lines(None if to_stdout else a.output):
        print(f"ccda2fhir: {line}", file=sys.stderr)
    return code or (FAILED if summary.failed else 0)
