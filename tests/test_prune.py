"""Cleaning rendered resources: no empty values anywhere, one variant per FHIR choice element."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir.map.engine.prune import _choices, one_per_choice, prune
from ccda2fhir.validate.schema import schema as fhir_schema
from tests.conftest import SAMPLE_CCD, resources_of


def test_prune_drops_empty_values_at_every_depth():
    assert prune({"a": None, "b": "", "c": "  ", "d": [], "e": {}, "f": [None, "", {}, []],
                  "g": {"h": {"i": None}}, "keep": "x"}) == {"keep": "x"}
    assert prune({"a": 0, "b": False, "c": 0.0, "d": [0, None]}) == {"a": 0, "b": False, "c": 0.0, "d": [0]}
    assert prune({}) is None
    assert prune([]) is None
    assert prune(None) is None
    assert prune(" x ") == " x "


def test_prune_drops_extensions_left_with_only_a_url():
    res = {"resourceType": "Patient",
           "extension": [{"url": "http://a", "valueString": ""},
                         {"url": "http://b", "extension": [{"url": "ombCategory", "valueCoding": {}}]},
                         {"url": "http://c", "valueCode": "x"}],
           "_birthDate": {"extension": [{"url": "http://d", "valueCode": None}]},
           "modifierExtension": [{"url": "http://e"}]}
    assert prune(res) == {"resourceType": "Patient", "extension": [{"url": "http://c", "valueCode": "x"}]}
    # an 'extension' that is not a list is left to the schema, never iterated as one
    assert prune({"extension": {"url": "x", "valueCode": "y"}}) == {"extension": {"url": "x", "valueCode": "y"}}


def test_one_per_choice_keeps_the_first_filled_variant():
    cond = {"resourceType": "Condition", "onsetAge": {"value": 3}, "onsetDateTime": "2020",
            "abatementString": "x", "recordedDate": "2021"}
    assert one_per_choice(dict(cond)) == {"resourceType": "Condition", "onsetAge": {"value": 3},
                                          "abatementString": "x", "recordedDate": "2021"}
    obs = {"resourceType": "Observation", "effectiveDateTime": "2020", "effectivePeriod": {"start": "2020"},
           "valueString": "a", "valueQuantity": {"value": 1}}
    assert one_per_choice(obs) == {"resourceType": "Observation", "effectiveDateTime": "2020", "valueString": "a"}


def test_elements_that_only_look_like_choices_are_kept():
    """reasonCode and reasonReference are two elements, not reason[x]; birthDate is no choice."""
    proc = {"resourceType": "Procedure", "reasonCode": [{"text": "a"}], "reasonReference": [{"reference": "Condition/1"}],
            "usedReference": [{"reference": "Device/1"}], "usedCode": [{"text": "b"}],
            "performedDateTime": "2020", "performedPeriod": {"start": "2020"}}
    out = one_per_choice(dict(proc))
    assert out["reasonCode"] and out["reasonReference"] and out["usedReference"] and out["usedCode"]
    assert "performedPeriod" not in out
    for rt in ("MedicationStatement", "Immunization", "MedicationRequest", "ServiceRequest", "Encounter"):
        res = {"resourceType": rt, "reasonCode": [{"text": "a"}], "reasonReference": [{"reference": "Condition/1"}]}
        assert one_per_choice(dict(res)) == res
    patient = {"resourceType": "Patient", "birthDate": "2000", "deceasedBoolean": False, "deceasedDateTime": "2020",
               "multipleBirthInteger": 2}
    assert one_per_choice(dict(patient)) == {"resourceType": "Patient", "birthDate": "2000", "deceasedBoolean": False,
                                            "multipleBirthInteger": 2}
    # unknown resource types are left alone
    assert one_per_choice({"resourceType": "Nope", "aString": "x", "aCode": "y"}) == \
        {"resourceType": "Nope", "aString": "x", "aCode": "y"}


def test_choice_table_matches_the_fhir_schema():
    """Every variant listed exists in the schema for that type; the common choices are all there."""
    schema = fhir_schema()["definitions"]
    table = _choices()
    for rt, groups in table.items():
        props = schema[rt]["properties"]
        for variants in groups:
            assert len(variants) > 1
            base = re.match(r"^[a-z][a-z]*", variants[0]).group(0)
            assert all(v in props for v in variants), (rt, variants)
            assert all(v.startswith(base) for v in variants)
    assert ["onsetDateTime", "onsetAge", "onsetPeriod", "onsetRange", "onsetString"] in table["Condition"]
    assert any("medicationCodeableConcept" in g for g in table["MedicationRequest"])
    assert any("occurrenceDateTime" in g for g in table["Immunization"])
    assert any("deceasedBoolean" in g for g in table["Patient"])
    assert not any("reasonCode" in g for g in table.get("Procedure", []))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "extension", "url"]),
                                                                         inner, max_size=3)),
    max_leaves=15)


def _has_empty(value) -> bool:
    if value is None or value == "" or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, (list, dict)):
        if not value:
            return True
        items = value.values() if isinstance(value, dict) else value
        return any(_has_empty(v) for v in items)
    return False


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_pruned_values_hold_nothing_empty(value):
    out = prune(value)
    assert out is None or not _has_empty(out)
    assert prune(out) == out  # idempotent


def test_no_empty_values_in_a_real_conversion():
    bundle = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p1")
    for r in resources_of(bundle):
        assert not _has_empty(r), r["resourceType"]
        for variants in _choices().get(r["resourceType"], ()):
            assert len([v for v in variants if v in r]) <= 1


def test_merged_renderings_keep_one_variant_per_choice():
    """Two renderings of one Patient filling deceasedBoolean and deceasedDateTime: merged, one kept."""
    from ccda2fhir.map.state import Conversion
    with Conversion({"header": {}, "narrative": {}}, "p") as conv:
        conv.add({"resourceType": "Patient", "id": "p", "deceasedBoolean": True})
        conv.add({"resourceType": "Patient", "id": "p", "deceasedDateTime": "2020", "gender": "female"})
    assert conv.resources["Patient/p"] == {"resourceType": "Patient", "id": "p", "deceasedBoolean": True,
                                           "gender": "female"}
