"""Derives ccda2fhir/data/fhir/ from the official definitions (a maintainer's tool, not run at check time).

    python -m ccda2fhir.validate.generate [--fhir ../shared/fhir]

Reads the FHIR R4 4.0.1 StructureDefinitions and value sets (``r4/*.json.gz``) and the US Core 6.1.0
package (``us-core/hl7.fhir.us.core-6.1.0.tgz``), both CC0, and writes:

- ``r4-model.json``: per resource and complex type, each element's types, maximum, reference
  targets and required binding, and the error-severity invariants defined on it;
- ``us-core-6.1.0.json``: per US Core profile, what its snapshot requires beyond R4
  (cardinalities, fixed values and patterns, slices, type narrowing, required bindings) and
  its invariants, both as FHIRPath and translated to the rule trees ccda2fhir.conform runs;
- ``valuesets.json``: the codes of every required binding above that the definitions enumerate;
- ``reference-targets.json``: per resource type, the types each Reference element may point at.

Needs fhirpathpy (the ``[check]`` extra) for its FHIRPath parser.
"""
from __future__ import annotations

import argparse
import gzip
import json
import tarfile
from pathlib import Path

from .translate import translate
from .valuesets import value_sets

OUT = Path(__file__).resolve().parents[1] / "data" / "fhir"
R4_BASE = "http://hl7.org/fhir/StructureDefinition/"
SYSTEM_TYPES = {"http://hl7.org/fhirpath/System.String": "string",
                "http://hl7.org/fhirpath/System.Boolean": "boolean",
                "http://hl7.org/fhirpath/System.Integer": "integer",
                "http://hl7.org/fhirpath/System.Decimal": "decimal",
                "http://hl7.org/fhirpath/System.Date": "date",
                "http://hl7.org/fhirpath/System.DateTime": "dateTime",
                "http://hl7.org/fhirpath/System.Time": "time"}
# Type profiles R4 uses on element types, which narrow the type (SimpleQuantity: no comparator).
TYPE_PROFILES = {R4_BASE + "SimpleQuantity": "SimpleQuantity",
                 R4_BASE + "MoneyQuantity": "MoneyQuantity"}


def _type_name(t: dict) -> str:
    code = SYSTEM_TYPES.get(t["code"], t["code"])
    for p in t.get("profile", ()):
        if p in TYPE_PROFILES:
            return TYPE_PROFILES[p]
    return code


def _targets(t: dict) -> list[str]:
    """Resource types a Reference (or canonical) may point at; ["Resource"] for any."""
    return [p.rsplit("/", 1)[1] for p in t.get("targetProfile", ())]


def corrected(key: str, expression: str) -> str:
    """The expression to use for an invariant: data/fhir/corrections.json's where the published
    one is known to be wrong (vs-1)."""
    fix = json.loads((OUT / "corrections.json").read_text()).get(key)
    return fix["expression"] if isinstance(fix, dict) else expression


def _own(constraint: dict, sd: dict) -> bool:
    """Defined by this StructureDefinition, not inherited (ele-1 from Element, dom-* ...)."""
    src = constraint.get("source")
    return constraint["severity"] == "error" and (not src or src == sd["url"])


