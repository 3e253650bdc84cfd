"""TS / IVL_TS -> FHIR date, dateTime, instant, Period (C-CDA on FHIR 'CDA <-> FHIR Time/Dates')."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir.map.datatypes import dates as D
from ccda2fhir.validate.schema import schema as fhir_schema
from tests.conftest import SAMPLE_CCD, resources_of

SCHEMA = fhir_schema()["definitions"]
DATETIME = re.compile(SCHEMA["dateTime"]["pattern"])
DATE = re.compile(SCHEMA["date"]["pattern"])
INSTANT = re.compile(SCHEMA["instant"]["pattern"])


@pytest.mark.parametrize("ts, expected", [
    # the IG's own table
    ("2023", "2023"),
    ("202305", "2023-05"),
    ("20230531", "2023-05-31"),
    ("202305312205-0500", "2023-05-31T22:05:00-05:00"),
    # 10, 12 and 14 digits, with offsets in every shape senders write
    ("2023053122+0500", "2023-05-31T22:00:00+05:00"),
    ("20230531220512-0500", "2023-05-31T22:05:12-05:00"),
    ("20230531220512-05", "2023-05-31T22:05:12-05:00"),
    ("20230531220512+05:30", "2023-05-31T22:05:12+05:30"),
    ("20230531220512Z", "2023-05-31T22:05:12Z"),
    ("20230531220512+0000", "2023-05-31T22:05:12+00:00"),
    ("20230531220512+1400", "2023-05-31T22:05:12+14:00"),
    # fractional seconds kept (with offset), dropped with the time when there is no offset
    ("20230531220512.123-0500", "2023-05-31T22:05:12.123-05:00"),
    ("20230531220512.5", "2023-05-31"),
    # a time of day without an offset drops to date precision (IG: never invent a zone)
    ("20230531220512", "2023-05-31"),
    ("202305312205", "2023-05-31"),
    ("2023053122", "2023-05-31"),
    # an offset on a date alone is harmless
    ("20230531-0500", "2023-05-31"),
    # ISO 8601 that some senders put in TS values
    ("2023-05-31", "2023-05-31"),
    ("2023-05", "2023-05"),
    ("2023-05-31T22:05:12-05:00", "2023-05-31T22:05:12-05:00"),
    ("2023-05-31T22:05:12.250Z", "2023-05-31T22:05:12.250Z"),
    ("2023-05-31 22:05", "2023-05-31"),
    ("  20230531  ", "2023-05-31"),
    # an unreadable offset: the time cannot be placed, the day is kept
    ("198506221100-05AB", "1985-06-22"),
    ("20230531-0500x", "2023-05-31"),
    # leap day, leap second
    ("20240229", "2024-02-29"),
    ("20161231235960+0000", "2016-12-31T23:59:60+00:00"),
])
def test_datetime(ts, expected):
    assert D.datetime({"value": ts}) == expected
    assert D.datetime(ts) == expected
    assert DATETIME.match(expected)


@pytest.mark.parametrize("ts", [
    "20230230",        # 30 February
    "20230229",        # not a leap year
    "20231301",        # month 13
    "20230001",        # month 0
    "20230100",        # day 0
    "200130311",       # nine digits
    "2023053125",      # hour 25
    "202305312260",    # minute 60
    "20230531220561",  # second 61
    "00000101",        # year 0
    "2023-02-30",
    "May 5, 2023",
    "2023/05/31",
    "20230531T2205",
    "NI",
    "1",
    "",
    "   ",
])
def test_impossible_or_malformed_dates_are_left_out(ts):
    assert D.datetime({"value": ts}) is None
    assert D.date({"value": ts}) is None
    assert D.instant({"value": ts}) is None
    assert D.period({"low": {"value": ts}}) is None


@pytest.mark.parametrize("ts, expected", [
    ("20230531220512+1430", "2023-05-31"),  # FHIR allows offsets up to 14:00 only
    ("20230531220512+1500", "2023-05-31"),
    ("20230531220512-0575", "2023-05-31"),
])
def test_impossible_offset_drops_the_time(ts, expected):
    assert D.datetime(ts) == expected


def test_what_is_left_out_or_cut_is_reported():
    from ccda2fhir.map.state import Conversion
    with Conversion({"header": {}, "narrative": {}}, "p") as conv:
        conv.where = {"section": "s", "line": 7}
        assert D.datetime("20230230") is None
        assert D.datetime("200130311") is None
        assert D.datetime("198506221100-05AB") == "1985-06-22"
        assert D.datetime("20230531220512+1430") == "2023-05-31"
        assert D.datetime({"nullFlavor": "UNK"}) is None       # a null is no error
        assert D.datetime("20230531220512") == "2023-05-31"   # no offset: silently day precision (IG)
    reasons = [(i.level, i.reason, i.line) for i in conv.report.issues]
    assert reasons == [
        ("partial", "date '20230230' has an impossible day; left out", 7),
        ("partial", "date '200130311' is not a valid TS; left out", 7),
        ("partial", "date '198506221100-05AB' has an unreadable UTC offset; kept to the day", 7),
        ("partial", "date '20230531220512+1430' has an impossible UTC offset; kept to the day", 7),
    ]
    with Conversion({"header": {}, "narrative": {}}, "p") as conv:
        D.period({"low": {"value": "2013"}, "high": {"value": "2008"}})
    assert [i.reason for i in conv.report.issues] == ["period ends (2008) before it starts (2013); end left out"]


def test_nullflavor_and_absent_values():
    assert D.datetime({"nullFlavor": "UNK"}) is None
    assert D.datetime({"nullFlavor": "NI", "value": "2023"}) == "2023"  # a value wins over nullFlavor
    assert D.datetime(None) is None
    assert D.datetime([]) is None
    assert D.datetime({}) is None
    assert D.period({"nullFlavor": "UNK"}) is None
    assert D.period({"low": {"nullFlavor": "UNK"}, "high": {"value": "2020"}}) == {"end": "2020"}


def test_date_filter_keeps_precision_and_drops_time():
    assert D.date("20230531220512-0500") == "2023-05-31"
    assert D.date("202305") == "2023-05"
    assert D.date("2023") == "2023"


def test_instant_needs_full_time_and_offset():
    assert D.instant("20230531220512-0500") == "2023-05-31T22:05:12-05:00"
    assert D.instant("202305312205-0500") == "2023-05-31T22:05:00-05:00"
    assert D.instant("20230531220512") is None   # no offset
    assert D.instant("20230531") is None          # no time
    assert D.instant("202305+0500") is None       # no day


def test_ivl_ts_to_period_and_points():
    ivl = {"low": {"value": "20230101"}, "high": {"value": "202302011200-0500"}}
    assert D.period(ivl) == {"start": "2023-01-01", "end": "2023-02-01T12:00:00-05:00"}
    assert D.period({"low": {"value": "20230101"}}) == {"start": "2023-01-01"}
    assert D.period({"high": {"value": "20230101"}}) == {"end": "2023-01-01"}
    # a point in time: @value or center; dateTime and start read it, a Period does not invent one
    assert D.period({"value": "20230101"}) is None
    assert D.datetime({"value": "20230101"}) == "2023-01-01"
    assert D.datetime({"center": {"value": "20230101"}}) == "2023-01-01"
    assert D.start({"value": "20230101"}) == "2023-01-01"
    assert D.start({"center": {"value": "20230102"}}) == "2023-01-02"
    assert D.start(ivl) == "2023-01-01"
    assert D.end(ivl) == "2023-02-01T12:00:00-05:00"
    assert D.end({"value": "2023"}) is None
    # lists (effectiveTime repeats under substanceAdministration) use the first
    assert D.period([ivl, {"low": {"value": "1999"}}]) == D.period(ivl)


def test_period_ending_before_it_starts_keeps_the_start():
    """FHIR per-1 (start <= end); 50 such periods are in the corpus (e.g. low 20130703, high 20080814)."""
    assert D.period({"low": {"value": "20130703"}, "high": {"value": "20080814"}}) == {"start": "2013-07-03"}
    assert D.period({"low": {"value": "20130130090051"}, "high": {"value": "20120130080051-0500"}}) == \
        {"start": "2013-01-30"}
    # compared as instants when both have an offset: 09:00+05:00 is after 09:00+06:00
    assert D.period({"low": {"value": "20130130090051+0500"}, "high": {"value": "20130130090051+0600"}}) == \
        {"start": "2013-01-30T09:00:51+05:00"}
    assert D.period({"low": {"value": "20130130090051+0500"}, "high": {"value": "20130130090051+0400"}}) == \
        {"start": "2013-01-30T09:00:51+05:00", "end": "2013-01-30T09:00:51+04:00"}
    # different precisions compare at the precision both have: not an error
    assert D.period({"low": {"value": "2013"}, "high": {"value": "20130101"}}) == {"start": "2013", "end": "2013-01-01"}
    assert D.period({"low": {"value": "20130101"}, "high": {"value": "2013"}}) == {"start": "2013-01-01", "end": "2013"}
    assert D.period({"low": {"value": "20130101"}, "high": {"value": "20130101"}}) == \
        {"start": "2013-01-01", "end": "2013-01-01"}


def test_earliest_and_latest():
    times = [{"value": "20230105"}, {"value": "2022"}, {"value": "bad"}, {"value": "20230301"}]
    assert D.earliest(times) == "2022"
    assert D.latest(times) == "2023-03-01"
    assert D.earliest([]) is None


# any string at all: whatever comes out is a valid FHIR date/dateTime/instant, or nothing
_TS_ALPHABET = st.sampled_from(list("0123456789") * 4 + list("+-.:TZ ") + ["", "60", "99", "13", "00"])
ts_like = st.lists(_TS_ALPHABET, min_size=0, max_size=26).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(ts_like, st.text(max_size=30)))
def test_any_ts_gives_valid_fhir_or_nothing(raw):
    dt = D.datetime({"value": raw})
    assert dt is None or DATETIME.match(dt), dt
    d = D.date({"value": raw})
    assert d is None or DATE.match(d), d
    i = D.instant({"value": raw})
    assert i is None or INSTANT.match(i), i


@settings(max_examples=500, deadline=None)
@given(st.datetimes(), st.integers(-14 * 60, 14 * 60), st.integers(4, 14), st.booleans())
def test_real_timestamps_round_trip(moment, offset_min, digits, with_offset):
    full = f"{moment.year:04d}" + moment.strftime("%m%d%H%M%S")
    if full.startswith("0000"):
        return
    digits = digits if digits % 2 == 0 else digits - 1
    sign = "+" if offset_min >= 0 else "-"
    off = f"{sign}{abs(offset_min) // 60:02d}{abs(offset_min) % 60:02d}"
    ts = full[:digits] + (off if with_offset else "")
    out = D.datetime(ts)
    assert out is not None and DATETIME.match(out)
    date_part = out[:10]
    assert date_part.replace("-", "") == full[:min(digits, 8)]
    if digits > 8 and with_offset:
        assert out.endswith(f"{off[:3]}:{off[3:]}")
        assert out[11:13] == full[8:10]
    else:
        assert "T" not in out


def test_impossible_date_is_left_out_and_reported_in_a_real_conversion():
    """Allergy onset 19980501 in the HL7 CCD becomes 19980230: no onset, a partial issue saying so."""
    xml = SAMPLE_CCD.read_text()
    good, good_report = ccda2fhir.convert(xml, "p1", report=True)
    onsets = [a.get("onsetDateTime") for a in resources_of(good, "AllergyIntolerance")]
    assert "1998-05-01" in onsets
    assert not [i for i in good_report.issues if "19980230" in i.reason]

    bad_xml = xml.replace('<low value="19980501" />', '<low value="19980230" />', 1)
    assert bad_xml != xml
    bad, report = ccda2fhir.convert(bad_xml, "p1", report=True)
    assert "1998-05-01" not in [a.get("onsetDateTime") for a in resources_of(bad, "AllergyIntolerance")]
    for r in resources_of(bad):
        assert "19980230" not in json.dumps(r) and "1998-02-30" not in json.dumps(r)
    issues = [i for i in report.issues if "19980230" in i.reason]
    assert issues, report.issues
    assert all(i.level == "partial" for i in issues)
    assert any("impossible" in i.reason for i in issues)
    assert any(i.line and i.section for i in issues)  # says where


def test_offsets_are_kept_in_a_real_conversion():
    """The CCD's allergy concern low 199805011145-0800 keeps its offset (recordedDate)."""
    bundle = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p1")
    recorded = {a.get("recordedDate") for a in resources_of(bundle, "AllergyIntolerance")}
    assert "1998-05-01T11:45:00-08:00" in recorded


@settings(max_examples=500, deadline=None)
@given(ts_like, ts_like)
def test_any_period_is_valid_and_never_ends_before_it_starts(low, high):
    p = D.period({"low": {"value": low}, "high": {"value": high}})
    if p is None:
        return
    for v in p.values():
        assert DATETIME.match(v)
    if "start" in p and "end" in p:
        assert not D._after(p["start"], p["end"])
