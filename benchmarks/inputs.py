"""Benchmark inputs: the HL7 C-CDA R2.1 CCD when ../shared is present, else the bundled HL7 example CCD."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
HL7_CCD = CORPUS / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml"
SAMPLE = ROOT / "tests" / "fixtures" / "hl7-c-cda-examples" / "CCD.xml"


def ccd_path() -> Path:
    return HL7_CCD if HL7_CCD.is_file() else SAMPLE
