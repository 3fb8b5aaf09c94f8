"""A day window's summary and the daily record: DST days, gaps, EPA's daily AQI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aqistream.windows import daily, epa
from aqistream.windows.localday import day_start_ms, utc_ms, wall_clock_ms
from aqistream.windows.reading import compact_reading


def record(local: str, aqi: int | None = 40, **iaqi: float) -> dict:
    return {
        "station": {"idx": 5419, "name": "Zürich-Kaserne, Switzerland"},
        "observed_at": datetime.fromisoformat(local).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "observed_local": local,
        "aqi": aqi,
        "iaqi": iaqi or {"pm25": 40, "pm10": 12, "t": 4.5},
    }


def summarise(records: list[dict]) -> tuple[daily.Day, int]:
    day = daily.new_day()
    start = None
    for rec in records:
        offset = int(
            datetime.fromisoformat(rec["observed_local"]).utcoffset().total_seconds() // 60
        )
        reading = compact_reading(rec, utc_ms(rec["observed_at"]), offset, 0)
        daily.add(day, reading)
        start = day_start_ms(wall_clock_ms(reading["utc"], offset))
    return day, start


def hours_of(date: str, first: int, last: int, offset_before: str, offset_after: str, switch: int):
    """Local readings on the hour from `first` to `last`, the offset changing at `switch`."""
    base = datetime.fromisoformat(date)
    return [
        f"{(base + timedelta(hours=h)):%Y-%m-%dT%H:%M:%S}"
        + (offset_before if h < switch else offset_after)
        for h in range(first, last + 1)
    ]


def test_a_whole_ordinary_day():
    records = [record(local) for local in hours_of("2026-11-24", 0, 23, "+01:00", "+01:00", 99)]
    day, start = summarise(records)
    result = daily.daily_record(5419, day, start)
    assert result["date"] == "2026-11-24"
    assert (result["start"], result["end"]) == ("2026-11-23T23:00:00Z", "2026-11-24T23:00:00Z")
    assert (result["start_local"], result["end_local"]) == (
        "2026-11-24T00:00:00+01:00",
        "2026-11-25T00:00:00+01:00",
    )
    assert (result["hours"], result["readings"], result["coverage"]) == (24, 24, 1.0)
    assert result["aqi"] == {"mean": 40.0, "min": 40, "max": 40, "readings": 24}
    assert result["iaqi"]["t"] == {"mean": 4.5, "max": 4.5, "readings": 24}
    pm25 = result["daily_aqi"]["pm25"]
    assert pm25 == {
        "concentration": epa.truncate("pm25", epa.concentration_of("pm25", 40)),
        "hours": 24,
        "complete": True,
        "aqi": 40,
        "category": "Good",
    }


def test_the_day_daylight_saving_starts_has_23_hours():
    # Europe, 2026-03-29: 02:00 CET becomes 03:00 CEST.
    local = [t for t in hours_of("2026-03-29", 0, 23, "+01:00", "+02:00", 2)]
    local = [t for t in local if not t.startswith("2026-03-29T02")]
    day, start = summarise([record(t) for t in local])
    result = daily.daily_record(5419, day, start)
    assert (result["start"], result["end"]) == ("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")
    assert (result["hours"], result["readings"], result["coverage"]) == (23, 23, 1.0)
    assert result["end_local"] == "2026-03-30T00:00:00+02:00"


def test_the_day_daylight_saving_ends_has_25_hours_and_counts_the_repeated_hour_twice():
    # Europe, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice.
    local = hours_of("2026-10-25", 0, 2, "+02:00", "+02:00", 99) + hours_of(
        "2026-10-25", 2, 23, "+01:00", "+01:00", 99
    )
    records = [record(t, pm25=30 + i) for i, t in enumerate(local)]
    day, start = summarise(records)
    result = daily.daily_record(5419, day, start)
    assert (result["hours"], result["readings"]) == (25, 25)
    assert result["daily_aqi"]["pm25"]["hours"] == 25  # two distinct clock hours at 02:00
    assert (result["start"], result["end"]) == ("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")


def test_epa_daily_aqi_is_the_aqi_of_the_mean_concentration_not_the_mean_aqi():
    # Half the day at sub-index 20, half at 150: the mean of the sub-indices is 85, but the
    # mean concentration is (4.8 + 55.4) / 2 = 30.1 µg/m³, AQI 89.
    local = hours_of("2026-11-24", 0, 23, "+01:00", "+01:00", 99)
    records = [record(t, pm25=20 if i < 12 else 150) for i, t in enumerate(local)]
    result = daily.daily_record(5419, *summarise(records))
    pm25 = result["daily_aqi"]["pm25"]
    assert pm25["concentration"] == 30.1
    assert pm25["aqi"] == epa.aqi_of("pm25", 30.1) == 89
    assert result["iaqi"]["pm25"]["mean"] == 85


def test_several_readings_in_an_hour_are_averaged_into_that_hour_first():
    records = [record("2026-11-24T10:00:00+01:00", pm25=10)] * 3 + [
        record("2026-11-24T11:00:00+01:00", pm25=100)
    ]
    result = daily.daily_record(5419, *summarise(records))
    pm25 = result["daily_aqi"]["pm25"]
    expected = (epa.concentration_of("pm25", 10) + epa.concentration_of("pm25", 100)) / 2
    assert pm25["hours"] == 2
    assert pm25["concentration"] == epa.truncate("pm25", expected)


def test_a_day_under_75_percent_of_its_hours_has_no_daily_aqi():
    local = hours_of("2026-11-24", 0, 23, "+01:00", "+01:00", 99)
    seventeen = daily.daily_record(5419, *summarise([record(t) for t in local[:17]]))
    eighteen = daily.daily_record(5419, *summarise([record(t) for t in local[:18]]))
    assert seventeen["daily_aqi"]["pm25"]["complete"] is False
    assert seventeen["daily_aqi"]["pm25"]["aqi"] is None
    assert seventeen["daily_aqi"]["pm25"]["category"] is None
    assert seventeen["daily_aqi"]["pm25"]["concentration"] > 0
    assert eighteen["daily_aqi"]["pm25"]["aqi"] == 40
    assert eighteen["coverage"] == pytest.approx(0.75)


def test_readings_without_aqi_and_without_particles():
    records = [record("2026-11-24T10:00:00+01:00", aqi=None, t=3.0, h=80)]
    result = daily.daily_record(5419, *summarise(records))
    assert result["aqi"] is None
    assert result["daily_aqi"] == {}
    assert set(result["iaqi"]) == {"t", "h"}


def test_a_late_reading_within_grace_joins_its_day_whatever_the_order():
    local = hours_of("2026-11-24", 0, 23, "+01:00", "+01:00", 99)
    in_order = daily.daily_record(5419, *summarise([record(t) for t in local]))
    shuffled = [record(t) for t in local[5:]] + [record(t) for t in local[:5]]
    day, _ = summarise(shuffled)
    start = day_start_ms(wall_clock_ms(utc_ms(shuffled[0]["observed_at"]), 60))
    assert daily.daily_record(5419, day, start) == in_order


def test_the_newest_name_wins():
    first = record("2026-11-24T10:00:00+01:00")
    renamed = record("2026-11-24T11:00:00+01:00")
    renamed["station"] = {"idx": 5419, "name": "Zürich (renamed)"}
    result = daily.daily_record(5419, *summarise([renamed, first]))
    assert result["station"]["name"] == "Zürich (renamed)"
