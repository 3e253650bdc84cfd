"""`ccda2fhir check-templates PATH [--corpus DIR]`: the command over ccda2fhir.templates_check."""
from __future__ import annotations

import argparse
import sys

from ..errors import one_line
from ..templates_check import check_templates

USAGE, PROBLEMS = 2, 1


def add_arguments(c: argparse.ArgumentParser) -> None:
    """The check-templates subcommand's arguments."""
    c.add_argument("path", metavar="PATH",
                   help="the templates overlay folder (resource/*.json.j2, document/*.json.j2, amend/*.json.j2, "
                        "routes/*.toml); "
                        "the installed package's own folder checks the built-in templates")
    c.add_argument("--corpus", metavar="DIR",
                   help="C-CDA documents (a folder, walked for .xml, .ccda and .cda; or one file) to render the "
                        "templates against (default: the sample documents bundled with the package)")
    c.add_argument("--code-systems", metavar="FILE",
                   help="a terminology overlay to convert with, as convert --code-systems (default: none)")
    c.add_argument("--quiet", action="store_true", help="print problems only, not notes (default: off)")


def run(a: argparse.Namespace) -> int:
    """0 when nothing is wrong, 1 for any problem, 2 for a usage error."""
    try:
        result = check_templates(a.path, corpus=a.corpus, code_systems=a.code_systems)
    except RuntimeError as exc:      # the [check] extra is missing
        print(one_line(f"ccda2fhir: error: {exc}"), file=sys.stderr)
        return USAGE
    for finding in result.findings:
        if finding.problem or not a.quiet:
            print(one_line(str(finding)))
    print(one_line(f"ccda2fhir check-templates {a.path}: {result.summary()}"), file=sys.stderr)
    return 0 if result.ok else PROBLEMS
