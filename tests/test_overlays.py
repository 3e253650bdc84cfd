"""Overlays: a user's templates, routes and terminology over the built-in ones, without forking.

Documents: tests/fixtures (HL7 C-CDA Examples, CC0). The two worked examples of templates/README.md
are the folders under examples/overlays/, exercised here as they are.
"""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import orjson
import pytest
from lxml import etree

import ccda2fhir
from ccda2fhir.map.engine import OverlayError, overlay_for, templates_dir
from ccda2fhir.serve.cli import main
from ccda2fhir.serve.settings import Settings

HERE = Path(__file__).resolve().parent
CCD = (HERE / "fixtures" / "hl7-c-cda-examples" / "CCD.xml").read_bytes()
EXAMPLES = HERE.parent / "examples" / "overlays"
VENDOR = EXAMPLES / "vendor-entry"
VENDOR_TERMS = VENDOR / "code-systems.json"
PROBLEM_OBSERVATION = "2.16.840.1.113883.10.20.22.4.4"
VENDOR_ENTRY = """<entry><act classCode="ACT" moodCode="EVN"><templateId root="1.3.6.1.4.1.55555.1.1"/>
<id root="1.3.6.1.4.1.55555.9" extension="alert-1"/>
<code code="FALL-RISK" codeSystem="1.3.6.1.4.1.55555.2" displayName="High fall risk"/>
<statusCode code="active"/><effectiveTime><low value="20240101"/></effectiveTime></act></entry>"""


def with_vendor_entry(xml: bytes = CCD) -> bytes:
    """The CCD with one Acme 'care alert' entry at the top of its Problems section."""
    text = xml.decode()
    at = text.index("<entry", text.index("2.16.840.1.113883.10.20.22.2.5.1"))
    return (text[:at] + VENDOR_ENTRY + text[at:]).encode()


def resources(bundle: dict, rtype: str | None = None) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if rtype is None or e["resource"]["resourceType"] == rtype]


def problem_list(bundle: dict) -> list[dict]:
    """The Conditions made from the CCD's Problem Observations (by their ids)."""
    ids = {root.lower() for root in etree.fromstring(CCD).xpath(
        f"//v3:observation[v3:templateId/@root='{PROBLEM_OBSERVATION}']/v3:id/@root",
        namespaces={"v3": "urn:hl7-org:v3"})}
    return [c for c in resources(bundle, "Condition")
            if any(i.get("value", "").lower().removeprefix("urn:uuid:") in ids for i in c.get("identifier", []))]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def builtin(name: str) -> str:
    return (templates_dir() / name).read_text()


@pytest.fixture(scope="module")
def plain() -> dict:
    return ccda2fhir.convert(CCD, "p1")


def test_an_overlay_that_changes_nothing_gives_the_built_in_output_byte_for_byte(tmp_path, plain):
    write(tmp_path, "resource/Unused.json.j2", '{"resourceType": "Basic"}')
    assert orjson.dumps(ccda2fhir.convert(CCD, "p1", templates=tmp_path)) == orjson.dumps(plain)


def test_a_template_replaces_the_built_in_one_of_the_same_relative_name_only(tmp_path, plain):
    text = builtin("resource/Observation.json.j2")
    assert '  "subject": {{ patient }},\n' in text
    write(tmp_path, "resource/Observation.json.j2",
          text.replace('  "subject": {{ patient }},\n', '  "subject": {{ patient }},\n  "language": "en-US",\n'))
    bundle = ccda2fhir.convert(CCD, "p1", templates=tmp_path)
    observations = resources(bundle, "Observation")
    tagged = [o for o in observations if o.get("language") == "en-US"]
    # the generic Observation template maps social history, functional status...; results and
    # vital signs have templates of their own, which the overlay does not replace
    assert tagged and len(tagged) < len(observations)
    assert all("language" not in o for o in resources(plain, "Observation"))
    assert len(observations) == len(resources(plain, "Observation"))


def test_worked_example_an_extension_on_every_observation():
    bundle = ccda2fhir.convert(CCD, "p1", templates=EXAMPLES / "observation-extension")
    observations = resources(bundle, "Observation")
    url = "https://example.org/fhir/StructureDefinition/source-section"
    assert len(observations) > 10
    for o in observations:
        ours = [x for x in o.get("extension", []) if x["url"] == url]
        assert len(ours) == 1, o["id"]
        assert ours[0]["valueCodeableConcept"]["coding"][0]["system"] == "http://loinc.org"
    # whatever template made them (results, vitals, social history...), and nothing else amended
    assert all(url not in json.dumps(r) for r in resources(bundle) if r["resourceType"] != "Observation")


