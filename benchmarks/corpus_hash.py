"""The whole-corpus output hash: proof that a speed or structure change changed no output.

Every document of ../shared/corpus (every .xml/.ccda/.cda file, in sorted order) is converted for
one patient id; each Bundle (or the error class and message) is serialised with orjson and hashed
in turn, and so is each report's issue list unless --no-report.

    python benchmarks/corpus_hash.py            # prints the hash and the document count
    python benchmarks/corpus_hash.py --per-doc FILE   # also writes one 'path<TAB>hash' line per document

Compare the printed hash before and after a commit; --per-doc files diff to the documents that moved.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_files(corpus: Path = CORPUS) -> list[Path]:
    return [p for p in sorted(corpus.rglob("*"))
            if p.suffix.lower() in (".xml", ".ccda", ".cda") and p.is_file()]


def document_digest(path: Path, patient_id: str, with_report: bool) -> str:
    import ccda2fhir
    h = hashlib.sha256()
    try:
        bundle, report = ccda2fhir.convert(path.read_bytes(), patient_id, report=True)
        h.update(orjson.dumps(bundle))
        if with_report:
            h.update(orjson.dumps([str(i) for i in report.issues]))
    except ccda2fhir.ConversionError as exc:
        h.update(f"{type(exc).__name__}: {exc}".encode())
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--patient-id", default="hash-patient")
    ap.add_argument("--no-report", action="store_true", help="hash the Bundles only")
    ap.add_argument("--per-doc", type=Path, help="write 'path<TAB>digest' per document here")
    a = ap.parse_args(argv)
    if not a.corpus.is_dir():
        print(f"no corpus at {a.corpus}", file=sys.stderr)
        return 2
    total = hashlib.sha256()
    lines = []
    files = corpus_files(a.corpus)
    for p in files:
        d = document_digest(p, a.patient_id, not a.no_report)
        total.update(d.encode())
        lines.append(f"{p.relative_to(a.corpus)}\t{d}")
    if a.per_doc:
        a.per_doc.write_text("\n".join(lines) + "\n")
    print(f"{total.hexdigest()}  {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
