"""consumer.py --store of aggregator.py's three outputs, on SQLite and PostgreSQL.

aggregator.py runs once for the module over three days of eight stations (real broker);
its `.daily`, `.nowcast` and `.alerts` topics, with poison added after it stopped, are
then stored into each database. Every value read back read_committed must be one row with
its values, a second run must write nothing, and the poison must be rows of `rejected`.
"""

from __future__ import annotations

import json
import signal
import uuid

import pytest

from aqistream.kafka.latest import read_to_end
from aqistream.windows.outputs import ALERT, DAILY, NOWCAST, OutputKind
from tests.aggregation import partition_logs, start_aggregator, wait_for_outputs
from tests.databases import query, run_store, stored_offsets
from tests.pipeline import config_file, write_raw
from tests.readings import create_topic, hourly_readings, reporting_stations, write_records
from tests.reference import Reference


def figure(value: dict | None, pollutant: str) -> dict:
    """A pollutant's figure as its four columns (nulls without one)."""
    names = ("aqi", "category", "concentration", "hours")
    return {f"{pollutant}_{name}": value[name] if value else None for name in names}


# What each table's row must hold for a value, written out from the JSON Schemas.
def daily_columns(value: dict) -> dict:
    aqi = value["aqi"] or {}
    return {
        "station_idx": value["station"]["idx"], "day": value["date"],
        "station_name": value["station"]["name"],
        "day_start": value["start"], "day_end": value["end"],
        "start_local": value["start_local"], "end_local": value["end_local"],
        "hours": value["hours"], "readings": value["readings"], "coverage": value["coverage"],
        "first_observed_at": value["first_observed_at"],
        "last_observed_at": value["last_observed_at"],
        "mean_aqi": aqi.get("mean"), "min_aqi": aqi.get("min"), "max_aqi": aqi.get("max"),
        **figure(value["daily_aqi"].get("pm25"), "pm25"),
        **figure(value["daily_aqi"].get("pm10"), "pm10"),
        "iaqi": value["iaqi"],
    }  # fmt: skip


def nowcast_columns(value: dict) -> dict:
    return {
        "station_idx": value["station"]["idx"], "observed_at": value["observed_at"],
        "observed_local": value["observed_local"], "station_name": value["station"]["name"],
        "aqi": value["aqi"], "category": value["category"], "dominant": value["dominant"],
        **figure(value["pm25"], "pm25"), **figure(value["pm10"], "pm10"),
    }  # fmt: skip


def alert_columns(value: dict) -> dict:
    return {
        "station_idx": value["station"]["idx"], "observed_at": value["observed_at"],
        "observed_local": value["observed_local"], "station_name": value["station"]["name"],
        "previous": value["previous"], "category": value["category"], "aqi": value["aqi"],
        "dominant": value["dominant"],
    }  # fmt: skip


KINDS = {
    "daily": (DAILY, "daily_aqi", ("station_idx", "day"), daily_columns, "days"),
    "nowcast": (NOWCAST, "nowcast", ("station_idx", "observed_at"), nowcast_columns, "NowCasts"),
    "alerts": (ALERT, "alerts", ("station_idx", "observed_at"), alert_columns, "alerts"),
}


def poison(kind: OutputKind, good: dict) -> list[tuple[bytes, bytes, str]]:
    """(key, value, why) of messages in a kind's topic that are not of that kind."""
    other = "nowcast" if kind.kind != "nowcast" else "daily"
    broken = json.loads(json.dumps(good))
    broken["station"]["idx"] = "5419"  # a string: the decoder's own check
    nested = json.loads(json.dumps(good))
    nested["observed_local" if kind.kind != "daily" else "start_local"] = "not a time"
    return [
        (b"1", b"not json", "value is not JSON"),
        (b"1", json.dumps({**good, "kind": other}).encode(), f"kind is '{other}'"),
        (b"1", json.dumps(broken).encode(), "station.idx is string, expected integer"),
        (b"1", json.dumps(nested).encode(), "not a local time"),
    ]