# ------------------------------------------------------------------------------------------- R4
def _r4_type(sd: dict) -> dict:
    elements, constraints = {}, {}
    for el in sd["snapshot"]["element"]:
        path = el["path"]
        info: dict = {}
        if el.get("contentReference"):
            info["ref"] = el["contentReference"].lstrip("#")
        types = [_type_name(t) for t in el.get("type", ())]
        if types:
            info["t"] = types
        targets = sorted({x for t in el.get("type", ()) if t["code"] == "Reference" for x in _targets(t)})
        if targets:
            info["targets"] = targets
        if el.get("max") not in (None, "1") and "." in path:
            info["max"] = el["max"]
        b = el.get("binding") or {}
        if b.get("strength") == "required" and b.get("valueSet") and \
                set(types) & {"CodeableConcept", "Coding", "CodeableReference"}:
            info["vs"] = b["valueSet"].split("|")[0]
        if "." in path:
            elements[path] = info
        own = [[c["key"], c["human"], corrected(c["key"], c["expression"])]
               for c in el.get("constraint", ()) if _own(c, sd)]
        if own:
            constraints[path] = own
    out = {"kind": sd["kind"], "base": (sd.get("baseDefinition") or "").rsplit("/", 1)[-1] or None,
           "root": sd["snapshot"]["element"][0]["path"], "elements": elements}
    if constraints:
        out["constraints"] = constraints
    return out


def r4_model(fhir: Path) -> dict:
    types, primitives = {}, []
    for name in ("profiles-types.json.gz", "profiles-resources.json.gz"):
        bundle = json.load(gzip.open(fhir / "r4" / name))
        for e in bundle["entry"]:
            sd = e["resource"]
            if sd["resourceType"] != "StructureDefinition" or sd.get("kind") == "logical":
                continue
            if sd["kind"] == "primitive-type":
                primitives.append(sd["id"])
                continue
            types[sd["id"]] = _r4_type(sd)
    return {"_comment": "FHIR R4 4.0.1 (HL7, CC0): element types, maxima, reference targets, required "
                        "bindings and error-severity invariants per resource and complex type. "
                        "Generated by ccda2fhir/validate/generate.py; do not edit.",
            "primitives": sorted(primitives), "types": types}


def reference_targets(model: dict) -> dict:
    """Per resource type, each Reference element's JSON path (through backbone elements; a choice
    as its ``...Reference`` variant) -> the resource types it may point at, where R4 restricts them."""
    out = {}
    for name, t in sorted(model["types"].items()):
        if t["kind"] != "resource":
            continue
        paths = {}
        for path, info in t["elements"].items():
            targets = info.get("targets")
            if not targets or "Resource" in targets or "Reference" not in info.get("t", ()):
                continue
            steps = path.split(".")[1:]
            if steps[-1].endswith("[x]"):
                steps[-1] = steps[-1][:-3] + "Reference"
            paths[".".join(steps)] = targets
        if paths:
            out[name] = paths
    return {"_comment": "FHIR R4 4.0.1 (HL7, CC0): the resource types each Reference element of each "
                        "resource may point at (type.targetProfile). Generated by "
                        "ccda2fhir/validate/generate.py; read by ccda2fhir.conform.references.",
            **out}


# -------------------------------------------------------------------------------------- US Core
def _value_of(el: dict, prefix: str):
    for k, v in el.items():
        if k.startswith(prefix):
            return v
    return None


