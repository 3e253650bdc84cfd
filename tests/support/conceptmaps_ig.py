"""Reads the C-CDA on FHIR IG ConceptMaps into ccda2fhir's compact data form.

Run as a script to regenerate ccda2fhir/data/conceptmaps.json from
../shared/reference/ccda-on-fhir/conceptmaps; tests/test_terminology.py checks
the shipped file still equals what the IG says.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from lxml import etree

FHIR = "{http://hl7.org/fhir}"


def _strip_version(uri: str) -> str:
    return uri.split("|", 1)[0]


def _value(el, name: str):
    child = el.find(f"{FHIR}{name}")
    return child.get("value") if child is not None else None


def read_conceptmap(path: Path) -> tuple[str, dict]:
    """One IG ConceptMap as (short name, {source code: target coding})."""
    name = path.stem.replace("ConceptMap-CF-", "")
    mapping: dict[str, dict] = {}
    if path.suffix == ".json":
        cm = json.loads(path.read_text())
        groups = [(g.get("target", ""), [(e["code"], e.get("target", [])) for e in g.get("element", [])])
                  for g in cm.get("group", [])]
        groups = [(t, [(c, [(x.get("code"), x.get("display"), x.get("equivalence")) for x in ts])
                       for c, ts in els]) for t, els in groups]
    else:
        root = etree.parse(str(path)).getroot()
        groups = []
        for g in root.iter(f"{FHIR}group"):
            tgt = g.find(f"{FHIR}target")
            els = []
            for e in g.findall(f"{FHIR}element"):
                ts = [(_value(t, "code"), _value(t, "display"), _value(t, "equivalence"))
                      for t in e.findall(f"{FHIR}target")]
                if _value(e, "code"):
                    els.append((_value(e, "code"), ts))
            groups.append((tgt.get("value") if tgt is not None else "", els))
    for target_system, els in groups:
        for code, targets in els:
            for tcode, tdisplay, equivalence in targets:
                if not tcode or equivalence in ("unmatched", "disjoint"):
                    continue
                entry = {"system": _strip_version(target_system), "code": tcode}
                if tdisplay:
                    entry["display"] = tdisplay
                mapping.setdefault(code, entry)
                break
    return name, mapping


def read_all(folder: Path) -> dict:
    out = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".xml", ".json") and path.name.startswith("ConceptMap-CF-"):
            name, mapping = read_conceptmap(path)
            out[name] = mapping
    return out


if __name__ == "__main__":
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/ccda-on-fhir/conceptmaps")
    dest = Path(__file__).resolve().parents[2] / "ccda2fhir" / "data" / "conceptmaps.json"
    dest.write_text(json.dumps(read_all(src), indent=1, sort_keys=True) + "\n")
    print(f"wrote {dest}")
