"""Record -> row: the values each column gets, and what no database could store."""

from __future__ import annotations

import json

import pytest

from aqistream.record import InvalidRecord
from aqistream.store.rows import REJECTED_PREFIX, reading_row, rejected_row, station_rows
from aqistream.store.schema import IAQI_COLUMNS, READINGS
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