def _profile(sd: dict, base: dict, model: dict) -> dict:
    """What one US Core profile requires, element by element (by element id), beyond its base."""
    base_els = {el["path"]: el for el in base["snapshot"]["element"]}
    bases = _r4_definitions.cache
    checks, invariants, slicing = [], [], {}
    for el in sd["snapshot"]["element"]:
        eid, path = el["id"], el["path"]
        b = base_els.get(path) or _datatype_element(path, base_els, bases) or {}
        check: dict = {"id": eid}
        from_base = True
        if el.get("min", 0) > 0:
            check["min"] = el["min"]
            from_base &= el["min"] <= b.get("min", 0) and ":" not in eid
        if el.get("max") not in (None, "*") and el.get("max") != b.get("max") and "." in path:
            check["max"] = int(el["max"])
            from_base = False
        for prefix in ("fixed", "pattern"):
            v = _value_of(el, prefix)
            if v is not None:
                check[prefix] = v
                from_base = False
        types = [_type_name(t) for t in el.get("type", ())]
        base_types = [_type_name(t) for t in b.get("type", ())]
        if path.endswith("[x]") and ":" not in eid.rsplit(".", 1)[-1] and types and \
                sorted(types) != sorted(base_types):
            check["types"] = types
            from_base = False
        targets = sorted({_profile_type(p, model) for t in el.get("type", ()) if t["code"] == "Reference"
                          for p in t.get("targetProfile", ())})
        base_targets = sorted({x for t in b.get("type", ()) if t["code"] == "Reference" for x in _targets(t)})
        if targets and targets != base_targets:
            # US Core names its own profiles as targets; the check is on the type they profile
            check["targets"] = targets
            from_base &= set(targets) >= set(base_targets)
        ext_profiles = [p for t in el.get("type", ()) if t["code"] == "Extension" for p in t.get("profile", ())]
        if ext_profiles and ":" in eid:
            check["extension"] = ext_profiles[0]
            from_base = False
        bind = el.get("binding") or {}
        if bind.get("strength") == "required" and bind.get("valueSet"):
            check["vs"] = bind["valueSet"].split("|")[0]
            base_bind = b.get("binding") or {}
            from_base &= base_bind.get("strength") == "required" and \
                base_bind.get("valueSet", "").split("|")[0] == check["vs"]
        if el.get("slicing"):
            slicing[eid] = [[d["type"], d["path"]] for d in el["slicing"]["discriminator"]]
        for c in el.get("constraint", ()):
            src = c.get("source", "")
            if c["severity"] != "error" or (src.startswith(R4_BASE) and src.rsplit("/", 1)[1] in model["types"]):
                continue  # R4's own invariants: every resource meets those anyway
            expression = corrected(c["key"], c["expression"])
            invariants.append({"key": c["key"], "human": c["human"], "id": eid,
                               "expression": expression, "rule": translate(expression)})
        if len(check) > 1 or ":" in eid:
            if from_base:
                check["base"] = True
            checks.append(check)
    by_id = {el["id"]: el for el in sd["snapshot"]["element"]}
    for check in checks:
        last = check["id"].rsplit(".", 1)[-1]
        if ":" in last and not last.split(":")[0].endswith("[x]"):
            check["member"] = _membership(check["id"], slicing, by_id)
            check.pop("base", None)
    return {"url": sd["url"], "type": sd["type"], "name": sd["name"], "base": sd["baseDefinition"],
            "checks": checks, "invariants": invariants}


def _datatype_element(path: str, base_els: dict, bases: dict) -> dict | None:
    """The R4 definition of an element a profile expands inside datatypes (Provenance.target.
    reference is Reference.reference; Observation.category.coding.code is Coding.code)."""
    head, _, rest = path.rpartition(".")
    steps = [rest]
    while head:
        el = base_els.get(head)
        if el is not None:
            types = [t["code"] for t in el.get("type", ())]
            if len(types) != 1 or types[0] not in bases:
                return None
            dt = {e["path"]: e for e in bases[types[0]]["snapshot"]["element"]}
            inner = ".".join([types[0]] + steps[::-1])
            return dt.get(inner) or _datatype_element(inner, dt, bases)
        head, _, step = head.rpartition(".")
        steps.append(step)
    return None


def _membership(slice_id: str, slicing: dict, by_id: dict) -> list:
    """How an instance is known to belong to a slice: [relative path, "fixed"|"pattern", value]
    for each discriminator of its slicing (value and pattern discriminators; an extension
    slice is known by its url, the profile its type names)."""
    head, _, _ = slice_id.rpartition(":")
    out = []
    for kind, path in slicing.get(head, ()):
        if kind not in ("value", "pattern"):
            raise ValueError(f"{slice_id}: {kind} discriminators are not supported")
        el = by_id.get(slice_id if path == "$this" else f"{slice_id}.{path}")
        if path == "url" and (el is None or _value_of(el, "fixed") is None):
            profiles = [p for t in by_id[slice_id].get("type", ()) for p in t.get("profile", ())]
            out.append(["url", "fixed", profiles[0]])
            continue
        if el is None:
            raise ValueError(f"{slice_id}: no element defines its discriminator {path}")
        rel = "" if path == "$this" else path
        for prefix in ("fixed", "pattern"):
            v = _value_of(el, prefix)
            if v is not None:
                out.append([rel, prefix, v])
        bind = el.get("binding") or {}
        if not out and bind.get("strength") == "required":
            # sliced by value set: a member has a code from it
            out.append([rel, "vs", bind["valueSet"].split("|")[0]])
    if not out:
        raise ValueError(f"{slice_id}: no discriminator value")
    return out


