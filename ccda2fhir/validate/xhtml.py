"""R4's narrative rules (txt-1, txt-2: FHIRPath ``htmlChecks()``) checked with lxml."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from lxml import etree


@lru_cache(maxsize=1)
def _rules() -> tuple[str, frozenset, dict]:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("fhir", "xhtml.json").read_text())
    attrs = {k: frozenset(v) | frozenset(data["attributes"]["*"]) for k, v in data["attributes"].items()}
    return data["namespace"], frozenset(data["elements"]), attrs


def html_problems(div: str) -> list[str]:
    """What makes a Narrative.div break txt-1 / txt-2 (empty when it keeps both)."""
    ns, elements, attrs = _rules()
    try:
        root = etree.fromstring(div.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"txt-1: not well-formed XHTML ({exc})"]
    out = []
    if root.tag != f"{{{ns}}}div":
        out.append(f"txt-1: the root is {root.tag}, not an XHTML div")
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue  # comments, processing instructions
        local = el.tag.split("}")[-1]
        if not el.tag.startswith(f"{{{ns}}}") or local not in elements:
            out.append(f"txt-1: element {el.tag} is not allowed in a narrative")
            continue
        allowed = attrs.get(local, attrs["*"])
        for a in el.attrib:
            if a not in allowed:
                out.append(f"txt-1: attribute {a} is not allowed on {local}")
    if not "".join(root.itertext()).strip() and not any(
            isinstance(e.tag, str) and e.tag.endswith("}img") for e in root.iter()):
        out.append("txt-2: the narrative has no content")
    return out
