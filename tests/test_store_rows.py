"""Record -> row: the values each column gets, and what no database could store."""

from __future__ import annotations

import json

import pytest

from aqistream.record import InvalidRecord
from aqistream.store.rows import (
    REJECTED_PREFIX,
    alert_row,
    daily_row,
    nowcast_row,
    reading_row,
    rejected_row,
    station_rows,
)
from aqistream.store.schema import ALERTS, DAILY_AQI, IAQI_COLUMNS, NOWCASTS, READINGS
from tests.databases import history


def record(**changes) -> dict:
    base = history(1, 1)[0]
    base.update(changes)
    return base


def as_dict(row: tuple) -> dict:
    return dict(zip(READINGS.column_names, row, strict=True))


def test_a_row_holds_every_column_of_the_record():
    source = record()
    source["station"]["geo"] = [47.377, 8.53]
    source["iaqi"] = {"pm25": 24, "pm10": 7, "o3": 10.3, "t": -6, "wg": 3.5}
    row = as_dict(reading_row(source, 2, 41))
    assert row["station_idx"] == source["station"]["idx"]
    assert row["observed_at"] == source["observed_at"]
    assert row["observed_local"] == source["observed_local"]
    assert row["station_name"] == source["station"]["name"]
    assert (row["lat"], row["lng"]) == (47.377, 8.53)
    assert row["aqi"] == source["aqi"] and row["dominant_pollutant"] == "pm25"
    assert (row["pm25"], row["pm10"], row["o3"], row["t"]) == (24, 7, 10.3, -6)
    assert all(row[name] is None for name in ("no2", "so2", "co", "h", "p", "w"))
    assert json.loads(row["iaqi"]) == source["iaqi"]  # every key, "wg" too
    assert json.loads(row["attributions"]) == source["attributions"]
    assert row["fetched_at"] == source["fetched_at"]
    assert (row["kafka_partition"], row["kafka_offset"]) == (2, 41)


def test_missing_geo_and_aqi_are_nulls():
    source = record(aqi=None, dominant_pollutant=None)
    source["station"]["geo"] = None
    row = as_dict(reading_row(source, 0, 0))
    assert row["lat"] is row["lng"] is row["aqi"] is row["dominant_pollutant"] is None


def test_text_no_database_stores_is_cleaned_not_refused():
    source = record()
    source["station"]["name"] = "Bad \ud800 name\x00 here"
    source["iaqi"] = {"pm25": 5, "odd\x00key": 1, "\udfffx": 2}
    source["attributions"] = [{"name": "nul\x00", "url": None}]
    row = as_dict(reading_row(source, 0, 0))
    assert row["station_name"] == "Bad  name here"
    row["station_name"].encode("utf-8")
    assert "\\u0000" not in row["iaqi"] and "\\u0000" not in row["attributions"]
    assert json.loads(row["iaqi"]) == {"pm25": 5, "oddkey": 1, "x": 2}
    assert json.loads(row["attributions"]) == [{"name": "nul", "url": None}]


def test_non_finite_and_huge_numbers_become_nulls():
    source = record()
    source["iaqi"] = {"pm25": float("inf"), "pm10": 10**400, "o3": float("nan"), "t": 1.5}
    row = as_dict(reading_row(source, 0, 0))
    assert row["pm25"] is None and row["pm10"] is None and row["o3"] is None
    assert row["t"] == 1.5
    assert json.loads(row["iaqi"])["pm25"] is None


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"aqi": 2**31}, "aqi"),
        ({"observed_at": "2026-02-30T10:00:00Z"}, "not a real date"),
        ({"fetched_at": "0000-01-01T00:00:00.000Z"}, "not a real date"),
    ],
)
def test_records_no_database_can_hold_are_invalid(changes, why):
    with pytest.raises(InvalidRecord, match=why):
        reading_row(record(**changes), 0, 0)
    huge = record()
    huge["station"]["idx"] = -(2**40)
    with pytest.raises(InvalidRecord, match="station.idx"):
        reading_row(huge, 0, 0)


