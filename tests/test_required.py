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
    by_type = {}
    for e in bundle["entry"]:
        by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    # the required primitives are present as data-absent extensions, never invented values
    dar = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                          "valueCode": "unknown"}]}
    (comp,) = by_type["Composition"]
    assert "date" not in comp and comp["_date"] == dar
    doc_prov = [p for p in by_type["Provenance"] if "entity" in p]
    assert doc_prov and all("recorded" in p or p.get("_recorded") == dar for p in by_type["Provenance"])
    assert not any("not made" in i.reason for i in report.issues)


def test_a_resource_missing_a_required_element_is_not_made_but_reported():
    from ccda2fhir.map.state import Conversion
    doc = {"header": {}, "narrative": {}, "sections": [], "body": None}
    with Conversion(doc, "p") as conv:
        made = conv._finish("resource/Test", {}, {"resourceType": "Provenance",
                                                  "target": [{"reference": "Patient/p"}]})
        assert made is None and not [r for r in conv.resources if r.startswith("Provenance/")]
        (issue,) = conv.report.issues
        assert issue.level == "partial" and "Provenance not made" in issue.reason
        assert "agent" in issue.reason and "recorded" in issue.reason
