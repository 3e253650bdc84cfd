"""II -> FHIR Identifier, per the C-CDA on FHIR table 'CDA id -> FHIR Identifier with Example Mapping'."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccda2fhir.assemble.ids import ii_key
from ccda2fhir.map.datatypes import identifiers as I
from ccda2fhir.validate.schema import schema as fhir_schema

SCHEMA = fhir_schema()["definitions"]
URI = re.compile(SCHEMA["uri"]["pattern"])
RFC3986 = "urn:ietf:rfc:3986"


# Every row of the IG table, in order
@pytest.mark.parametrize("root, ext, expected", [
    ("2.16.840.1.113883.4.1", "123-45-6789", {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "123-45-6789"}),
    ("2.16.840.1.113883.4.500", "12345V7890", {"system": "urn:oid:2.16.840.1.113883.4.500", "value": "12345V7890"}),
    ("2.16.840.1.123.4.50.123456789", None, {"system": RFC3986, "value": "urn:oid:2.16.840.1.123.4.50.123456789"}),
    ("67265ED2-35BB-43F8-B9DE-91C5935625E0", None,
     {"system": RFC3986, "value": "urn:uuid:67265ed2-35bb-43f8-b9de-91c5935625e0"}),
    ("67265ED2-35BB-43F8-B9DE-91C5935625E0", "abcd",
     {"system": "urn:uuid:67265ed2-35bb-43f8-b9de-91c5935625e0", "value": "abcd"}),
    (None, "Z1124", {"value": "Z1124"}),
    ("2.16.840.1.113883.4.873", "http://myorg.com/patient/1234", {"system": "http://myorg.com/patient", "value": "1234"}),
    ("2.16.840.1.113883.4.873", "urn:myNID:myOrg:Z3321", {"system": "urn:myNID:myOrg", "value": "Z3321"}),
])
def test_ig_table(root, ext, expected):
    ii = {k: v for k, v in (("root", root), ("extension", ext)) if v is not None}
    assert I.identifier(ii) == expected


def test_known_systems():
    assert I.identifier({"root": "2.16.840.1.113883.4.6", "extension": "1234567893"}) == \
        {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}
    # IG note 1: a known system's OID alone is not an identifier value
    assert I.identifier({"root": "2.16.840.1.113883.4.6"}) is None
    assert I.identifier({"root": "2.16.840.1.113883.4.1"}) is None


def test_nullflavor():
    assert I.identifier({"nullFlavor": "UNK"}) is None
    assert I.identifier({"root": "2.16.840.1.113883.4.6", "nullFlavor": "UNK"}) is None
    # the root of an unknown id is its namespace, not its value
    assert I.identifier({"root": "2.16.840.1.113883.19.5", "nullFlavor": "NI"}) is None
    assert I.identifier({"root": "2.16.840.1.113883.4.1", "extension": "xxx-xx-1234", "nullFlavor": "MSK"}) == \
        {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "xxx-xx-1234"}


def test_odd_roots_and_extensions():
    assert I.identifier({"root": " 2.16.840.1.113883.19.5 ", "extension": " 42 "}) == \
        {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "42"}
    assert I.identifier({"root": "1.2.840.0114350.1.13", "extension": "7"}) == \
        {"system": "urn:oid:1.2.840.0114350.1.13", "value": "7"}
    # not a UID: no system can be made from it, the value is kept
    assert I.identifier({"root": "MRN NUMBER", "extension": "7"}) == {"value": "7"}
    assert I.identifier({"root": "LOCAL-THING"}) == {"value": "LOCAL-THING"}
    # URI OID with an extension that is no URL/URN: the value alone
    assert I.identifier({"root": "2.16.840.1.113883.4.873", "extension": "plain"}) == {"value": "plain"}
    assert I.identifier({"root": "2.16.840.1.113883.4.873", "extension": "http://x.org/"}) == {"value": "http://x.org/"}
    assert I.identifier({"root": "2.16.840.1.113883.19", "extension": "1", "assigningAuthorityName": " Good  Health "}) == \
        {"system": "urn:oid:2.16.840.1.113883.19", "value": "1", "assigner": {"display": "Good Health"}}
    assert I.identifier({}) is None
    assert I.identifier({"root": " ", "extension": " "}) is None
    assert I.identifier(None) is None
    assert I.identifier("x") is None


def test_identifiers_list_deduplicates():
    ids = [{"root": "2.16.840.1.113883.19", "extension": "1"}, {"nullFlavor": "NI"},
           {"root": "2.16.840.1.113883.19", "extension": "1"}, {"root": "AB12CD34-0000-0000-0000-000000000000"}]
    assert I.identifiers(ids) == [{"system": "urn:oid:2.16.840.1.113883.19", "value": "1"},
                                  {"system": RFC3986, "value": "urn:uuid:ab12cd34-0000-0000-0000-000000000000"}]


def test_id_key():
    assert I.id_key([{"root": "AB12CD34-0000-0000-0000-000000000000"}]) == "ab12cd34-0000-0000-0000-000000000000|"
    assert I.id_key({"root": "1.2.3", "extension": "x"}) == "1.2.3|x"
    assert I.id_key([{"root": "1.2.3", "extension": "x"}, {"root": "1.2.4"}]) == "1.2.3|x 1.2.4|"
    # identifies nothing: no key, so the resource is keyed by its content and never merged
    assert I.id_key({"nullFlavor": "UNK"}) is None
    assert I.id_key({"root": "2.16.840.1.113883.4.6", "nullFlavor": "UNK"}) is None
    assert I.id_key({"root": "2.16.840.1.113883.4.6"}) is None
    assert I.id_key({"root": "1.2.3", "nullFlavor": "NI"}) is None
    assert I.id_key([]) is None
    assert ii_key({"root": "2.16.840.1.113883.4.6", "extension": "123"}) == "2.16.840.1.113883.4.6|123"


ii_strategy = st.fixed_dictionaries({}, optional={
    "root": st.one_of(st.text(max_size=20), st.uuids().map(lambda u: str(u).upper()),
                      st.sampled_from(["2.16.840.1.113883.4.873", "2.16.840.1.113883.4.6", "1.2.3"])),
    "extension": st.one_of(st.text(max_size=20), st.sampled_from(["http://a.b/c", "urn:a:b", "http://", "/", ":"])),
    "nullFlavor": st.sampled_from(["UNK", "NI"]),
    "assigningAuthorityName": st.text(max_size=5)})


@settings(max_examples=1000, deadline=None)
@given(ii_strategy)
def test_identifiers_are_never_empty_and_systems_are_uris(ii):
    ident = I.identifier(ii)
    if ident is None:
        return
    assert isinstance(ident.get("value"), str) and ident["value"].strip() == ident["value"] and ident["value"]
    if "system" in ident:
        assert ident["system"] and URI.match(ident["system"]) and ":" in ident["system"], ident
    if "assigner" in ident:
        assert ident["assigner"]["display"].strip()
    key = ii_key(ii)
    assert key is None or key.strip()
