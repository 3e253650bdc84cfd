"""PQ, IVL_PQ, RTO, INT, REAL -> FHIR Quantity, Range, Ratio, numbers (C-CDA on FHIR 'Quantity')."""
from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir.map.datatypes import quantities as Q
from tests.conftest import SAMPLE_CCD, resources_of

UCUM = "http://unitsofmeasure.org"


@pytest.mark.parametrize("raw, expected", [
    ("120", 120),
    ("0", 0),
    ("-5", -5),
    ("+7", 7),
    ("007", 7),
    ("98.6", 98.6),
    ("98,6", 98.6),          # decimal comma
    (" 98.6 ", 98.6),
    ("1 000", 1000),         # a space between digit groups
    ("1,000,000", 1000000),  # commas grouping thousands
    ("1,000.5", 1000.5),
    (".5", 0.5),
    ("5.", 5.0),
    ("1.5e3", 1500.0),
    ("1.5E-3", 0.0015),
    ("2e2", 200.0),
    ("12.0", 12.0),
    ("-0", 0),
    ("9223372036854775807", 9223372036854775807),
])
def test_number(raw, expected):
    got = Q.number(raw)
    assert got == expected
    assert type(got) is type(expected)


def test_integers_stay_integers_and_decimals_stay_decimals():
    assert isinstance(Q.number("120"), int)
    assert isinstance(Q.number("120.0"), float)
    assert orjson.dumps(Q.number("120")) == b"120"
    assert orjson.dumps(Q.number("98,6")) == b"98.6"


@pytest.mark.parametrize("raw", ["abc", "<5", ">=10", "5-10", "NaN", "Infinity", "-inf", "1e", "e5",
                                 "1.2.3", "", "  ", "--1", "5 mg", "0x1F", "1_000", "½"])
def test_not_a_number_is_left_out(raw):
    assert Q.number(raw) is None
    assert Q.quantity({"value": raw, "unit": "mg"}) is None


def test_huge_and_tiny_numbers():
    # 2**63 or more: garbage, left out (never an orjson crash, never an int overflow downstream)
    assert Q.number("123456789012345678901234567890") is None
    assert Q.number("9223372036854775808") is None
    assert Q.number("1e19") is None
    assert Q.number("-9.3e18") is None
    assert Q.number("9.2e18") == 9.2e18
    # out of the range of a double: left out rather than inf or 0
    assert Q.number("1e400") is None
    assert Q.number("-1e400") is None
    assert Q.number("1e-400") is None
    assert Q.number("0e-400") == 0.0
    assert Q.number(float("nan")) is None
    assert Q.number(float("inf")) is None
    assert Q.number(True) is None
    assert Q.number(2 ** 70) is None
    assert Q.number(1e300) is None


def test_quantity_units():
    assert Q.quantity({"value": "120", "unit": "mm[Hg]"}) == \
        {"value": 120, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}
    assert Q.quantity({"value": "2", "unit": "1"}) == {"value": 2, "system": UCUM, "code": "1"}
    # free-text units are not UCUM: unit only
    assert Q.quantity({"value": "2", "unit": "tablets"}) == {"value": 2, "unit": "tablets"}
    assert Q.quantity({"value": "2", "unit": "mm Hg"}) == {"value": 2, "unit": "mm Hg"}
    assert Q.quantity({"value": "37", "unit": "°C"}) == {"value": 37, "unit": "°C"}
    assert Q.quantity({"value": "2", "unit": "  mg  "}) == {"value": 2, "unit": "mg", "system": UCUM,
                                                            "code": "mg"}
    assert Q.quantity({"value": "2"}) == {"value": 2}
    assert Q.quantity({"value": "2", "unit": ""}) == {"value": 2}


def test_quantity_nullflavor_and_absent():
    assert Q.quantity({"nullFlavor": "UNK", "unit": "mg"}) is None
    assert Q.quantity({"unit": "mg"}) is None
    assert Q.quantity(None) is None
    assert Q.quantity([{"value": "1", "unit": "mg"}, {"value": "2"}]) == \
        {"value": 1, "unit": "mg", "system": UCUM, "code": "mg"}


def test_ivl_pq_to_range():
    ivl = {"low": {"value": "4.5", "unit": "10*3/uL"}, "high": {"value": "11", "unit": "10*3/uL"}}
    assert Q.range_({**ivl}) == {"low": {"value": 4.5, "unit": "10*3/uL", "system": UCUM, "code": "10*3/uL"},
                                 "high": {"value": 11, "unit": "10*3/uL", "system": UCUM, "code": "10*3/uL"}}
    assert Q.range_({"high": {"value": "200", "unit": "mg/dL"}}) == \
        {"high": {"value": 200, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}}
    assert Q.range_({"low": {"nullFlavor": "NINF"}, "high": {"value": "5"}}) == {"high": {"value": 5}}
    assert Q.range_({"value": "3", "unit": "mg"})["low"] == Q.range_({"value": "3", "unit": "mg"})["high"]
    assert Q.range_({"low": {"value": "x"}}) is None
    assert Q.range_(None) is None
    from ccda2fhir.map.engine.registry import FILTERS
    assert FILTERS["range_pq"] is Q.range_


def test_rto_to_ratio():
    rto = {"numerator": {"value": "1", "unit": "mg"}, "denominator": {"value": "5", "unit": "mL"}}
    assert Q.ratio(rto) == {"numerator": {"value": 1, "unit": "mg", "system": UCUM, "code": "mg"},
                            "denominator": {"value": 5, "unit": "mL", "system": UCUM, "code": "mL"}}
    assert Q.ratio({"numerator": {"value": "1"}}) == {"numerator": {"value": 1}}
    assert Q.ratio({"numerator": {"nullFlavor": "UNK"}}) is None
    assert Q.ratio("x") is None


def test_quantities_list():
    assert Q.quantities([{"value": "1"}, {"value": "bad"}, {"nullFlavor": "NI"}, {"value": "2,5"}]) == \
        [{"value": 1}, {"value": 2.5}]


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.text(max_size=25),
                 st.from_regex(r"^[+-]?[0-9,. ]{0,12}([eE][+-]?[0-9]{1,4})?$", fullmatch=True),
                 st.decimals(allow_nan=False, allow_infinity=False).map(str),
                 st.floats().map(repr), st.integers().map(str)))
def test_any_value_string_gives_a_finite_json_number_or_nothing(raw):
    v = Q.number(raw)
    if v is None:
        return
    assert type(v) in (int, float)
    assert math.isfinite(v) and abs(v) < 2 ** 63
    orjson.dumps(v)
    orjson.dumps(int(v))  # callers making an int of it never overflow
    q = Q.quantity({"value": raw, "unit": "mg"})
    assert q["value"] == v


def test_pq_in_a_real_conversion():
    """The CCD's vital signs and results: numeric values exactly as written, UCUM units."""
    bundle = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p1")
    quantities = [o["valueQuantity"] for o in resources_of(bundle, "Observation") if "valueQuantity" in o]
    assert quantities
    for q in quantities:
        assert type(q["value"]) in (int, float)
        if "code" in q:
            assert q["system"] == UCUM
    # <value xsi:type="PQ" value="177" unit="cm"/> in the vital signs organizer
    xml = SAMPLE_CCD.read_text()
    assert 'value="177" unit="cm"' in xml
    assert {"value": 177, "unit": "cm", "system": UCUM, "code": "cm"} in quantities
    raw = json.dumps(bundle)
    assert "NaN" not in raw and "Infinity" not in raw
