"""The batch Bundle: one PUT entry per resource, in the order they were made."""
from __future__ import annotations

import re
from typing import Iterable

from .ids import resource_id

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def full_url(resource_type: str, rid: str) -> str:
    """The entry's fullUrl: ``urn:uuid:<id>`` when the id is a UUID (all of ours); an id that is not
    one (the Patient's, the caller's) gets ``urn:uuid:`` with the UUIDv3 of '<Type>|<id>', since
    urn:uuid: must carry a real UUID and FHIR lets a urn:uuid fullUrl differ from Resource.id."""
    if _UUID.fullmatch(rid):
        return f"urn:uuid:{rid}"
    return f"urn:uuid:{resource_id(resource_type, rid)}"


def batch_bundle(resources: Iterable[dict]) -> dict:
    """A FHIR batch Bundle whose entries PUT each resource at <Type>/<id>; the Patient first."""
    entries = []
    ordered = sorted(resources, key=lambda r: r["resourceType"] != "Patient")  # stable
    for r in ordered:
        rt, rid = r["resourceType"], r["id"]
        entries.append({"fullUrl": full_url(rt, rid), "resource": r,
                        "request": {"method": "PUT", "url": f"{rt}/{rid}"}})
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}
