"""Issue 7 §5: patient ids are valid FHIR ids, {stem} makes one from any file name, every fullUrl is a URI."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

import ccda2fhir
from ccda2fhir import InvalidPatientIdError
from ccda2fhir.assemble.ids import NAMESPACE
from ccda2fhir.patient_ids import patient_id_for
from ccda2fhir.patient_ids import check_patient_id, id_from_name
from tests.conftest import CORPUS, SAMPLE_CCD, resolve
from tests.support import service as svc

CCD = SAMPLE_CCD.read_bytes()
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INVALID = ["a/b", "../../etc/passwd", "john smith", "x" * 65, "x" * 10_000, "a\nb", "a\x00b", "", " p1", "p1 ",
           "Zoë", "p#1", "Patient/1", None, 5]


@pytest.mark.parametrize("pid", INVALID, ids=lambda p: repr(p)[:20])
def test_an_invalid_patient_id_is_refused_with_the_rule(pid):
    with pytest.raises(InvalidPatientIdError) as err:
        ccda2fhir.convert(CCD, pid)
    message = str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, ccda2fhir.ConversionError)
    assert "\n" not in message and "\x00" not in message and len(message) < 200
    assert "1 to 64" in message or "must be a str" in message


@pytest.mark.parametrize("pid", ["a", "A-1.b", "x" * 64, "0", "...", "7b0d3c1e-5a4f-4c2b-9e8d-1f2a3b4c5d6e",
                                 "PAT-00042"])
def test_valid_patient_ids_are_the_patient_id_exactly(pid):
    bundle = ccda2fhir.convert(CCD, pid)
    patient = bundle["entry"][0]
    assert patient["resource"]["resourceType"] == "Patient" and patient["resource"]["id"] == pid
    assert patient["request"] == {"method": "PUT", "url": f"Patient/{pid}"}
    assert check_patient_id(pid) == pid


def test_the_timeout_path_refuses_the_same_ids():
    with pytest.raises(InvalidPatientIdError, match="1 to 64"):
        ccda2fhir.convert(CCD, "a/b", timeout=120)


# ---- fullUrl -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pid", ["pat-123", "x" * 64, "0f8fad5b-d9cb-469f-a165-70867728950e",
                                 "7C9E6679-7425-40DE-944B-E07FC1F90AE7"])
def test_every_full_url_is_urn_uuid_with_a_real_uuid(pid):
    bundle = ccda2fhir.convert(CCD, pid)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    for e in bundle["entry"]:
        rt, rid = e["resource"]["resourceType"], e["resource"]["id"]
        assert e["fullUrl"].startswith("urn:uuid:") and UUID.fullmatch(e["fullUrl"][9:]), e["fullUrl"]
        if rt != "Patient":
            assert e["fullUrl"] == f"urn:uuid:{rid}"
    patient_url = bundle["entry"][0]["fullUrl"]
    if UUID.fullmatch(pid):              # a caller's id that is a UUID is its own fullUrl
        assert patient_url == f"urn:uuid:{pid}"
    else:
        assert patient_url == f"urn:uuid:{uuid.uuid3(NAMESPACE, f'Patient|{pid}')}"
    # every Patient/<pid> reference still resolves to the Patient entry, by type and id
    refs = re.findall(r'"reference": "(Patient/[^"]+)"', __import__("json").dumps(bundle))
    assert refs and all(resolve(bundle, r)["id"] == pid for r in refs)


def test_patient_full_urls_differ_by_patient_and_repeat_for_the_same():
    one = ccda2fhir.convert(CCD, "p-1")["entry"][0]["fullUrl"]
    assert one == ccda2fhir.convert(CCD, "p-1")["entry"][0]["fullUrl"]
    assert one != ccda2fhir.convert(CCD, "p-2")["entry"][0]["fullUrl"]


# ---- {stem} --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("CCD", "CCD"),
    ("patient-1.v2", "patient-1.v2"),
    ("x" * 64, "x" * 64),
])
def test_a_valid_stem_is_kept_as_it_is(name, expected):
    assert id_from_name(name) == expected


@pytest.mark.parametrize("name, prefix", [
    ("john smith", "john-smith-"),
    ("170.315_b1_toc_amb_ccd_r21_sample1_v5", "170.315-b1-toc-amb-ccd-r21-sample1-v5-"),
    ("__init__", "init-"),
    ("Zoë (copy 2)", "Zo-copy-2-"),
    ("x" * 100, "x" * 55 + "-"),
    ("  ", ""),
    ("日本語", ""),
])
def test_a_stem_that_is_not_an_id_is_mended_with_a_hash(name, prefix):
    made = id_from_name(name)
    assert FHIR_ID.fullmatch(made) and made.startswith(prefix)
    assert re.fullmatch(r"[0-9a-f]{8}", made[len(prefix):]), made
    assert id_from_name(name) == made           # deterministic


def test_names_mended_alike_keep_distinct_ids():
    names = ["john smith", "john_smith", "john  smith", "john-smith", "john/smith", "john\tsmith"]
    assert len({id_from_name(n) for n in names}) == len(names)


def test_the_template_leaves_room_for_the_stem():
    made = patient_id_for("clinic-a-{stem}", Path("/in/" + "y" * 100 + ".xml"))
    assert FHIR_ID.fullmatch(made) and len(made) == 64 and made.startswith("clinic-a-yyy")
    assert patient_id_for("fixed", Path("a b.xml")) == "fixed"
    with pytest.raises(InvalidPatientIdError, match="leaves"):
        patient_id_for("p" * 60 + "{stem}", Path("a.xml"))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_every_corpus_file_name_gives_a_valid_distinct_id():
    paths = [p for p in CORPUS.rglob("*") if p.suffix.lower() in (".xml", ".ccda", ".cda") and p.is_file()]
    stems = {p.stem for p in paths}
    ids = {stem: patient_id_for("{stem}", Path(stem + ".xml")) for stem in stems}
    assert len(stems) > 300
    assert all(FHIR_ID.fullmatch(i) for i in ids.values()), [s for s, i in ids.items() if not FHIR_ID.fullmatch(i)]
    assert len(set(ids.values())) == len(stems)        # distinct names, distinct ids
    changed = [s for s, i in ids.items() if i != s]
    assert len(changed) > 100                           # most corpus names are not ids as they are
    for name in ("CCD.sample", "C-CDA_R2-1_CCD_EF", "Unstructured_Document_embed"):
        if name in ids:
            assert ids[name].startswith(re.sub(r"[^A-Za-z0-9.-]+", "-", name))


# ---- HTTP ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    s = svc.start("--workers", "1")
    yield s
    s.stop()


@pytest.mark.parametrize("query", ["a%2Fb", "..%2F..%2Fetc%2Fpasswd", "john%20smith", "x" * 65, "a%0Ab", "a%00b"])
def test_http_answers_400_for_an_invalid_patient_id(server, query):
    resp, body = server.convert(CCD, query)
    assert resp.status == 400
    oo = __import__("json").loads(body)
    assert oo["resourceType"] == "OperationOutcome" and "1 to 64" in oo["issue"][0]["diagnostics"]