def test_worked_example_a_vendor_entry_template_mapped_to_a_resource():
    doc = with_vendor_entry()
    bundle, report = ccda2fhir.convert(doc, "p1", report=True)
    assert not resources(bundle, "Flag")
    assert any(i.template_id == "1.3.6.1.4.1.55555.1.1" and i.level == "unmapped" for i in report.issues)

    bundle, report = ccda2fhir.convert(doc, "p1", report=True, templates=VENDOR, code_systems=VENDOR_TERMS)
    [flag] = resources(bundle, "Flag")
    assert flag["status"] == "active"
    assert flag["subject"] == {"reference": "Patient/p1"}
    assert flag["code"]["coding"][0] == {"system": "https://acme.example/fhir/CodeSystem/care-alert",
                                         "code": "FALL-RISK", "display": "High fall risk"}
    assert flag["period"] == {"start": "2024-01-01"}
    assert not any(i.template_id == "1.3.6.1.4.1.55555.1.1" for i in report.issues)
    assert not [i for i in report.issues if i.level == "error"]


def test_an_overlay_route_takes_precedence_for_the_same_template_id(tmp_path, plain):
    write(tmp_path, "routes/acme.toml", f'''
[[route]]
name = "Problems as Acme sees them"
templates = ["{PROBLEM_OBSERVATION}"]
element = "observation"
template = "resource/Observation"
''')
    bundle = ccda2fhir.convert(CCD, "p1", templates=tmp_path)
    problem_codes = {r["code"]["coding"][0]["code"] for r in problem_list(plain)}
    assert problem_codes
    assert not problem_list(bundle)
    observed = {c["code"] for o in resources(bundle, "Observation")
                for c in o.get("valueCodeableConcept", {}).get("coding", [])}
    assert problem_codes <= observed


def test_a_route_file_of_the_same_name_replaces_the_built_in_file(tmp_path, plain):
    write(tmp_path, "routes/problems.toml", "# no problem routes here\n")
    bundle, report = ccda2fhir.convert(CCD, "p1", report=True, templates=tmp_path)
    assert problem_list(plain) and not problem_list(bundle)
    # nothing dropped silently: the Problem Observations no route names now are reported as mapped generically
    assert any(i.template_id == PROBLEM_OBSERVATION and "no specific mapping" in i.reason for i in report.issues)


def test_code_systems_add_and_override_oid_uris_over_the_built_in_ones(tmp_path, plain):
    terms = write(tmp_path, "terms.json", json.dumps({
        "codesystems": {"2.16.840.1.113883.1.11.19563": "https://example.org/cs/personal-relationship",
                        "2.16.840.1.113883.6.101": "https://example.org/cs/taxonomy"},
        "identifier_systems": {"2.16.840.1.113883.19.5": "https://example.org/mrn"}}))
    before, after = json.dumps(plain), json.dumps(ccda2fhir.convert(CCD, "p1", code_systems=terms))
    assert "urn:oid:2.16.840.1.113883.1.11.19563" in before and "http://nucc.org/provider-taxonomy" in before
    assert "https://example.org/cs/personal-relationship" in after and "https://example.org/cs/taxonomy" in after
    assert "urn:oid:2.16.840.1.113883.1.11.19563" not in after and "http://nucc.org/provider-taxonomy" not in after
    assert '"https://example.org/mrn"' in after
    assert after.count('"http://loinc.org"') == before.count('"http://loinc.org"')     # the rest stays


def test_value_maps_merge_code_by_code_from_a_folder_laid_out_as_the_data_folder(tmp_path, plain):
    write(tmp_path, "terms/valuemaps/acme.json", json.dumps({"AddressUse": {
        "HP": {"system": "http://hl7.org/fhir/address-use", "code": "temp", "display": "Temporary"}}}))
    bundle = ccda2fhir.convert(CCD, "p1", code_systems=tmp_path / "terms")
    [patient] = resources(bundle, "Patient")
    [before] = resources(plain, "Patient")
    assert [a.get("use") for a in before["address"]] == ["home"]
    assert [a.get("use") for a in patient["address"]] == ["temp"]
    # an overlay entry for another code of the same map leaves HP as it is built in
    write(tmp_path, "terms2/valuemaps/acme.json", json.dumps({"AddressUse": {
        "WP": {"system": "http://hl7.org/fhir/address-use", "code": "old", "display": "Old"}}}))
    [patient] = resources(ccda2fhir.convert(CCD, "p1", code_systems=tmp_path / "terms2"), "Patient")
    assert [a.get("use") for a in patient["address"]] == ["home"]