def _profile_type(url: str, model: dict) -> str:
    """The resource type a target profile constrains (us-core-patient -> Patient)."""
    if url in PROFILE_TYPES:
        return PROFILE_TYPES[url]
    name = url.rsplit("/", 1)[-1]
    if url.startswith(R4_BASE) and name in model["types"]:
        return name
    raise ValueError(f"target profile {url}: unknown resource type")


# Target profiles US Core names that are neither its own nor an R4 resource (core profiles,
# other IGs): the resource type each constrains, from their definitions.
PROFILE_TYPES: dict[str, str] = {R4_BASE + "vitalsigns": "Observation",
                                 "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire":
                                     "Questionnaire"}


def us_core(fhir: Path, model: dict) -> tuple[dict, dict]:
    tgz = fhir / "us-core" / "hl7.fhir.us.core-6.1.0.tgz"
    sds, vsets = {}, {}
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            name = m.name.rsplit("/", 1)[-1]
            if m.name.count("/") != 1 or not name.endswith(".json"):
                continue
            if name.startswith("StructureDefinition-"):
                sd = json.load(tar.extractfile(m))
                sds[sd["url"]] = sd
            elif name.startswith(("ValueSet-", "CodeSystem-")):
                r = json.load(tar.extractfile(m))
                vsets[r["url"]] = r
    for sd in sds.values():
        PROFILE_TYPES[sd["url"]] = sd["type"]
    bases = _r4_definitions(fhir)
    profiles = {}
    for url, sd in sorted(sds.items()):
        if sd.get("kind") not in ("resource", "complex-type") or "snapshot" not in sd:
            continue
        if sd["type"] == "Extension" or sd["kind"] == "resource":
            base = bases.get(sd["type"])
            if base is None:
                continue
            profiles[url] = _profile(sd, base, model)
    return profiles, vsets


def _r4_definitions(fhir: Path) -> dict:
    if _r4_definitions.cache:
        return _r4_definitions.cache
    out = _r4_definitions.cache
    for name in ("profiles-types.json.gz", "profiles-resources.json.gz"):
        for e in json.load(gzip.open(fhir / "r4" / name))["entry"]:
            sd = e["resource"]
            if sd["resourceType"] == "StructureDefinition":
                out[sd["id"]] = sd
    return out


_r4_definitions.cache = {}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fhir", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "fhir")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    model = r4_model(args.fhir)
    profiles, us_vsets = us_core(args.fhir, model)
    needed = {info["vs"] for t in model["types"].values() for info in t["elements"].values() if "vs" in info}
    needed |= {c["vs"] for p in profiles.values() for c in p["checks"] if "vs" in c}
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "r4-model.json", model)
    _write(args.out / "reference-targets.json", reference_targets(model))
    _write(args.out / "us-core-6.1.0.json",
           {"_comment": "US Core 6.1.0 (HL7, CC0-1.0) profiles: per profile, the checks its snapshot "
                        "makes (by element id; `base` marks those R4 itself already makes) and its "
                        "invariants. Generated by ccda2fhir/validate/generate.py; do not edit.",
            "profiles": profiles})
    _write(args.out / "valuesets.json", value_sets(args.fhir, needed, us_vsets))


def _write(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=0, sort_keys=False, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
