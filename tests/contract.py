"""The output contract every Bundle must meet, as one reusable check."""
from __future__ import annotations

import re
import uuid

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def empty_values(obj, path="") -> list[str]:
    if isinstance(obj, dict):
        if not obj:
            return [f"{path or '/'}: empty object"]
        return [m for k, v in obj.items() for m in empty_values(v, f"{path}/{k}")]
    if isinstance(obj, list):
        if not obj:
            return [f"{path}: empty array"]
        return [m for i, v in enumerate(obj) for m in empty_values(v, f"{path}/{i}")]
    if obj is None or (isinstance(obj, str) and not obj.strip()):
        return [f"{path}: empty value"]
    return []


def references(obj):
    if isinstance(obj, dict):
        if isinstance(obj.get("reference"), str):
            yield obj["reference"]
        for v in obj.values():
            yield from references(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from references(v)


def contract_problems(bundle: dict, patient_id: str, validate=None) -> list[str]:
    """Every way ``bundle`` breaks the output contract (empty when it keeps it)."""
    problems = []
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "batch":
        problems.append("not a batch Bundle")
    keys = set()
    full_urls = set()
    patients = 0
    for e in bundle.get("entry", []):
        r = e["resource"]
        rt, rid = r["resourceType"], r["id"]
        full_url = e.get("fullUrl")
        # a valid URI: urn:uuid: with a real UUID, the resource's own id when that is a UUID
        # (the Patient's id is the caller's, usually not a UUID: its fullUrl is another UUID)
        if not (isinstance(full_url, str) and full_url.startswith("urn:uuid:") and UUID_RE.match(full_url[9:])):
            problems.append(f"{rt}/{rid}: fullUrl {full_url} is not urn:uuid: with a UUID")
        elif UUID_RE.match(rid) and full_url != f"urn:uuid:{rid}":
            problems.append(f"{rt}/{rid}: fullUrl {full_url} disagrees with the id")
        if full_url in full_urls:
            problems.append(f"fullUrl {full_url} twice")
        full_urls.add(full_url)
        if e.get("request") != {"method": "PUT", "url": f"{rt}/{rid}"}:
            problems.append(f"{rt}/{rid}: request {e.get('request')}")
        if f"{rt}/{rid}" in keys:
            problems.append(f"{rt}/{rid} twice")
        keys.add(f"{rt}/{rid}")
        if rt == "Patient":
            patients += 1
            if rid != patient_id:
                problems.append(f"Patient id {rid} is not the caller's {patient_id}")
        elif not (UUID_RE.match(rid) and uuid.UUID(rid).version == 3):
            problems.append(f"{rt}/{rid}: id is not a UUIDv3")
        problems += [f"{rt}/{rid}{m}" for m in empty_values(r)]
        if "nullFlavor" in str(r):
            problems.append(f"{rt}/{rid}: nullFlavor leaked")
        if validate is not None:
            problems += validate(r)
    if patients != 1:
        problems.append(f"{patients} Patient resources")
    for ref in references(bundle):
        if ref not in keys:
            problems.append(f"dangling reference {ref}")
    return problems
