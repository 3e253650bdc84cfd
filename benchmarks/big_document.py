"""A large document for the linear-cost benchmarks: a CCD whose section entries are repeated N times.

Every section's entries are copied N-1 times, the copies placed after the originals (before any
subsection). In each copy every clinical statement's own <id> gets '-cK' appended to its extension
(or extension 'cK' when it has none), so copy K is a different statement; the people,
organizations and places the statements name keep their ids, as in a real long record.

    from big_document import big_document, big_ccd   # benchmarks/ is on sys.path for its scripts and pytest
    data = big_document(source_bytes, times=40)   # bytes in, bytes out
    data = big_ccd(40)                            # the HL7 CCD (bundled sample without ../shared)

    python benchmarks/big_document.py [SOURCE] [--times 40] -o big.xml
"""
from __future__ import annotations

import argparse
import copy
import sys
from functools import lru_cache
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
HL7_CCD = ROOT.parent / "shared" / "corpus" / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml"
SAMPLE = ROOT / "tests" / "fixtures" / "hl7-c-cda-examples" / "CCD.xml"
V3 = "{urn:hl7-org:v3}"
STATEMENTS = {V3 + n for n in ("act", "encounter", "observation", "observationMedia", "organizer",
                                "procedure", "regionOfInterest", "substanceAdministration", "supply")}


def _make_ids_unique(entry: etree._Element, k: int) -> None:
    for ident in entry.iter(V3 + "id"):
        parent = ident.getparent()
        if parent is None or parent.tag not in STATEMENTS or ident.get("root") is None:
            continue
        ext = ident.get("extension")
        ident.set("extension", f"{ext}-c{k}" if ext else f"c{k}")


def big_document(source: bytes, times: int = 40) -> bytes:
    """``source`` with each section's entries repeated ``times`` times, statement ids made unique."""
    if times < 1:
        raise ValueError("times must be at least 1")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    root = etree.fromstring(source, parser)
    for section in root.iter(V3 + "section"):
        entries = [c for c in section if c.tag == V3 + "entry"]
        if not entries:
            continue
        anchor = entries[-1]
        for k in range(1, times):
            for entry in entries:
                dup = copy.deepcopy(entry)
                _make_ids_unique(dup, k)
                anchor.addnext(dup)
                anchor = dup
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def default_source() -> Path:
    """The HL7 C-CDA R2.1 CCD when ../shared is present, else the bundled HL7 example CCD."""
    return HL7_CCD if HL7_CCD.is_file() else SAMPLE


@lru_cache(maxsize=4)
def big_ccd(times: int = 40) -> bytes:
    """The default source CCD with its entries repeated ``times`` times (about 4.5 MB for 40)."""
    return big_document(default_source().read_bytes(), times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", type=Path, default=None)
    ap.add_argument("--times", type=int, default=40)
    ap.add_argument("-o", "--output", type=Path, required=True)
    a = ap.parse_args(argv)
    data = big_document((a.source or default_source()).read_bytes(), a.times)
    a.output.write_bytes(data)
    print(f"{a.output}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