@pytest.fixture(scope="module")
def aggregated(tmp_path_factory, bootstrap_servers) -> dict:
    """topic suffix -> (the topic, its valid values by (partition, offset), its poison)."""
    workdir = tmp_path_factory.mktemp("aggregated")
    config_file(workdir, bootstrap_servers)
    topic = f"test_aqi_store_aggregates_{uuid.uuid4().hex[:8]}"
    stations = reporting_stations(11, 8)
    records = hourly_readings(11, stations, "2026-10-23T12:00:00Z", 3 * 24)
    create_topic(bootstrap_servers, topic)
    write_records(bootstrap_servers, topic, records)
    aggregator = start_aggregator(workdir, topic)
    reference = Reference(partition_logs(bootstrap_servers, topic))
    try:
        wait_for_outputs(bootstrap_servers, topic, reference)
    finally:
        assert aggregator.stop(signal.SIGTERM, timeout=30) == 0, aggregator.stderr()
    found = {}
    for suffix, (kind, *_) in KINDS.items():
        output = kind.topic(topic)
        settings = {"bootstrap.servers": bootstrap_servers}
        values = {
            (m.partition(), m.offset()): kind.decode(m.value())
            for m in read_to_end(settings, output, timeout=60)
        }
        assert values, f"aggregator.py wrote no {suffix}"
        bad = poison(kind, next(iter(values.values())))
        write_raw(bootstrap_servers, output, [(key, value) for key, value, _ in bad])
        found[suffix] = (output, values, bad)
    return found


@pytest.mark.parametrize("suffix", list(KINDS))
def test_each_output_is_one_row_with_its_values_a_second_run_writes_nothing_poison_rejected(
    tmp_path, bootstrap_servers, store_url, aggregated, suffix
):
    kind, table, key, columns, noun = KINDS[suffix]
    topic, values, bad = aggregated[suffix]
    config_file(tmp_path, bootstrap_servers)
    group = f"test_store_{uuid.uuid4().hex[:8]}"

    first = run_store(tmp_path, topic, group, store_url, "--from-beginning", "--idle-timeout", "2")
    assert first.returncode == 0, first.stderr
    stations = len({value["station"]["idx"] for value in values.values()})
    assert f"{len(values)} {noun} of {stations} stations stored in" in first.stderr
    assert f"{len(bad)} rejected" in first.stderr

    rows = query(store_url, f"SELECT * FROM {table}")
    assert len(rows) == len(values)
    stored = {tuple(row[name] for name in key): row for row in rows}
    for (partition, offset), value in values.items():
        expected = {**columns(value), "kafka_partition": partition, "kafka_offset": offset}
        row = stored[tuple(expected[name] for name in key)]
        assert row == expected, (row, value)

    rejected = query(store_url, "SELECT * FROM rejected ORDER BY kafka_offset")
    assert [bytes(row["first_bytes"]) for row in rejected] == [value[:200] for _, value, _ in bad]
    for row, (_, _, why) in zip(rejected, bad, strict=True):
        assert row["topic"] == topic and why in row["reason"], (row["reason"], why)
    ends = {}
    for partition, offset in [
        *values,
        *((r["kafka_partition"], r["kafka_offset"]) for r in rejected),
    ]:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    assert stored_offsets(store_url, group, topic) == ends

    second = run_store(tmp_path, topic, group, store_url, "--idle-timeout", "2")
    assert second.returncode == 0, second.stderr
    assert f"0 {noun} of 0 stations stored;" in second.stderr
    assert len(query(store_url, f"SELECT * FROM {table}")) == len(values)
    assert len(query(store_url, "SELECT * FROM rejected")) == len(bad)
    # The readings' tables are untouched by these kinds.
    assert query(store_url, "SELECT count(*) AS n FROM readings") == [{"n": 0}]
    assert query(store_url, "SELECT count(*) AS n FROM stations") == [{"n": 0}]