def test_one_station_row_per_station_with_its_first_and_newest_reading():
    records = history(2, 3)
    rows = [reading_row(r, 0, n) for n, r in enumerate(records)]
    rows.reverse()  # order within a batch does not matter
    urls = {r["station"]["idx"]: r["station"]["url"] for r in records}
    stations = {row[0]: row for row in station_rows(rows, urls)}
    assert len(stations) == 2
    for idx, row in stations.items():
        mine = [r for r in records if r["station"]["idx"] == idx]
        newest = max(mine, key=lambda r: r["observed_at"])
        assert row == (
            idx, newest["station"]["name"], *newest["station"]["geo"], urls[idx],
            min(r["observed_at"] for r in mine), newest["observed_at"], newest["aqi"],
        )  # fmt: skip


def test_a_rejected_row_keeps_where_why_and_the_first_bytes():
    value = b"x" * 1000
    assert rejected_row("t", 1, 7, "not JSON", value) == ("t", 1, 7, "not JSON", value[:200])
    assert len(rejected_row("t", 1, 7, "why", value)[4]) == REJECTED_PREFIX
    assert rejected_row("t", 1, 8, "empty", None)[4] is None


def test_every_common_sub_index_has_its_column():
    assert set(IAQI_COLUMNS) <= set(READINGS.column_names)


# ------------------------------------------------------------ aggregator.py's three kinds

# Values of a real aggregator.py run (the README's examples), as the decoders return them.
DAY = {
    "kind": "daily", "schema_version": 1,
    "station": {"idx": 5419, "name": "Zürich-Kaserne, Switzerland"},
    "date": "2026-11-24", "start": "2026-11-23T23:00:00Z", "end": "2026-11-24T23:00:00Z",
    "start_local": "2026-11-24T00:00:00+01:00", "end_local": "2026-11-25T00:00:00+01:00",
    "hours": 24, "readings": 24, "coverage": 1.0,
    "first_observed_at": "2026-11-23T23:00:00Z", "last_observed_at": "2026-11-24T22:00:00Z",
    "aqi": {"mean": 29.5, "min": 16, "max": 47, "readings": 24},
    "iaqi": {"pm10": {"mean": 8.54, "max": 15, "readings": 24},
             "pm25": {"mean": 26.17, "max": 47, "readings": 24}},
    "daily_aqi": {
        "pm25": {"concentration": 6.2, "hours": 24, "complete": True, "aqi": 26,
                 "category": "Good"},
    },
}  # fmt: skip
NOWCAST = {
    "kind": "nowcast", "schema_version": 1,
    "station": {"idx": 5419, "name": "Zürich-Kaserne, Switzerland"},
    "observed_at": "2026-11-24T17:00:00Z", "observed_local": "2026-11-24T18:00:00+01:00",
    "pm25": {"concentration": 6.2, "aqi": 26, "category": "Good", "hours": 12},
    "pm10": None, "aqi": 26, "category": "Good", "dominant": "pm25",
}  # fmt: skip
ALERT = {
    "kind": "alert", "schema_version": 1,
    "station": {"idx": 5413, "name": "Genève-Necker, Switzerland"},
    "observed_at": "2026-11-24T07:00:00Z", "observed_local": "2026-11-24T08:00:00+01:00",
    "previous": None, "category": "Moderate", "aqi": 54, "dominant": "pm25",
}  # fmt: skip


def copy(value: dict) -> dict:
    return json.loads(json.dumps(value))