def test_two_overlays_in_one_process_do_not_leak_into_each_other(tmp_path, plain):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, language in ((a, "en-US"), (b, "fr-FR")):
        write(folder, "amend/Observation.json.j2", f'{{"language": "{language}"}}')
    terms = write(tmp_path, "terms.json", json.dumps({"codesystems": {"2.16.840.1.113883.6.1": "https://example.org/loinc"}}))
    results: dict = {}

    def run(name, **options):
        results[name] = ccda2fhir.convert(CCD, "p1", **options)

    threads = [threading.Thread(target=run, args=(n,), kwargs=o) for n, o in
               (("a", {"templates": a}), ("b", {"templates": b, "code_systems": terms}), ("none", {}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    langs = lambda bundle: {o.get("language") for o in resources(bundle, "Observation")}  # noqa: E731
    assert langs(results["a"]) == {"en-US"} and langs(results["b"]) == {"fr-FR"}
    assert "https://example.org/loinc" in json.dumps(results["b"])
    assert "https://example.org/loinc" not in json.dumps(results["a"])
    assert orjson.dumps(results["none"]) == orjson.dumps(plain)
    assert orjson.dumps(ccda2fhir.convert(CCD, "p1")) == orjson.dumps(plain)


def test_an_overlay_is_made_once_per_process_and_compiles_each_template_once(tmp_path):
    write(tmp_path, "amend/Observation.json.j2", '{"language": "en-US"}')
    first = overlay_for(tmp_path)
    ccda2fhir.convert(CCD, "p1", templates=tmp_path)
    builders = dict(first._builders)
    ccda2fhir.convert(CCD, "p2", templates=str(tmp_path))
    assert overlay_for(str(tmp_path)) is first
    assert first._builders == builders and "amend/Observation" in builders
    assert builders["resource/Observation"].compiled     # the same compiler as the built-in templates


def test_a_worker_process_converts_with_the_overlay_too(tmp_path):
    write(tmp_path, "amend/Observation.json.j2", '{"language": "en-US"}')
    here = ccda2fhir.convert(CCD, "p1", templates=tmp_path, code_systems=VENDOR_TERMS)
    there = ccda2fhir.convert(CCD, "p1", templates=tmp_path, code_systems=VENDOR_TERMS, timeout=60)
    assert orjson.dumps(there) == orjson.dumps(here)


# ---- the guarantees hold for custom templates ---------------------------------------------------

def test_ids_stay_deterministic_and_patient_scoped_whatever_id_a_template_writes(tmp_path):
    write(tmp_path, "resource/AcmeCareAlert.json.j2", builtin_vendor_template().replace(
        '"resourceType": "Flag",', '"resourceType": "Flag",\n  "id": "fixed-id",'))
    shutil.copytree(VENDOR / "routes", tmp_path / "routes")
    doc = with_vendor_entry()
    one = ccda2fhir.convert(doc, "p1", templates=tmp_path, code_systems=VENDOR_TERMS)
    again = ccda2fhir.convert(doc, "p1", templates=tmp_path, code_systems=VENDOR_TERMS)
    other = ccda2fhir.convert(doc, "p2", templates=tmp_path, code_systems=VENDOR_TERMS)
    [flag1], [flag2] = resources(one, "Flag"), resources(other, "Flag")
    assert flag1["id"] != "fixed-id" and flag1["id"] != flag2["id"]
    assert orjson.dumps(one) == orjson.dumps(again)
    assert flag2["subject"] == {"reference": "Patient/p2"}


def builtin_vendor_template() -> str:
    return (VENDOR / "resource" / "AcmeCareAlert.json.j2").read_text()


def test_document_text_can_never_inject_json_through_a_custom_template(tmp_path):
    evil = 'x", "evil": true, "y": "'
    doc = with_vendor_entry().replace(b'displayName="High fall risk"',
                                      b'displayName="x&quot;, &quot;evil&quot;: true, &quot;y&quot;: &quot;"')
    write(tmp_path, "resource/AcmeCareAlert.json.j2", builtin_vendor_template().replace(
        '"subject": {{ patient }},', '"subject": {{ patient }},\n  "implicitRules": {{ src.code.displayName }},'))
    shutil.copytree(VENDOR / "routes", tmp_path / "routes")
    [flag] = resources(ccda2fhir.convert(doc, "p1", templates=tmp_path, code_systems=VENDOR_TERMS), "Flag")
    assert flag["implicitRules"] == evil
    assert "evil" not in flag


def test_a_resource_missing_a_required_element_is_left_out_and_reported(tmp_path):
    write(tmp_path, "resource/AcmeCareAlert.json.j2", builtin_vendor_template().replace(
        '"subject": {{ patient }},', ""))
    shutil.copytree(VENDOR / "routes", tmp_path / "routes")
    bundle, report = ccda2fhir.convert(with_vendor_entry(), "p1", report=True, templates=tmp_path,
                                       code_systems=VENDOR_TERMS)
    assert not resources(bundle, "Flag")
    assert any("Flag not made" in i.reason and "subject" in i.reason for i in report.issues)


def test_what_no_route_maps_is_still_reported_with_an_overlay(tmp_path):
    write(tmp_path, "amend/Observation.json.j2", '{"language": "en-US"}')
    _, report = ccda2fhir.convert(with_vendor_entry(), "p1", report=True, templates=tmp_path)
    assert any(i.template_id == "1.3.6.1.4.1.55555.1.1" and i.level == "unmapped" and i.line for i in report.issues)


def test_a_template_error_names_the_template_and_is_reported_not_raised(tmp_path):
    write(tmp_path, "resource/AcmeCareAlert.json.j2", builtin_vendor_template().replace(
        '{{ src.code | codeable_concept }}', '{{ src.code | codeable_concept(1, 2, 3) }}'))
    shutil.copytree(VENDOR / "routes", tmp_path / "routes")
    bundle, report = ccda2fhir.convert(with_vendor_entry(), "p1", report=True, templates=tmp_path,
                                       code_systems=VENDOR_TERMS)
    errors = [i for i in report.issues if i.level == "error"]
    assert len(errors) == 1 and "resource/AcmeCareAlert.json.j2" in errors[0].reason
    assert resources(bundle, "Condition")            # the rest of the document converts


# ---- the ways in --------------------------------------------------------------------------------

def test_a_bad_overlay_path_is_one_clear_error(tmp_path):
    with pytest.raises(OverlayError, match="templates overlay .* is not a folder"):
        ccda2fhir.convert(CCD, "p1", templates=tmp_path / "missing")
    bad = write(tmp_path, "terms.json", '{"codesystems": {"1.2.3": 7}}')
    with pytest.raises(OverlayError, match="terms.json: codesystems entry '1.2.3' is not a URI string"):
        ccda2fhir.convert(CCD, "p1", code_systems=bad)


def test_the_convert_command_takes_templates_and_code_systems(tmp_path, capsys):
    src = write(tmp_path, "doc.xml", with_vendor_entry().decode())
    out = tmp_path / "out.json"
    assert main(["convert", str(src), "--patient-id", "p1", "-o", str(out), "--templates", str(VENDOR),
                 "--code-systems", str(VENDOR_TERMS)]) == 0
    assert resources(json.loads(out.read_text()), "Flag")
    assert main(["convert", str(src), "--patient-id", "p1", "--templates", str(tmp_path / "nope")]) == 2
    assert "templates overlay" in capsys.readouterr().err


def test_the_service_settings_carry_the_overlay_to_every_conversion(tmp_path):
    s = Settings.from_env({"CCDA2FHIR_TEMPLATES": str(VENDOR), "CCDA2FHIR_CODE_SYSTEMS": str(VENDOR_TERMS)},
                          tokens=False)
    assert s.convert_options()["templates"] == str(VENDOR)
    assert s.convert_options()["code_systems"] == str(VENDOR_TERMS)
    assert "templates" not in Settings().convert_options()
    with pytest.raises(ValueError, match="is not a folder"):
        Settings(templates=str(tmp_path / "nope"))


def test_a_pool_with_an_overlay_compiles_it_in_each_worker_before_the_first_job(tmp_path):
    write(tmp_path, "amend/Observation.json.j2", '{"language": "en-US"}')
    with ccda2fhir.ConversionPool(1, templates=str(tmp_path)) as pool:
        result = pool.submit(CCD, "p1").result()
    bundle = orjson.loads(result.bundle_json)
    assert {o.get("language") for o in resources(bundle, "Observation")} == {"en-US"}
    overlay = overlay_for(tmp_path)     # in this process: warm() compiles every template it sees
    overlay.warm()
    assert "amend/Observation" in overlay._builders and "resource/Patient" in overlay._builders


def test_the_service_converts_with_serve_templates_and_code_systems():
    from tests.support import service as svc
    server = svc.start("--workers", "1", "--templates", str(VENDOR), "--code-systems", str(VENDOR_TERMS))
    try:
        resp, data = server.convert(with_vendor_entry(), "http-1")
        assert resp.status == 200
        assert orjson.loads(data) == ccda2fhir.convert(with_vendor_entry(), "http-1", templates=VENDOR,
                                                       code_systems=VENDOR_TERMS)
        assert resources(orjson.loads(data), "Flag")
    finally:
        assert server.stop() == 0


def test_serve_refuses_a_bad_overlay_in_one_line(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "ccda2fhir", "serve", "--port", "0", "--templates",
                           str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "templates overlay" in done.stderr
