"""The command line: `ccda2fhir convert ...` (one file or millions), `ccda2fhir serve` and
`ccda2fhir check-templates PATH`.

Each subcommand lives in its own module (convert_cli.py for convert, check_cli.py for
check-templates); this one holds what they
share: one-line usage errors (exit 2), help texts that show every default, and --version.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import one_line
from ..version import __version__
from ..walk import compiled
from . import check_cli, convert_cli
from . import command as serve_command


class _Formatter(argparse.HelpFormatter):
    """Help that names every option's default, whether or not its text does."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)".strip()


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit 2), as every CLI error is."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        if kwargs.get("help") is None and kwargs.get("default") not in (None, False):
            kwargs["help"] = "(default: %(default)s)"    # an option without help still shows its default
        return super().add_argument(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, one_line(f"ccda2fhir: error: {message} (see '{self.prog} --help')") + "\n")


def _version() -> str:
    return f"ccda2fhir {__version__} ({'compiled' if compiled else 'pure-Python'} walker)"


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="ccda2fhir", description="Convert HL7 C-CDA documents to FHIR R4 batch Bundles.")
    ap.add_argument("--version", action="version", version=_version())
    sub = ap.add_subparsers(dest="command", required=True, metavar="{convert,serve,check-templates}")
    c = sub.add_parser("convert", help="convert one document (or - for stdin), or many files and folders",
                       description="Convert one C-CDA document to a FHIR R4 batch Bundle (stdout or -o FILE), "
                                   "or many (files, folders, --from-list) into a folder of Bundles or FHIR Bulk "
                                   "Data NDJSON, in parallel worker processes.")
    convert_cli.add_arguments(c)
    serve_command.add_arguments(sub.add_parser("serve", help="serve POST /convert/v1/ccda/to/fhir?patientId=ID "
                                               "(needs the [serve] extra)"))
    check_cli.add_arguments(sub.add_parser(
        "check-templates", help="check a templates overlay: compile, render sample documents, validate the output",
        description="Compile every template and route of a templates overlay folder, render sample documents with "
                    "it and report template errors (template and line), invalid FHIR (schema, invariants), "
                    "references that do not resolve and routes that shadow one another; exit 1 on any problem."))
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ccda2fhir` command."""
    a = _parser().parse_args(argv)
    if a.command == "serve":
        return serve_command.run(a)
    if a.command == "check-templates":
        return check_cli.run(a)
    return convert_cli.run(a)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
