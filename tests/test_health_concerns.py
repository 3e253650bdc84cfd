"""Health Concerns section: Health Concern Act (4.132) -> its Problem Observations become
Conditions of category health-concern; Entry References are consumed; a concern act holding
nothing mappable is reported, not dropped silently."""
from __future__ import annotations

import ccda2fhir
from conftest import FIXTURES, resources_of
from test_procedures import all_valid, codes, load

HC = FIXTURES / "hl7-c-cda-examples" / "Health Concerns"
HEALTH_CONCERN = ("http://hl7.org/fhir/us/core/CodeSystem/condition-category", "health-concern")


def convert(name):
    [path] = list((HC / name).glob("*.xml"))
    return ccda2fhir.convert(load(path, "75310-3"), "test-patient", report=True)


def category(cond):
    c = cond["category"][0]["coding"][0]
    return c["system"], c["code"]


def test_health_concern_linked_to_problem(validate):
    for name in ("Health Concerns Link to Problems Section", "Health Concerns Link to Problems Section with linkHTML"):
        b, rep = convert(name)
        all_valid(b, validate)
        conds = {c["identifier"][0]["value"]: c for c in resources_of(b, "Condition")}
        concern = conds["urn:uuid:59c5ca3e-662f-4e33-943f-2777ebc6227e"]
        assert category(concern) == HEALTH_CONCERN
        assert concern["meta"]["profile"] == [
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"]
        assert concern["code"]["text"].startswith("Patient is concerned about")   # value nullFlavor OTH, originalText
        assert concern["onsetDateTime"] == "2014-03-02"
        problem = conds["urn:uuid:49c5ca3e-662f-4e33-948f-2777ebc6727e"]
        assert category(problem)[1] == "problem-list-item"
        assert ("http://snomed.info/sct", "385093006") in codes(problem["code"])
        assert len(conds) == 2                          # the Entry Reference made nothing of its own
        assert not rep.unmapped(), rep.unmapped()


def test_care_plan_health_concerns(validate):
    b, rep = ccda2fhir.convert((FIXTURES / "hl7-c-cda-examples" / "Documents" / "Care Plan" / "Care_Plan.xml")
                               .read_bytes(), "p", report=True)
    hc = [c for c in resources_of(b, "Condition") if category(c) == HEALTH_CONCERN]
    for c in hc:
        assert validate(c) == []
    assert {"409623005", "233604007"} <= {cd for c in hc for _, cd in codes(c["code"])}
    # no 4.132 / 4.136 act or entry reference reported unmapped
    assert not [i for i in rep.unmapped() if i.template_id in (
        "2.16.840.1.113883.10.20.22.4.132", "2.16.840.1.113883.10.20.22.4.136", "2.16.840.1.113883.10.20.22.4.122")]


def test_concern_act_without_observations_is_reported(validate):
    for name in ("Health Concerns Narrative Only", "No Known Health Concerns"):
        b, rep = convert(name)
        all_valid(b, validate)
        assert resources_of(b, "Condition") == []
        [issue] = rep.unmapped()
        assert issue.template_id == "2.16.840.1.113883.10.20.22.4.132"