def test_a_day_is_one_row_of_daily_aqi():
    row = dict(zip(DAILY_AQI.column_names, daily_row(copy(DAY), 1, 7), strict=True))
    assert row == {
        "station_idx": 5419, "day": "2026-11-24", "station_name": "Zürich-Kaserne, Switzerland",
        "day_start": "2026-11-23T23:00:00Z", "day_end": "2026-11-24T23:00:00Z",
        "start_local": "2026-11-24T00:00:00+01:00", "end_local": "2026-11-25T00:00:00+01:00",
        "hours": 24, "readings": 24, "coverage": 1.0,
        "first_observed_at": "2026-11-23T23:00:00Z", "last_observed_at": "2026-11-24T22:00:00Z",
        "mean_aqi": 29.5, "min_aqi": 16, "max_aqi": 47,
        "pm25_aqi": 26, "pm25_category": "Good", "pm25_concentration": 6.2, "pm25_hours": 24,
        "pm10_aqi": None, "pm10_category": None, "pm10_concentration": None, "pm10_hours": None,
        "iaqi": row["iaqi"], "kafka_partition": 1, "kafka_offset": 7,
    }  # fmt: skip
    assert json.loads(row["iaqi"]) == DAY["iaqi"]


def test_a_day_without_aqi_or_a_complete_pm_day_has_nulls_there():
    day = copy(DAY)
    day["aqi"] = None
    day["daily_aqi"]["pm25"].update(complete=False, aqi=None, category=None, hours=11)
    row = dict(zip(DAILY_AQI.column_names, daily_row(day, 0, 0), strict=True))
    assert row["mean_aqi"] is row["min_aqi"] is row["max_aqi"] is None
    assert (row["pm25_aqi"], row["pm25_category"], row["pm25_hours"]) == (None, None, 11)
    assert row["pm25_concentration"] == 6.2


def test_a_nowcast_and_an_alert_are_one_row_each():
    nowcast = dict(zip(NOWCASTS.column_names, nowcast_row(copy(NOWCAST), 2, 9), strict=True))
    assert nowcast == {
        "station_idx": 5419, "observed_at": "2026-11-24T17:00:00Z",
        "observed_local": "2026-11-24T18:00:00+01:00",
        "station_name": "Zürich-Kaserne, Switzerland", "aqi": 26, "category": "Good",
        "dominant": "pm25", "pm25_aqi": 26, "pm25_category": "Good", "pm25_concentration": 6.2,
        "pm25_hours": 12, "pm10_aqi": None, "pm10_category": None, "pm10_concentration": None,
        "pm10_hours": None, "kafka_partition": 2, "kafka_offset": 9,
    }  # fmt: skip
    alert = dict(zip(ALERTS.column_names, alert_row(copy(ALERT), 0, 3), strict=True))
    assert alert == {
        "station_idx": 5413, "observed_at": "2026-11-24T07:00:00Z",
        "observed_local": "2026-11-24T08:00:00+01:00",
        "station_name": "Genève-Necker, Switzerland", "previous": None, "category": "Moderate",
        "aqi": 54, "dominant": "pm25", "kafka_partition": 0, "kafka_offset": 3,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("row", "value", "change", "why"),
    [
        (daily_row, DAY, {"date": "2026-02-30"}, "not a day"),
        (daily_row, DAY, {"start": "yesterday"}, "not an instant"),
        (daily_row, DAY, {"start_local": "2026-11-24T00:00:00"}, "not a local time"),
        (daily_row, DAY, {"daily_aqi": {"pm25": {"concentration": 1}}}, "not a daily record"),
        (daily_row, DAY, {"aqi": {"mean": 1, "min": 2**40, "max": 3}}, "aqi.min is"),
        (daily_row, DAY, {"hours": float("inf")}, "hours is not a finite number"),
        (
            nowcast_row,
            NOWCAST,
            {"pm25": {"concentration": 1, "aqi": 1.5, "category": "Good", "hours": 3}},
            "pm25.aqi is 1.5",
        ),  # fmt: skip
        (nowcast_row, NOWCAST, {"category": 7}, "category is 7, not text"),
        (alert_row, ALERT, {"station": {"idx": 2**31, "name": "x"}}, "station.idx is"),
        (alert_row, ALERT, {"dominant": None}, "dominant is None"),
    ],
)
def test_a_value_that_decodes_but_no_table_holds_is_an_invalid_record(row, value, change, why):
    broken = {**copy(value), **change}
    with pytest.raises(InvalidRecord, match=why):
        row(broken, 0, 0)
