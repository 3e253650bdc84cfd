"""The batch Bundle: one PUT entry per resource, in the order they were made."""
from __future__ import annotations

from typing import Iterable


def batch_bundle(resources: Iterable[dict]) -> dict:
    """A FHIR batch Bundle whose entries PUT each resource at <Type>/<id>; the Patient first."""
    entries = []
    ordered = sorted(resources, key=lambda r: r["resourceType"] != "Patient")  # stable
    for r in ordered:
        rt, rid = r["resourceType"], r["id"]
        entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": r,
                        "request": {"method": "PUT", "url": f"{rt}/{rid}"}})
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}
