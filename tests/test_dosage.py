"""Medication timing (effectiveTime list -> FHIR Timing) and dosage pieces: PIVL/EIVL edge cases."""
from __future__ import annotations

from ccda2fhir.map.shared.dosage import (as_needed, bounds_of, dose_and_rate, effective_datetime,
                                          effective_period, timing)


def ivl(low=None, high=None, value=None, high_nf=None):
    et = {"xsi_type": "IVL_TS"}
    if low:
        et["low"] = {"value": low}
    if high:
        et["high"] = {"value": high}
    if high_nf:
        et["high"] = {"nullFlavor": high_nf}
    if value:
        et["value"] = value
    return et


def pivl(value=None, unit=None, institution=None, low=None, high=None, phase=None):
    et = {"xsi_type": "PIVL_TS", "operator": "A"}
    if value is not None:
        et["period"] = {"value": value, "unit": unit}
    else:
        et["period"] = {"xsi_type": "IVL_PQ", "low": {"value": low, "unit": unit},
                        "high": {"value": high, "unit": unit}}
    if institution is not None:
        et["institutionSpecified"] = institution
    if phase is not None:
        et["phase"] = phase
    return et


def eivl(code, offset=None):
    et = {"xsi_type": "EIVL_TS", "operator": "A", "event": {"code": code}}
    if offset is not None:
        et["offset"] = offset
    return et


