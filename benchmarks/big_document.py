"""A ~5 MB C-CDA document for the size benchmarks: the HL7 CCD's section entries repeated.

``big_document(times=40)`` copies every section's entries ``times`` times over (the narrative
stays as is) and makes each copy's ids unique, so the copies are different statements, as they
would be in a long record, and not one statement said forty times. Input: the HL7 C-CDA R2.1 CCD
from ../shared when present, else the HL7 example CCD of tests/fixtures.

    python benchmarks/big_document.py [TIMES] > big.xml
"""
from __future__ import annotations

import sys

from lxml import etree

from inputs import ccd_path

V3 = "urn:hl7-org:v3"


def big_document(times: int = 40) -> bytes:
    """The CCD with each section's entries present ``times`` times, ids made unique per copy."""
    root = etree.fromstring(ccd_path().read_bytes())
    for section in root.iter(f"{{{V3}}}section"):
        entries = section.findall(f"{{{V3}}}entry")
        if not entries:
            continue
        anchor = entries[-1]
        for copy in range(1, times):
            for entry in entries:
                clone = _unique(etree.fromstring(etree.tostring(entry)), copy)
                anchor.addnext(clone)
                anchor = clone
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _unique(entry, copy: int):
    for ident in entry.iter(f"{{{V3}}}id"):
        ext = ident.get("extension")
        if ext is not None:
            ident.set("extension", f"{ext}-copy{copy}")
        elif ident.get("root"):
            ident.set("extension", f"copy{copy}")
    return entry


if __name__ == "__main__":
    sys.stdout.buffer.write(big_document(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
