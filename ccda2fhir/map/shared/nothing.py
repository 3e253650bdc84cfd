"""'Nothing to report' statements: an entry that says there is nothing ('no known problems',
'Medication excluded/not available', a statement nullFlavored 'no information').

Such an entry asserts no clinical fact, so it makes no Condition, MedicationStatement, Observation
... that would: it becomes a List with ``emptyReason`` (FHIR's way to say a list is empty, and
why), keeping the entry's ids, codes, words and date. Where the IG's negation mapping already says
'not done / not taken / no known allergy' for a negated entry, that mapping is kept. The codes,
phrases and templates are data: ``data/nothing_to_report.json``.

Reading a statement here has no side effect (no report issue): the dispatcher asks about every
statement before its template renders, and the template reports what it reports as before.
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..datatypes.codes import codeable_concept, codings, original_text
from ..datatypes.dates import earliest, start
from ..datatypes.navigation import children, many, one
from ..datatypes.status import negated
from ..datatypes.terminology import code_systems, data_file, system_by_name
from ..datatypes.text import text
from ..engine.registry import template_global

LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
NOTHING_TEMPLATE = "resource/NothingToReport"
ORGANIZERS = ("BATTERY", "CLUSTER")
_STRUCTURAL = ("http://terminology.hl7.org/CodeSystem/v3-ActCode",
               "http://terminology.hl7.org/CodeSystem/v3-NullFlavor")


@lru_cache(maxsize=1)
def _table() -> dict:
    data = data_file("nothing_to_report.json")
    key = lambda c: (c["system"], c["code"])  # noqa: E731
    return {
        "templates": frozenset(data["templates"]),
        "negation_kept": frozenset(data["negation_kept"]),
        "nilknown_kept": frozenset(data["nilknown_kept"]),
        "empty_reasons": data["empty_reasons"],
        "null_flavors": data["null_flavors"],
        "nothing": {key(c): c for c in data["nothing_codes"]},
        "generic": {key(c): c for c in data["generic_codes"]},
        "phrases": [(re.compile(p["match"]), p["reason"], bool(p["strong"])) for p in data["phrases"]],
    }


def _find(table: dict, system, code):
    for key in ((system, code), ("*", code), (system, "*")):
        if key in table:
            return table[key]
    return None


def _keys(cd: dict) -> list[tuple]:
    """(system URI, code) of a coded element and its translations, read silently (the template
    that maps the element reports a bad codeSystem; asking whether it says 'nothing' must not)."""
    out, todo = [], [cd]
    while todo:
        c = todo.pop(0)
        if not isinstance(c, dict):
            continue
        todo.extend(many(c.get("translation")))
        code = " ".join((c.get("code") or "").split())
        if not code or c.get("nullFlavor"):
            continue
        oid = "".join((c.get("codeSystem") or "").split())
        system = code_systems().get(oid) or (f"urn:oid:{oid}" if re.match(r"^\d+(\.\d+)+$", oid) else None) \
            or system_by_name(c.get("codeSystemName") or oid) or "*"
        out.append((system, code))
    return out


_TAIL = re.compile(r"[\s.:;]+$")


def _words(value) -> str | None:
    if not isinstance(value, str):
        return None
    norm = _TAIL.sub("", " ".join(value.split()))
    return norm or None


@lru_cache(maxsize=4096)
def _phrase(words: str | None):
    """(reason, strong) of the phrase these words are, else None."""
    if not words:
        return None
    low = words.lower()
    for pattern, reason, strong in _table()["phrases"]:
        if pattern.match(low):
            return reason, strong
    return None


def _singular(words: str) -> str:
    return words.lower().rstrip("s")


@lru_cache(maxsize=1)
def _generic_names() -> frozenset:
    """The displays of the generic codes ('problem', 'drug or medicament'), as words name them."""
    return frozenset(_singular(c["display"]) for c in _table()["generic"].values() if c.get("display"))


def _concepts(stmt: dict) -> list[dict]:
    """The coded elements that say what a statement is about: its code and value, the product it
    gives, the substance or device a participant plays; each read once."""
    raw = [(c, None) for c in many(stmt.get("code")) + many(stmt.get("value")) if isinstance(c, dict)]
    for holder in ("consumable", "product"):
        mp = stmt.get(holder).get("manufacturedProduct") if isinstance(stmt.get(holder), dict) else None
        material = mp.get("manufacturedMaterial") if isinstance(mp, dict) else None
        if isinstance(material, dict):
            code = material.get("code")
            raw.append((code if isinstance(code, dict) else {}, material.get("name")))
    for p in many(stmt.get("participant")):
        role = p.get("participantRole") if isinstance(p, dict) else None
        for who in ("playingEntity", "playingDevice"):
            ent = role.get(who) if isinstance(role, dict) else None
            if isinstance(ent, dict) and isinstance(ent.get("code"), dict):
                raw.append((ent["code"], ent.get("name")))
    return [{"cd": cd, "keys": _keys(cd),
             "original": _words(original_text(cd)) if cd.get("originalText") else None,
             "name": _words(text(one(name))) if name is not None else None,
             "display": _words(cd.get("displayName"))} for cd, name in raw]


def _names_something(concepts: list[dict]) -> bool:
    """Whether any concept names a specific thing: a code no generic / nothing list has, or words
    (originalText, a product's name) that are neither a 'nothing' phrase nor a generic name."""
    table = _table()
    for c in concepts:
        if any(not _find(table["generic"], *k) and not _find(table["nothing"], *k) for k in c["keys"]):
            return True
        for words in (c["original"], c["name"]):
            if words and not _phrase(words) and _singular(words) not in _generic_names():
                return True
    return False


def says_nothing(stmt) -> dict | None:
    """What a statement that says there is nothing to report says: ``reason`` (a
    list-empty-reason code), ``because`` (why we read it so), ``words`` (its own words),
    ``concepts`` (its coded elements) and ``members`` (an organizer's statements, each saying
    nothing); None for a statement that states something."""
    if not isinstance(stmt, dict):
        return None
    table = _table()
    concepts = _concepts(stmt)
    texts = [_words(text(stmt.get("text")))] + [c[k] for c in concepts for k in ("original", "name", "display")]
    texts = [w for i, w in enumerate(texts) if w and w not in texts[:i]]
    specific = _names_something(concepts)

    def answer(reason, because, words=None, members=()):
        return {"reason": reason, "because": because, "words": words or (texts[0] if texts else None),
                "concepts": [c["cd"] for c in concepts], "members": list(members)}

    nf = stmt.get("nullFlavor")
    if nf and not _holds_something(stmt):
        return answer(table["null_flavors"].get(nf, table["null_flavors"]["*"]),
                      f"the statement is nullFlavor {nf}")
    nothing = [_find(table["nothing"], *k) for c in concepts for k in c["keys"]]
    nothing = [n for n in nothing if n]
    if nothing and not specific:
        return answer(nothing[0]["reason"], f"its code {nothing[0]['code']} ({nothing[0]['display']}) says so")
    if stmt.get("classCode") in ORGANIZERS:
        return None if specific else _organizer(stmt, answer)
    for words in texts:
        hit = _phrase(words)
        if hit and (hit[1] or not specific):
            return answer(hit[0], "its words say so", words)
    if specific or _holds_something(stmt):
        return None
    if negated(stmt):
        return answer("nilknown", "it is negated and names nothing specific")
    return None


def nothing_code(cd) -> dict | None:
    """The 'nothing' concept (nothing_to_report.json's nothing_codes: CVX 998 'no vaccine
    administered', 'No known allergy' ...) a coded element or one of its translations is, if any."""
    if not isinstance(cd, dict):
        return None
    table = _table()["nothing"]
    for key in _keys(cd):
        hit = _find(table, *key)
        if hit:
            return hit
    return None


def _organizer(stmt: dict, answer) -> dict | None:
    """An organizer naming nothing whose every member says nothing ('Result excluded/not
    available' as a panel's only result) says nothing too, with its members' codes and ids."""
    members = children(stmt)
    said = [says_nothing(m) for m in members]
    if not said or not all(said):
        return None
    out = answer(said[0]["reason"], "its every member says so", said[0]["words"], members)
    out["concepts"] += [cd for m in said for cd in m["concepts"]]
    return out


def _holds_something(stmt: dict) -> bool:
    """An act or organizer holding statements that name something (a Health Concern Act's
    problems, a panel's results) is about them."""
    if stmt.get("classCode") not in ("ACT",) + ORGANIZERS:
        return False
    return any(_names_something(_concepts(c)) and not says_nothing(c) for c in children(stmt))


def replaced(stmt, template: str | None) -> dict | None:
    """``says_nothing(stmt)`` when the statement is to become a List instead of ``template``'s
    resource; None when it states something, or when that template's own mapping (the IG's
    negation rule, US Core 'no known allergy') already says 'nothing'."""
    table = _table()
    if template not in table["templates"]:
        return None
    found = says_nothing(stmt)
    if found is None:
        return None
    if found["reason"] == "nilknown" and (template in table["nilknown_kept"]
                                          or template in table["negation_kept"] and negated(stmt)):
        return None
    return found


def note(found: dict, template: str) -> str:
    """What the report says of a statement made an empty List instead of ``template``'s resource."""
    said = repr(found["words"]) if found["words"] else "the statement"
    return (f"{said} says there is nothing to report ({found['because']}): a List with emptyReason "
            f"{found['reason']}, not a {template.split('/')[-1]}")


@template_global
def nothing_to_report(src, section=None, parents=None) -> dict:
    """The List pieces for a 'nothing to report' statement: ``code`` (what the list is of: the
    statement's own concepts, else the section's code), ``emptyReason`` (the list-empty-reason,
    the statement's 'nothing' codes, its words), ``ids`` (the statement's and, for an organizer,
    its members' ids) and ``date`` (when it was said: its author's time, else the author time of
    the act holding it, a concern act say, else its effectiveTime)."""
    found = says_nothing(src) or {"reason": "unavailable", "words": None, "concepts": [], "members": []}
    table = _table()
    found_codes = []
    for cd in found["concepts"]:
        found_codes += [c for c in codings(cd) if c not in found_codes]
    reasons = [c for c in found_codes if _find(table["nothing"], c.get("system", "*"), c["code"])]
    codes = [c for c in found_codes if c not in reasons
             and not (c.get("system") in _STRUCTURAL and _find(table["generic"], c["system"], c["code"]))]
    reason = found["reason"]
    empty = {"coding": [{"system": LIST_EMPTY_REASON, "code": reason,
                         "display": table["empty_reasons"].get(reason)}] + reasons}
    if found["words"]:
        empty["text"] = found["words"]
    stmts = [src] + found["members"]
    holder = one(parents)
    times = [[a.get("time") for s in group for a in many(s.get("author")) if isinstance(a, dict)]
             for group in (stmts, [holder] if isinstance(holder, dict) else [])]
    date = earliest(times[0]) or earliest(times[1]) or next(
        (start(one(s.get("effectiveTime"))) for s in stmts if start(one(s.get("effectiveTime")))), None)
    return {"code": {"coding": codes} if codes else codeable_concept((section or {}).get("code")),
            "emptyReason": empty, "ids": [i for s in stmts for i in many(s.get("id"))], "date": date}
