"""PN / AD / TEL -> HumanName, Address, ContactPoint (C-CDA on FHIR 'Name, Address, Telecom')."""
from __future__ import annotations

import ccda2fhir
from ccda2fhir.map.datatypes import addresses as A
from ccda2fhir.map.datatypes import names as N
from ccda2fhir.map.datatypes import telecoms as T
from tests.conftest import SAMPLE_CCD, resources_of


def t(s):
    return {"_text": s}


# ---- names ---------------------------------------------------------------------------------------

def test_name_parts_and_use():
    pn = {"use": "L", "prefix": [t("Dr.")], "given": [t("Henry"), t("  Seven ")], "family": [t("Levin")],
          "suffix": [t("the 7th"), t("MD")], "validTime": {"low": {"value": "2001"}, "high": {"value": "20100101"}}}
    assert N.human_name(pn) == {"use": "usual", "family": "Levin", "given": ["Henry", "Seven"], "prefix": ["Dr."],
                                "suffix": ["the 7th", "MD"], "period": {"start": "2001", "end": "2010-01-01"}}
    assert N.name_text(pn) == "Dr. Henry Seven Levin the 7th MD"


def test_name_uses_through_the_conceptmap():
    assert N.human_name({"use": "C", "family": t("X")})["use"] == "official"
    assert N.human_name({"use": "P", "family": t("X")})["use"] == "nickname"
    assert N.human_name({"use": "A", "family": t("X")})["use"] == "nickname"
    assert "use" not in N.human_name({"use": "SRCH", "family": t("X")})  # no FHIR equivalent


def test_unstructured_and_empty_names():
    assert N.human_name({"_text": "Dr. Jane Q Public"}) == {"text": "Dr. Jane Q Public"}
    assert N.human_name({"nullFlavor": "UNK"}) is None
    assert N.human_name({"nullFlavor": "UNK", "given": [t("Ann")]}) == {"given": ["Ann"]}
    assert N.human_name({"family": {"nullFlavor": "UNK"}}) is None
    assert N.human_name({}) is None
    assert N.human_names([{"nullFlavor": "NI"}, {"given": t("Ann")}]) == [{"given": ["Ann"]}]
    assert N.org_name("  Good   Health Clinic ") == "Good Health Clinic"
    assert N.org_name({"_text": "Good Health"}) == "Good Health"
    assert N.org_aliases([t("A"), t("B"), {"nullFlavor": "NI"}]) == ["B"]


# ---- addresses -----------------------------------------------------------------------------------

def test_address_parts_use_and_period():
    ad = {"use": "HP", "streetAddressLine": [t("1357 Amber Drive"), t(" Apt 2 ")], "city": t("Beaverton"),
          "state": t("OR"), "postalCode": t("97867"), "country": t("US"), "county": t("Washington"),
          "useablePeriod": {"low": {"value": "20000101"}}}
    assert A.address(ad) == {"use": "home", "line": ["1357 Amber Drive", "Apt 2"], "city": "Beaverton",
                             "state": "OR", "postalCode": "97867", "country": "US", "district": "Washington",
                             "period": {"start": "2000-01-01"}}


def test_address_uses():
    assert A.address({"use": "WP", "city": t("X")})["use"] == "work"
    assert A.address({"use": "TMP", "city": t("X")})["use"] == "temp"
    assert A.address({"use": "BAD", "city": t("X")})["use"] == "old"
    assert A.address({"use": "PST", "city": t("X")}) == {"type": "postal", "city": "X"}
    assert A.address({"use": "PHYS", "city": t("X")}) == {"type": "physical", "city": "X"}


def test_unstructured_and_empty_addresses():
    assert A.address({"_text": "1 Main St, Springfield"}) == {"text": "1 Main St, Springfield"}
    assert A.address({"houseNumber": t("12"), "streetName": t("Main St"), "city": t("X")}) == \
        {"line": ["12 Main St"], "city": "X"}
    assert A.address({"nullFlavor": "UNK"}) is None
    assert A.address({"use": "HP"}) is None
    assert A.address({"use": "HP", "useablePeriod": {"low": {"value": "2000"}}}) is None
    assert A.address({"streetAddressLine": [{"nullFlavor": "UNK"}], "city": {"nullFlavor": "UNK"}}) is None
    assert A.addresses([{"nullFlavor": "NI"}, {"city": t("X")}]) == [{"city": "X"}]


