"""What a profile's snapshot requires of a resource, checked over plain dicts.

A profile is a list of checks by element id (``Observation.category:VSCat.coding``): minimum and
maximum counts, fixed values and patterns, the types a choice element may take, reference
targets, required value sets and extension profiles, each on every instance of its parent.
Slices are the instances their discriminator values select.
"""
from __future__ import annotations

from typing import Callable


# a choice's JSON name carries the base type of a profiled type (rateQuantity for SimpleQuantity)
KEY_TYPE = {"SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity"}


class Profile:
    """One profile's checks, compiled once per process from data/fhir/us-core-6.1.0.json."""

    def __init__(self, data: dict, valuesets: dict) -> None:
        self.url, self.type, self.name = data["url"], data["type"], data["name"]
        self.base = data["base"]
        self.valuesets = valuesets
        # (segments, check, the top-level element a nested check lives under); the root itself
        # is no check (its invariants are)
        self.checks = [(segs, c, _top(segs)) for segs, c in
                       ((tuple(_segments(c["id"])), c) for c in data["checks"]) if segs]
        self.runtime = [x for x in self.checks if not x[1].get("base")]
        self.members = {tuple(_segments(c["id"])): c["member"] for c in data["checks"] if "member" in c}
        self.invariants = [(tuple(_segments(i["id"])), i) for i in data["invariants"]]


def _top(segs: tuple) -> str | None:
    """For a check below the top level, the JSON key prefix its top-level element starts with
    (a check can only fail where that element is present); None for a top-level check."""
    if len(segs) < 2:
        return None
    name = segs[0][0]
    return name[:-3] if name.endswith("[x]") else name


def present(root: dict, top: str | None) -> bool:
    """Whether the top-level element ``top`` (a key or a choice stem) has any value in ``root``."""
    if top is None or top in root:
        return True
    n = len(top)
    return any(k.startswith(top) and len(k) > n and k[n].isupper() for k in root) \
        or any(k[1:].startswith(top) for k in root if k[:1] == "_")


def _segments(element_id: str) -> list[tuple[str, str | None]]:
    """``Observation.value[x]:valueQuantity.code`` -> [(value[x], valueQuantity), (code, None)];
    the leading resource (or type) name is dropped."""
    out = []
    for part in element_id.split(".")[1:]:
        name, _, slice_name = part.partition(":")
        out.append((name, slice_name or None))
    return out


def problems(profile: Profile, root: dict, *, base: bool = True, profiles=None,
             resolve: Callable | None = None) -> list[str]:
    """Every way ``root`` falls short of the profile's structure (empty when it conforms).

    ``base=False`` skips what R4 itself requires (checks marked ``base``); ``profiles`` looks
    up extension profiles by url.
    """
    cache: dict = {(): [root]}
    out = []
    keys = set(root)
    tops: dict = {}          # top-level element -> present in root (many checks share one)
    for segs, check, top in profile.checks if base else profile.runtime:
        if top is not None and top not in keys:
            here = tops.get(top)
            if here is None:
                here = tops[top] = present(root, top)
            if not here:
                continue
        parents = instances(profile, root, segs[:-1], cache)
        name, slice_name = segs[-1]
        for parent in parents:
            kids = _children(profile, parent, segs, name, slice_name)
            out += _check(profile, check, kids, profiles, resolve)
    return out


def instances(profile: Profile, root: dict, segs: tuple, cache: dict) -> list:
    """Every instance of the element ``segs`` names in ``root`` (slices filtered)."""
    if segs in cache:
        return cache[segs]
    found = []
    for parent in instances(profile, root, segs[:-1], cache):
        found += [v for _, v in _children(profile, parent, segs, *segs[-1])]
    cache[segs] = found
    return found


def typed_instances(profile: Profile, root: dict, segs: tuple, cache: dict) -> list[tuple]:
    """Like ``instances``, as ``(value, type)`` items: a choice element's type is its JSON key's
    suffix (effectiveDateTime -> DateTime), a resource's its resourceType."""
    if not segs:
        return [(root, root.get("resourceType"))]
    name, slice_name = segs[-1]
    stem = name[:-3] if name.endswith("[x]") else None
    out = []
    for parent in instances(profile, root, segs[:-1], cache):
        for key, value in _children(profile, parent, segs, name, slice_name):
            out.append((value, key[len(stem):] if stem is not None else None))
    return out