def test_every_8_hours_is_one_per_8_h():
    t = timing([pivl("8", "h")])
    assert t == {"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}}


def test_institution_specified_8_h_is_tid():
    # C-CDA writes TID as period 8 h, institutionSpecified true -> 3 times per 1 d
    t = timing([pivl("8", "h", institution="true")])
    assert t["repeat"] == {"frequency": 3, "period": 1, "periodUnit": "d"}


def test_institution_specified_5_h_does_not_divide_a_day():
    t = timing([pivl("5", "h", institution="true")])
    assert t["repeat"] == {"frequency": 1, "period": 5, "periodUnit": "h"}


def test_half_day_period_is_twice_a_day():
    t = timing([pivl(".5", "d", institution="true")])
    assert t["repeat"] == {"frequency": 2, "period": 1, "periodUnit": "d"}


def test_fractional_period_not_dividing_stays_decimal():
    t = timing([pivl("1.5", "h")])
    assert t["repeat"] == {"frequency": 1, "period": 1.5, "periodUnit": "h"}


def test_period_range_gives_period_max():
    t = timing([pivl(low="4", high="6", unit="h")])
    assert t["repeat"] == {"frequency": 1, "period": 4, "periodMax": 6, "periodUnit": "h"}


def test_weekly_and_spelled_units():
    assert timing([pivl("1", "wk")])["repeat"]["periodUnit"] == "wk"
    assert timing([pivl("2", "hr")])["repeat"] == {"frequency": 1, "period": 2, "periodUnit": "h"}
    assert timing([pivl("1", "mo")])["repeat"]["periodUnit"] == "mo"


def test_unknown_period_unit_is_left_out():
    assert timing([pivl("3", "tablets")]) is None
    assert timing([pivl("0", "h")]) is None


def test_phase_gives_time_of_day_and_day_of_week():
    daily = pivl("24", "h", phase={"low": {"value": "198701010800"}})
    assert timing([daily])["repeat"]["timeOfDay"] == ["08:00:00"]
    # 2024-01-01 was a Monday
    weekly = pivl("1", "wk", phase={"low": {"value": "20240101"}, "width": {"value": "10", "unit": "min"}})
    rep = timing([weekly])["repeat"]
    assert rep["dayOfWeek"] == ["mon"]
    assert rep["duration"] == 10 and rep["durationUnit"] == "min"


def test_eivl_events_map_to_when():
    assert timing([eivl("HS")])["repeat"] == {"when": ["HS"]}
    assert timing([eivl("ACM")])["repeat"] == {"when": ["ACM"]}
    assert timing([eivl("pcv")])["repeat"] == {"when": ["PCV"]}


def test_eivl_offset_in_minutes():
    t = timing([eivl("AC", {"low": {"value": "1", "unit": "h"}})])
    assert t["repeat"] == {"when": ["AC"], "offset": 60}
    t = timing([eivl("PC", {"width": {"value": "30", "unit": "min"}})])
    assert t["repeat"]["offset"] == 30
    t = timing([eivl("C", {"value": "1", "unit": "d"})])
    assert t["repeat"]["offset"] == 1440


def test_eivl_event_not_in_fhir_value_set_goes_to_code_text():
    t = timing([{"xsi_type": "EIVL_TS", "event": {"code": "ICM", "displayName": "between breakfast and lunch"}}])
    assert t == {"code": {"text": "between breakfast and lunch"}}


def test_two_eivl_events_both_kept():
    t = timing([eivl("ACM"), eivl("ACV")])
    assert t["repeat"]["when"] == ["ACM", "ACV"]


def test_bounds_period_and_event():
    t = timing([ivl("20140118", high_nf="NI"), pivl("6", "h")])
    assert t["repeat"]["boundsPeriod"] == {"start": "2014-01-18"}
    t = timing([ivl(value="20130911160300-0700")])
    assert t == {"event": ["2013-09-11T16:03:00-07:00"]}
    assert timing([ivl("20140118"), pivl("6", "h")], bounds=False) == {
        "repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}}


def test_pivl_first_without_ivl():
    et = [pivl("12", "h")]
    assert bounds_of(et) is None
    assert timing(et)["repeat"]["period"] == 12


def test_sxpr_parts_are_read():
    sxpr = {"xsi_type": "SXPR_TS", "comp": [eivl("ACM"), pivl("1", "d")]}
    t = timing([ivl("20200101"), sxpr])
    assert t["repeat"]["when"] == ["ACM"]
    assert t["repeat"]["period"] == 1
    assert t["repeat"]["boundsPeriod"] == {"start": "2020-01-01"}


def test_effective_period_and_datetime():
    assert effective_period([ivl("20140409", "20140510235959-0500")]) == {
        "start": "2014-04-09", "end": "2014-05-10T23:59:59-05:00"}
    assert effective_datetime([ivl("20140409")]) is None
    assert effective_datetime([{"value": "20130911"}, pivl("8", "h")]) == "2013-09-11"
    assert effective_period([]) is None


def test_dose_and_rate_quantity_and_range():
    assert dose_and_rate({"doseQuantity": {"value": "2"}}) == [{"doseQuantity": {"value": 2}}]
    rng = dose_and_rate({"doseQuantity": {"xsi_type": "IVL_PQ", "low": {"value": "1", "unit": "mg"},
                                          "high": {"value": "2", "unit": "mg"}},
                         "rateQuantity": {"value": "100", "unit": "mL/h"}})
    assert rng[0]["doseRange"]["low"]["value"] == 1 and rng[0]["doseRange"]["high"]["value"] == 2
    assert rng[0]["rateQuantity"] == {"value": 100, "unit": "mL/h", "system": "http://unitsofmeasure.org",
                                      "code": "mL/h"}
    assert dose_and_rate({"doseQuantity": {"nullFlavor": "UNK"}}) == []


def test_as_needed():
    assert as_needed({}) == {}
    coded = {"precondition": [{"criterion": {"value": [{"code": "49727002", "codeSystem": "2.16.840.1.113883.6.96",
                                                        "displayName": "Cough"}]}}]}
    assert as_needed(coded)["asNeededCodeableConcept"]["coding"][0]["code"] == "49727002"
    assert as_needed({"precondition": [{"criterion": {"value": [{"nullFlavor": "NI"}]}}]}) == {"asNeededBoolean": True}


def test_rounded_fraction_of_a_day_is_a_frequency():
    assert timing([pivl(".3333333333333333333", "d", institution="true")])["repeat"] == {
        "frequency": 3, "period": 1, "periodUnit": "d"}
    assert timing([pivl("0.3333", "wk")])["repeat"] == {"frequency": 3, "period": 1, "periodUnit": "wk"}
    assert timing([pivl(".25", "d")])["repeat"] == {"frequency": 4, "period": 1, "periodUnit": "d"}
    # 0.4 d is not a whole fraction: kept as written
    assert timing([pivl("0.4", "d")])["repeat"] == {"frequency": 1, "period": 0.4, "periodUnit": "d"}


def test_institution_specified_24_h_is_once_a_day():
    assert timing([pivl("24", "h", institution="true")])["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert timing([pivl("24", "h")])["repeat"] == {"frequency": 1, "period": 24, "periodUnit": "h"}


def test_center_gives_event():
    assert timing([{"xsi_type": "IVL_TS", "center": {"value": "199911"}}]) == {"event": ["1999-11"]}
    assert effective_datetime([{"xsi_type": "IVL_TS", "center": {"value": "199911"}}]) == "1999-11"
