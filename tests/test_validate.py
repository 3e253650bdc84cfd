"""ccda2fhir.validate: each check passes on real output and FAILS when what it checks is broken.

The resources come from the bundled HL7 sample CCD (CC0); each test breaks one thing the way a
careless mapping would and asserts the validator names the rule.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import ccda2fhir
from ccda2fhir import conform
from ccda2fhir.validate import CHECKS, bundle_resolver, check_bundle, check_resource
from ccda2fhir.validate.xhtml import html_problems
from tests.conftest import SAMPLE_CCD, corpus_documents, needs_corpus

SHARED_FHIR = Path(__file__).resolve().parents[2] / "shared" / "fhir"


@pytest.fixture(scope="module")
def ccd() -> dict:
    return ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p-1")


def first(bundle: dict, resource_type: str, where=lambda r: True) -> dict:
    return copy.deepcopy(next(e["resource"] for e in bundle["entry"]
                              if e["resource"]["resourceType"] == resource_type and where(e["resource"])))


def rules(resource: dict, bundle: dict, checks=CHECKS) -> set[str]:
    return {p.rule for p in check_resource(resource, resolve=bundle_resolver(bundle), checks=checks)}


def test_the_sample_ccd_is_valid_and_keeps_every_profile_it_claims(ccd):
    assert [str(p) for p in check_bundle(ccd)] == []


def test_unknown_check_names_are_refused(ccd):
    with pytest.raises(ValueError, match="unknown checks"):
        check_resource(first(ccd, "Patient"), checks=["schema", "fhirpath"])


# ----------------------------------------------------------------------------- R4 invariants
def test_con_4_an_active_condition_with_an_abatement(ccd):
    c = first(ccd, "Condition", lambda r: "abatementDateTime" not in r and "abatementPeriod" not in r)
    c["clinicalStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]}
    assert "con-4" not in rules(c, ccd)
    c["abatementDateTime"] = "2020-01-01"
    assert "con-4" in rules(c, ccd)


@pytest.mark.parametrize("element,key", [("address", "org-2"), ("telecom", "org-3")])
def test_org_2_org_3_an_organization_at_home(ccd, element, key):
    org = first(ccd, "Organization", lambda r: r.get(element))
    assert key not in rules(org, ccd)
    org[element][0]["use"] = "home"
    assert key in rules(org, ccd)


def test_pat_1_a_contact_with_only_a_relationship(ccd):
    patient = first(ccd, "Patient")
    rel = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}]}]
    patient["contact"] = [{"relationship": rel, "name": {"family": "Jones"}}]
    assert "pat-1" not in rules(patient, ccd)
    patient["contact"] = [{"relationship": rel}]
    assert "pat-1" in rules(patient, ccd)


def a_goal() -> dict:
    return {"resourceType": "Goal", "id": "g-1", "lifecycleStatus": "active",
            "description": {"text": "Lose weight"}, "subject": {"reference": "Patient/p-1"}}


def test_gol_1_a_target_detail_without_a_measure(ccd):
    goal = a_goal()
    goal["target"] = [{"measure": {"text": "weight"}, "detailQuantity": {"value": 70}}]
    assert "gol-1" not in rules(goal, ccd)
    del goal["target"][0]["measure"]
    assert "gol-1" in rules(goal, ccd)


def test_per_1_on_a_period_nested_in_a_backbone_element(ccd):
    enc = first(ccd, "Encounter")
    enc["participant"] = [{"period": {"start": "2020-01-02", "end": "2020-01-03"}}]
    assert "per-1" not in rules(enc, ccd)
    enc["participant"][0]["period"] = {"start": "2020-01-03", "end": "2020-01-02"}
    [problem] = [p for p in check_resource(enc, checks=["invariants"]) if p.rule == "per-1"]
    assert problem.where == "Encounter.participant[0].period"


def test_ext_1_an_extension_with_a_value_and_extensions(ccd):
    patient = first(ccd, "Patient")
    patient["extension"] = [{"url": "http://example.org/x", "valueString": "a"}]
    assert "ext-1" not in rules(patient, ccd)
    patient["extension"][0]["extension"] = [{"url": "y", "valueString": "b"}]
    assert "ext-1" in rules(patient, ccd)


def test_ele_1_an_empty_element(ccd):
    patient = first(ccd, "Patient")
    patient["maritalStatus"] = {"id": "only-an-id"}
    assert "ele-1" in rules(patient, ccd, ["invariants"])


def test_ref_1_a_local_reference_with_nothing_contained(ccd):
    cond = first(ccd, "Condition")
    cond["asserter"] = {"reference": "#nobody"}
    assert "ref-1" in rules(cond, ccd, ["invariants"])
    cond["contained"] = [{"resourceType": "Practitioner", "id": "nobody", "name": [{"family": "X"}]}]
    assert "ref-1" not in rules(cond, ccd, ["invariants"])


def test_obs_7_a_component_coded_like_the_observation_beside_its_value(ccd):
    obs = first(ccd, "Observation", lambda r: "valueQuantity" in r and "component" not in r)
    obs["component"] = [{"code": {"text": "other"}, "valueString": "x"}]
    assert "obs-7" not in rules(obs, ccd)
    obs["component"][0]["code"] = copy.deepcopy(obs["code"])
    assert "obs-7" in rules(obs, ccd)


def test_rng_2_in_a_unit_fhirpathpy_cannot_compare(ccd):
    """fhirpathpy raises comparing [degF] Quantities; the conform evaluator answers instead."""
    goal = a_goal()
    q = {"system": "http://unitsofmeasure.org", "code": "[degF]", "unit": "[degF]"}
    goal["target"] = [{"measure": {"text": "temperature"},
                       "detailRange": {"low": {**q, "value": 98}, "high": {**q, "value": 99}}}]
    assert "rng-2" not in rules(goal, ccd)
    goal["target"][0]["detailRange"]["low"]["value"] = 100
    assert "rng-2" in rules(goal, ccd)


def test_ctm_1_resolves_the_member_inside_the_bundle(ccd):
    org = first(ccd, "Organization")
    prac = first(ccd, "Practitioner")
    team = {"resourceType": "CareTeam", "id": "t1", "subject": {"reference": "Patient/p-1"},
            "participant": [{"member": {"reference": f"Practitioner/{prac['id']}"},
                             "onBehalfOf": {"reference": f"Organization/{org['id']}"}}]}
    assert "ctm-1" not in rules(team, ccd)
    team["participant"][0]["member"] = {"reference": f"Organization/{org['id']}"}
    assert "ctm-1" in rules(team, ccd)


def test_txt_1_txt_2_narrative_rules():
    ok = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Fine <b>text</b></p></div>'
    assert html_problems(ok) == []
    assert any(p.startswith("txt-1") for p in html_problems(
        '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>x</div>'))
    assert any(p.startswith("txt-1") for p in html_problems(
        '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x</p></div>'))
    assert any(p.startswith("txt-2") for p in html_problems('<div xmlns="http://www.w3.org/1999/xhtml"> </div>'))


def test_txt_1_on_a_composition_section(ccd):
    comp = first(ccd, "Composition")
    assert "txt-1" not in rules(comp, ccd, ["invariants"])
    comp["section"][0]["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml"><iframe/>x</div>'
    assert "txt-1" in rules(comp, ccd, ["invariants"])


def test_bdl_7_two_entries_with_one_full_url(ccd):
    bundle = copy.deepcopy(ccd)
    bundle["type"] = "collection"   # bdl-7 holds for all but history Bundles
    assert "bdl-7" not in {p.rule for p in check_bundle(bundle, checks=["invariants"])}
    bundle["entry"][2]["fullUrl"] = bundle["entry"][1]["fullUrl"]
    assert "bdl-7" in {p.rule for p in check_bundle(bundle, checks=["invariants"])}


# ------------------------------------------------------------------ references and the schema
def test_a_reference_to_a_type_its_element_does_not_allow(ccd):
    cond = first(ccd, "Condition")
    org = first(ccd, "Organization")
    cond["recorder"] = {"reference": f"Organization/{org['id']}"}
    [problem] = [p for p in check_resource(cond, checks=["references"])]
    assert problem.where == "Condition.recorder" and "allows Patient, Practitioner" in problem.message
    cond["recorder"] = {"reference": f"Practitioner/{first(ccd, 'Practitioner')['id']}"}
    assert check_resource(cond, checks=["references"]) == []


def test_a_reference_that_does_not_resolve_in_its_bundle(ccd):
    bundle = copy.deepcopy(ccd)
    cond = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    cond["asserter"] = {"reference": "Practitioner/not-there"}
    assert [p.message for p in check_bundle(bundle, checks=["references"])] == \
        ["Practitioner/not-there does not resolve inside the Bundle"]


def test_the_schema_finds_a_missing_required_element(ccd):
    obs = first(ccd, "Observation")
    assert check_resource(obs, checks=["schema"]) == []
    obs["status"] = "done"
    obs["valueQuantity"] = {"value": "70"}
    assert [p.where for p in check_resource(obs, checks=["schema"])] == ["status", "valueQuantity/value"]


# ------------------------------------------------------------------------------ US Core profiles
def _claimed(bundle: dict) -> dict[str, dict]:
    """The first resource claiming each profile."""
    out = {}
    for e in bundle["entry"]:
        for url in e["resource"].get("meta", {}).get("profile", ()):
            out.setdefault(url, e["resource"])
    return out


def _top_level_requirements(url: str) -> list[str]:
    """Elements the profile requires beyond R4, directly on the resource (Observation.category)."""
    prof = conform.profile(url)
    out = []
    for segs, check, _ in prof.checks:
        if len(segs) == 1 and check.get("min", 0) >= 1 and not check.get("base") and segs[0][1] is None:
            out.append(segs[0][0])
    return out


FIXTURE_DOCS = sorted(p for p in (SAMPLE_CCD.parent).rglob("*.xml")
                      if b"ClinicalDocument" in p.read_bytes()[:4000])


@pytest.fixture(scope="module")
def claimed() -> dict[str, tuple[dict, dict]]:
    """url -> (a resource claiming it, its bundle), over every bundled sample document."""
    out = {}
    for path in FIXTURE_DOCS:
        bundle = ccda2fhir.convert(path.read_bytes(), "p-1")
        for url, r in _claimed(bundle).items():
            out.setdefault(url, (r, bundle))
    return out


def test_the_samples_claim_most_us_core_profiles(claimed):
    assert len(claimed) >= 25


def test_each_claimed_profile_fails_when_what_it_requires_is_removed(claimed):
    """For one resource per profile: conforms as made; each element the profile requires beyond
    R4 removed, both the validator and the conversion-time check see the claim broken."""
    assert removing_requirements_breaks(claimed) >= 20


@needs_corpus
def test_each_profile_the_corpus_claims_fails_when_what_it_requires_is_removed():
    """The same for the profiles only corpus documents claim (pediatric vital signs, occupation,
    pregnancy, sexual orientation, screening and assessment, care team ...)."""
    claimed = {}
    for path in corpus_documents():
        try:
            bundle = ccda2fhir.convert(path.read_bytes(), "p-1")
        except ccda2fhir.ConversionError:
            continue
        for url, r in _claimed(bundle).items():
            claimed.setdefault(url, (r, bundle))
    assert len(claimed) >= 40
    assert removing_requirements_breaks(claimed) >= 40


def removing_requirements_breaks(claimed: dict) -> int:
    """Asserts, per profile, the resource conforms and breaks without each required element;
    returns how many removals were tried."""
    tried = 0
    for url, (resource, bundle) in sorted(claimed.items()):
        resolve = bundle_resolver(bundle)
        assert [str(p) for p in check_resource(resource, resolve=resolve, checks=["profiles"])] == [], url
        assert conform.unmet(resource, url, resolve=resolve) == []
        for element in _top_level_requirements(url):
            broken = copy.deepcopy(resource)
            for key in [k for k in broken if k == element or (element.endswith("[x]") and
                                                               k.startswith(element[:-3]))]:
                del broken[key]
            name = url.rsplit("/", 1)[-1]
            assert name in {p.rule for p in check_resource(broken, resolve=resolve, checks=["profiles"])}, \
                (url, element)
            assert conform.unmet(broken, url, resolve=resolve), (url, element)
            tried += 1
    return tried


@pytest.mark.parametrize("profile,resource_type,break_it,key", [
    ("us-core-practitionerrole", "PractitionerRole",
     lambda r: [r.pop(k, None) for k in ("telecom", "endpoint")], "pd-1"),
    ("us-core-diagnosticreport-lab", "DiagnosticReport",
     lambda r: (r.update(status="final"), r.pop("issued", None)), "us-core-9"),
    ("us-core-procedure", "Procedure",
     lambda r: [r.pop(k) for k in list(r) if k.startswith(("performed", "_performed"))], "us-core-7"),
])
def test_us_core_invariants_fail_when_broken(claimed, profile, resource_type, break_it, key):
    url = conform.profile("http://hl7.org/fhir/us/core/StructureDefinition/" + profile).url
    resource, bundle = claimed[url]
    broken = copy.deepcopy(resource)
    break_it(broken)
    assert key in rules(broken, bundle, ["profiles"])
    assert any(m.startswith(key) for m in conform.unmet(broken, url, resolve=bundle_resolver(bundle)))


def test_an_npi_slice_is_checked_only_on_npi_identifiers(claimed):
    url = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitioner"
    resource, bundle = claimed[url]
    r = copy.deepcopy(resource)
    r["identifier"] = [{"system": "http://example.org/local", "value": "12"}]
    assert conform.unmet(r, url) == []
    r["identifier"].append({"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567890"})
    assert any(m.startswith("us-core-17") for m in conform.unmet(r, url))      # bad check digit
    r["identifier"][1]["value"] = "1234567893"
    assert conform.unmet(r, url) == []


def test_conversion_time_rules_agree_with_fhirpathpy(claimed):
    """Every US Core invariant, on every sample resource claiming its profile: the rule trees
    ccda2fhir.conform evaluates give fhirpathpy's verdict."""
    from ccda2fhir.conform.rules import holds as rule_holds
    from ccda2fhir.conform.structure import typed_instances
    from ccda2fhir.validate import fhirpath
    from ccda2fhir.validate.profiles import _type_path
    checked = 0
    for url, (resource, bundle) in claimed.items():
        prof = conform.profile(url)
        resolve = bundle_resolver(bundle)
        for segs, inv in prof.invariants:
            for value, t in typed_instances(prof, resource, segs, {(): [resource]}):
                path = _type_path(t) if segs else resource["resourceType"]
                try:
                    want = fhirpath.evaluate(inv["expression"], value, path or inv["id"].split(":")[0],
                                             resource, resolve) == [True]
                except Exception:   # noqa: BLE001 - fhirpathpy cannot (pd-1's collection as boolean)
                    continue
                got = rule_holds(inv["rule"], resource, None if value is resource else (value, t), resolve)
                assert got == want, (url, inv["key"])
                checked += 1
    assert checked >= 20


@pytest.mark.skipif(not (SHARED_FHIR / "r4").is_dir(), reason="../shared/fhir is not present")
def test_generated_definitions_are_current(tmp_path):
    from ccda2fhir.validate import generate
    generate.main(["--fhir", str(SHARED_FHIR), "--out", str(tmp_path)])
    here = Path(generate.__file__).resolve().parents[1] / "data" / "fhir"
    for f in sorted(tmp_path.iterdir()):
        assert json.loads(f.read_text()) == json.loads((here / f.name).read_text()), f.name