def _children(profile: Profile, parent, segs: tuple, name: str, slice_name: str | None) -> list:
    """(JSON key, value) of each child of ``parent`` for element ``name`` (a slice: its members)."""
    if not isinstance(parent, dict):
        return []
    if name.endswith("[x]"):
        stem = name[:-3]
        if slice_name:  # a type slice: value[x]:valueQuantity
            return [(slice_name, parent[slice_name])] if slice_name in parent else []
        n = len(stem)
        found = [(k, v) for k, v in parent.items() if k.startswith(stem) and len(k) > n and k[n].isupper()]
        # or present only as its primitive's extension (_effectiveDateTime: data-absent)
        return found or [(k[1:], v) for k, v in parent.items()
                         if k.startswith(f"_{stem}") and len(k) > n + 1 and k[n + 1].isupper()]
    if name in parent:
        v = parent[name]
        kids = [(name, x) for x in v] if isinstance(v, list) else [(name, v)]
    elif f"_{name}" in parent:  # a primitive present only as its extension (data-absent)
        v = parent[f"_{name}"]
        kids = [(f"_{name}", x) for x in v] if isinstance(v, list) else [(f"_{name}", v)]
    else:
        return []
    if slice_name:
        member = profile.members.get(segs)
        kids = [(k, v) for k, v in kids if member is not None and is_member(v, member, profile.valuesets)]
    return kids


def is_member(value, member: list, valuesets: dict) -> bool:
    """Whether an instance carries its slice's discriminator values."""
    for path, mode, want in member:
        for g in navigate(value, path):
            if mode == "fixed":
                if g == want:
                    break
            elif mode == "pattern":
                if matches(g, want):
                    break
            elif in_valueset(g, valuesets.get(want)) is not False:
                break
        else:
            return False
    return True


def navigate(value, path: str) -> list:
    """The values at a dotted path below ``value`` (lists flattened); "" is the value itself."""
    items = [value]
    for step in path.split(".") if path else ():
        nxt = []
        for item in items:
            if isinstance(item, dict) and step in item:
                v = item[step]
                nxt += v if isinstance(v, list) else [v]
        items = nxt
    return items


def matches(value, pattern) -> bool:
    """FHIR pattern matching: every element the pattern has, the value has (lists: each pattern
    item matches some value item)."""
    # loops, not all()/any() over generators: this runs for every slice of every resource
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for k, p in pattern.items():
            if k not in value or not matches(value[k], p):
                return False
        return True
    if isinstance(pattern, list):
        values = value if isinstance(value, list) else [value]
        for p in pattern:
            for v in values:
                if matches(v, p):
                    break
            else:
                return False
        return True
    return value == pattern


def in_valueset(value, codes: dict | None):
    """True/False whether a code, Coding or CodeableConcept is in the value set; None when the
    value set is not enumerated here (not checked) or the value holds no code."""
    if codes is None:
        return None
    if isinstance(value, str):
        return any(value in c for c in codes.values())
    if not isinstance(value, dict):
        return None
    codings = value.get("coding") if "coding" in value else [value] if "code" in value else []
    if not codings:
        return None
    return any(c.get("code") in codes.get(c.get("system"), ()) for c in codings if isinstance(c, dict))


def _check(profile: Profile, check: dict, kids: list, profiles, resolve) -> list[str]:
    eid = check["id"]
    out = []
    if "min" in check and len(kids) < check["min"]:
        what = "required" if check["min"] == 1 else f"at least {check['min']} required"
        out.append(f"{eid}: {what}, {'missing' if not kids else f'{len(kids)} present'}")
    if "max" in check and len(kids) > check["max"]:
        out.append(f"{eid}: at most {check['max']} allowed, {len(kids)} present")
    if "fixed" in check:
        out += [f"{eid}: must be {check['fixed']!r}" for _, v in kids if v != check["fixed"]][:1]
    if "pattern" in check:
        out += [f"{eid}: must match {check['pattern']!r}" for _, v in kids
                if not matches(v, check["pattern"])][:1]
    if "types" in check:
        stem = eid.rsplit(".", 1)[-1][:-3]
        allowed = {KEY_TYPE.get(t, t[0].upper() + t[1:]) for t in check["types"]}
        out += [f"{eid}: {k} is not one of its types {', '.join(check['types'])}" for k, _ in kids
                if k[len(stem):] not in allowed]
    if "targets" in check and "Resource" not in check["targets"]:
        for _, v in kids:
            t = _target_type(v, resolve)
            if t is not None and t not in check["targets"]:
                out.append(f"{eid}: points at a {t}, allowed {', '.join(check['targets'])}")
    if "vs" in check and not check.get("member"):
        codes = profile.valuesets.get(check["vs"])
        for _, v in kids:
            if in_valueset(v, codes) is False:
                out.append(f"{eid}: {_codes(v)} not in the required value set {check['vs']}")
    if "extension" in check and profiles is not None:
        ext = profiles(check["extension"])
        if ext is not None:
            for _, v in kids:
                out += [f"{eid}: {p}" for p in problems(ext, v, profiles=profiles, resolve=resolve)]
    return out


def _target_type(ref, resolve) -> str | None:
    r = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(r, str):
        return None
    if resolve is not None:
        found = resolve(r)
        if found is not None:
            return found.get("resourceType")
    parts = r.split("/")
    return parts[-2] if len(parts) >= 2 and not r.startswith(("urn:", "#")) else None


def _codes(value) -> str:
    if isinstance(value, dict):
        codings = value.get("coding") or [value]
        return ", ".join(f"{c.get('system', '')}|{c.get('code', '')}" for c in codings if isinstance(c, dict))
    return repr(value)
