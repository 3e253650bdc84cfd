"""Regenerate the golden Bundles in tests/golden/ from the corpus documents they stand for.

    PYTHONPATH=. python tests/support/regen_golden.py            # all
    PYTHONPATH=. python tests/support/regen_golden.py --check    # exit 1 if any would change

The source documents stay in ../shared/corpus (no licence to copy them); the golden JSON is our
own output. Regenerate after a deliberate mapping change, review the diff, commit it with the change.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
CORPUS = TESTS.parents[1] / "shared" / "corpus"
GOLDEN = TESTS / "golden"
PATIENT_ID = "golden-patient"

# golden file -> corpus document
DOCUMENTS = {
    "hl7-ccda-2.1-ccd.json": CORPUS / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml",
}


def render(source: Path) -> bytes:
    import ccda2fhir
    bundle = ccda2fhir.convert(source.read_bytes(), PATIENT_ID)
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report which golden files would change")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"{CORPUS} is not present: nothing to regenerate", file=sys.stderr)
        return 2
    changed = 0
    for name, source in DOCUMENTS.items():
        out = GOLDEN / name
        new = render(source)
        old = out.read_bytes() if out.exists() else b""
        if new != old:
            changed += 1
            print(f"{'would change' if args.check else 'wrote'} {out.relative_to(TESTS.parent)}")
            if not args.check:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(new)
        else:
            print(f"unchanged {out.relative_to(TESTS.parent)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
