"""The CDA shape the walker needs: which elements repeat, which are clinical statements."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

SDTC_NS = "urn:hl7-org:sdtc"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# Attribute and element names from these namespaces keep a prefix, so that
# sdtc:raceCode and raceCode never collide in the plain data.
NS_PREFIX = {SDTC_NS: "sdtc_", XSI_NS: "xsi_"}


@lru_cache(maxsize=1)
def load() -> tuple[frozenset, dict, frozenset]:
    """(repeating everywhere, repeating by parent, statement element names)."""
    data = json.loads(resources.files("ccda2fhir.data").joinpath("cda_shape.json").read_text())
    by_parent = {k: frozenset(v) for k, v in data["by_parent"].items()}
    return frozenset(data["everywhere"]), by_parent, frozenset(data["statements"])
