"""The id scheme: deterministic UUIDv3 from identifiers, one resource per real-world thing."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir.assemble.ids import NAMESPACE, canonical, ii_key, resource_id
from tests.conftest import SAMPLE_CCD, resources_of, resolve

ROOT = Path(__file__).resolve().parents[1]
NPI = "http://hl7.org/fhir/sid/us-npi"


def test_resource_id_is_uuid3_of_type_and_key():
    rid = resource_id("Condition", "1.2.3|x")
    assert rid == str(uuid.uuid3(NAMESPACE, "Condition|1.2.3|x"))
    assert uuid.UUID(rid).version == 3
    assert resource_id("Observation", "1.2.3|x") != rid
    # fixed forever: changing the namespace would change every id ever produced
    assert rid == "abd30e89-25b4-3023-907d-c386e903121d"
    assert str(NAMESPACE) == "8b6f3c2e-2d1a-5c4e-9f7a-0c2da2f1e0a1"


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.sampled_from(["Condition", "Patient", "Practitioner"]), st.text())
def test_resource_id_is_uuid3_for_any_key(resource_type, key):
    """resource_id computes the digest itself (no uuid objects): the same value as uuid.uuid3."""
    assert resource_id(resource_type, key) == str(uuid.uuid3(NAMESPACE, f"{resource_type}|{key}"))
    other = uuid.uuid3(NAMESPACE, f"Patient|{key}")
    assert resource_id(resource_type, key, other) == str(uuid.uuid3(other, f"{resource_type}|{key}"))


def test_canonical_content_key_ignores_key_order():
    assert canonical({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical({"a": [1, {"c": 3, "d": 2}], "b": 1})


def test_uuid_roots_are_lowercased_in_keys():
    upper = ii_key({"root": "67265ED2-35BB-43F8-B9DE-91C5935625E0"})
    lower = ii_key({"root": "67265ed2-35bb-43f8-b9de-91c5935625e0"})
    assert upper == lower == "67265ed2-35bb-43f8-b9de-91c5935625e0|"


def test_uuid_roots_lowercased_in_a_conversion():
    """The same statement id written in upper or lower case gives the same resource id and identifier."""
    xml = SAMPLE_CCD.read_text()
    root = "4adc1020-7b14-11db-9fe1-0800200c9a66"   # the first allergy observation's id
    assert f'<id root="{root}" />' in xml
    a = ccda2fhir.convert(xml, "p1")
    b = ccda2fhir.convert(xml.replace(root, root.upper()), "p1")
    ids_a = sorted(r["id"] for r in resources_of(a))
    ids_b = sorted(r["id"] for r in resources_of(b))
    assert ids_a == ids_b
    found = [r for r in resources_of(b) if any(i.get("value") == f"urn:uuid:{root}" for i in _identifiers(r))]
    assert found, "the upper-case UUID root was not lowercased in the identifier"
    assert root.upper() not in str(resources_of(b))


def _identifiers(resource: dict) -> list[dict]:
    ident = resource.get("identifier") or []
    return ident if isinstance(ident, list) else [ident]


_SCRIPT = """
import pathlib, sys, ccda2fhir
sys.stdout.buffer.write(ccda2fhir.convert_to_json(pathlib.Path(sys.argv[1]), "p1"))
"""


@pytest.mark.parametrize("seeds", [("0", "12345")])
def test_ids_and_json_are_stable_across_processes(seeds):
    """Two processes with different hash seeds give byte-identical JSON."""
    outs = []
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(SAMPLE_CCD)], env=env, cwd=str(ROOT),
                              capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        outs.append(proc.stdout)
    assert outs[0] and outs[0] == outs[1]
    # and the same as this process
    assert ccda2fhir.convert_to_json(SAMPLE_CCD, "p1") == outs[0]


def test_same_npi_is_one_practitioner():
    """NPI 5555555555 (Dr. Henry Seven) is named 4 times in the CCD: one Practitioner, referenced from each place."""
    xml = SAMPLE_CCD.read_text()
    assert xml.count('<id extension="5555555555" root="2.16.840.1.113883.4.6" />') >= 3
    bundle = ccda2fhir.convert(xml, "p1")
    practitioners = resources_of(bundle, "Practitioner")
    same = [p for p in practitioners if {"system": NPI, "value": "5555555555"} in p.get("identifier", [])]
    assert len(same) == 1
    ref = f"Practitioner/{same[0]['id']}"
    assert resolve(bundle, ref) is same[0]
    # every NPI appears on exactly one Practitioner
    npis = [i["value"] for p in practitioners for i in p.get("identifier", []) if i.get("system") == NPI]
    assert len(npis) == len(set(npis))
    # referenced from more than one resource
    import json
    referrers = [r for r in resources_of(bundle) if r is not same[0] and f'"{ref}"' in json.dumps(r)]
    assert len(referrers) >= 2
    # resource ids are unique in the Bundle
    keys = [f"{r['resourceType']}/{r['id']}" for r in resources_of(bundle)]
    assert len(keys) == len(set(keys))


def test_unknown_npi_does_not_merge_different_practitioners():
    """Two performers with <id root=NPI nullFlavor=UNK/> and different names stay two Practitioners."""
    xml = SAMPLE_CCD.read_text()
    for npi in ("333777777", "888888888"):
        tag = f'<id extension="{npi}" root="2.16.840.1.113883.4.6" />'
        assert tag in xml
        xml = xml.replace(tag, '<id root="2.16.840.1.113883.4.6" nullFlavor="UNK" />')
    bundle = ccda2fhir.convert(xml, "p1")
    for p in resources_of(bundle, "Practitioner"):
        assert len({n.get("family") for n in p.get("name", [])}) <= 1, p


def test_two_statements_sharing_an_id_are_both_kept_and_reported():
    """Two different problem observations given the same id: two Conditions, and a warning."""
    xml = SAMPLE_CCD.read_text()
    bundle = ccda2fhir.convert(xml, "p1")
    conditions = resources_of(bundle, "Condition")
    assert len(conditions) >= 2
    ids = [i["value"] for c in conditions[:2] for i in c.get("identifier", [])]
    assert ids
    # give every problem observation id the same root
    import re
    problem_ids = re.findall(r'<templateId root="2.16.840.1.113883.10.20.22.4.4"[^>]*/>\s*<id root="([^"]+)"', xml)
    assert len(problem_ids) >= 2, problem_ids
    shared = problem_ids[0]
    for other in problem_ids[1:]:
        xml = xml.replace(f'<id root="{other}"', f'<id root="{shared}"')
    bundle2, report = ccda2fhir.convert(xml, "p1", report=True)
    conditions2 = resources_of(bundle2, "Condition")
    assert len(conditions2) == len(conditions)
    assert len({c["id"] for c in conditions2}) == len(conditions2)
    assert any("used by more than one statement" in i.reason and i.level == "warning" for i in report.issues)


def test_merge_prefers_real_values_over_data_absent_and_keeps_one_choice():
    from ccda2fhir.assemble.merge import merge
    from ccda2fhir.map.engine.prune import one_per_choice
    absent = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                             "valueCode": "unknown"}]}
    old = {"resourceType": "Encounter", "class": absent, "period": {"start": "2020-01-01"},
           "identifier": [{"value": "1"}]}
    merge(old, {"class": {"system": "s", "code": "AMB"}, "identifier": [{"value": "1"}, {"value": "2"}]})
    assert old["class"] == {"system": "s", "code": "AMB"}
    assert old["identifier"] == [{"value": "1"}, {"value": "2"}]
    merge(old, {"class": absent})
    assert old["class"] == {"system": "s", "code": "AMB"}
    obs = {"resourceType": "Observation", "effectiveDateTime": "2020", "code": {"text": "x"}}
    merge(obs, {"effectivePeriod": {"start": "2020"}})
    assert one_per_choice(obs) == {"resourceType": "Observation", "effectiveDateTime": "2020",
                                   "code": {"text": "x"}}
