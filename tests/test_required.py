"""The required-elements table is what the FHIR models say, and the engine enforces it."""
from __future__ import annotations

import json
from importlib import resources

import ccda2fhir
from support.required_fields import derive
from support.wrap import wrap_fragment


def test_required_table_matches_the_fhir_models():
    shipped = json.loads(resources.files("ccda2fhir.data").joinpath("required.json").read_text())
    shipped.pop("_comment")
    assert shipped == derive()


def test_a_document_without_any_date_gets_no_invalid_provenance():
    xml = wrap_fragment("<section><code code='11450-4' codeSystem='2.16.840.1.113883.6.1'/>"
                        "<title>P</title><text>nothing</text></section>")
    xml = xml.replace('<effectiveTime value="20240101120000-0500"/>', "").replace(
        "<time value=\"20240101\"/>", "")
    bundle, report = ccda2fhir.convert(xml, "p", report=True)
    provs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    assert all(p.get("recorded") for p in provs)
    assert any("Provenance not made" in i.reason and "recorded" in i.reason for i in report.issues)