# ---- telecoms ------------------------------------------------------------------------------------

def test_telecom_schemes():
    assert T.contact_point({"value": "tel:+1(555)867-5309", "use": "HP"}) == \
        {"system": "phone", "value": "+1(555)867-5309", "use": "home"}
    assert T.contact_point({"value": "mailto:a@b.org", "use": "WP"}) == {"system": "email", "value": "a@b.org", "use": "work"}
    assert T.contact_point({"value": "fax:+1-555-1234"}) == {"system": "fax", "value": "+1-555-1234"}
    assert T.contact_point({"value": "http://www.example.org/x"}) == {"system": "url", "value": "http://www.example.org/x"}
    assert T.contact_point({"value": "https://www.example.org"}) == {"system": "url", "value": "https://www.example.org"}


def test_telecom_doubled_schemes_spaces_and_bare_values():
    assert T.contact_point({"value": "tel:tel:555-1234"}) == {"system": "phone", "value": "555-1234"}
    assert T.contact_point({"value": "TEL: +1(555)555-5000"}) == {"system": "phone", "value": "+1(555)555-5000"}
    assert T.contact_point({"value": "mailto:mailto:x@y.z"}) == {"system": "email", "value": "x@y.z"}
    assert T.contact_point({"value": "x@y.z"}) == {"system": "email", "value": "x@y.z"}
    assert T.contact_point({"value": "(555) 555-1234"}) == {"system": "phone", "value": "(555) 555-1234"}
    # a value whose kind is unknown still says a system (FHIR cpt-2)
    assert T.contact_point({"value": "sms:555"}) == {"system": "other", "value": "sms:555"}
    assert T.contact_point({"value": "tel:"}) is None
    assert T.contact_point({"value": "  "}) is None
    assert T.contact_point({"nullFlavor": "UNK"}) is None


def test_telecom_uses():
    assert T.contact_point({"value": "tel:1", "use": "MC"})["use"] == "mobile"
    assert T.contact_point({"value": "tel:1", "use": "WP"})["use"] == "work"
    assert T.contact_point({"value": "tel:1", "use": "TMP"})["use"] == "temp"
    assert T.contact_point({"value": "tel:1", "use": "BAD"})["use"] == "old"
    assert T.contact_point({"value": "tel:1", "use": "H WP"})["use"] == "home"
    # IG: CDA @use='PG' is FHIR system 'pager'
    assert T.contact_point({"value": "tel:1", "use": "PG"})["system"] == "pager"
    assert T.contact_point({"value": "tel:1", "useablePeriod": {"high": {"value": "2019"}}})["period"] == {"end": "2019"}
    assert T.contact_points([{"value": "tel:1", "use": "HP"}, {"value": "tel:1", "use": "HP"},
                             {"value": "tel:1", "use": "WP"}]) == \
        [{"system": "phone", "value": "1", "use": "home"}, {"system": "phone", "value": "1", "use": "work"}]


def test_patient_name_address_telecom_in_a_real_conversion(validate):
    """The CCD's patient: name use L, address HP, telecom HP, exactly as written (CCD.xml lines 41-58)."""
    bundle = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p1")
    patient = resources_of(bundle, "Patient")[0]
    assert validate(patient) == []
    assert {"system": "phone", "value": "+1(555)555-2003", "use": "home"} in patient["telecom"]
    home = [a for a in patient["address"] if a.get("use") == "home"]
    assert home and home[0]["line"] == ["2222 Home Street"] and home[0]["city"] == "Beaverton"
    assert home[0]["state"] == "OR" and home[0]["postalCode"] == "97867" and home[0]["country"] == "US"
    usual = [n for n in patient["name"] if n.get("use") == "usual"]
    assert usual and usual[0]["family"] == "Betterhalf" and usual[0]["given"] == ["Eve"]
    # every ContactPoint in the Bundle has a system (cpt-2)
    for r in resources_of(bundle):
        for cp in r.get("telecom", []):
            assert cp.get("system") and cp.get("value")
