"""aggregator.py against the real broker: its three outputs equal the plain-Python reference.

Readings are made from the simulator's world (tests/readings.py) and written straight to
the input topic in the order each test needs; the outputs are read back read_committed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from aqistream.record import encode_record
from aqistream.waqi_sim.catalogue import swiss_stations
from aqistream.waqi_sim.world import World
from tests.aggregation import (
    assert_exactly_the_reference,
    partition_logs,
    start_aggregator,
    wait_for_outputs,
)
from tests.pipeline import ROOT, config_file, wait_for, write_raw
from tests.readings import (
    create_topic,
    hourly_readings,
    reading_at,
    reporting_stations,
    write_records,
)
from tests.reference import Reference

SEED = 7


@pytest.fixture
def aggregator_dir(tmp_path, bootstrap_servers):
    config_file(tmp_path, bootstrap_servers)
    return tmp_path


def stop(aggregator) -> str:
    """SIGTERM; it exits 0 within seconds; its stderr."""
    assert aggregator.stop(signal.SIGTERM, timeout=30) == 0, aggregator.stderr()
    return aggregator.stderr()


def test_outputs_equal_the_reference_across_dst_days_gaps_and_a_quiet_station(
    aggregator_dir, bootstrap_servers, topic_name
):
    stations = reporting_stations(SEED, 40)
    quiet = stations[5]
    gappy = stations[12]

    def gaps(station, hour: int) -> bool:
        if station is gappy:
            return 30 <= hour < 80  # two whole local days without a reading
        return (station.idx * 7 + hour * 13) % 37 == 0  # a missed hour here and there

    # The days Europe springs forward (29 March) and falls back (25 October), then the US
    # falls back (1 November): 23- and 25-hour days. The quiet station stops 40 hours
    # before the end: its last day closes by the other stations' time, not by its own.
    spring = hourly_readings(SEED, stations, "2026-03-27T12:00:00Z", 4 * 24, gaps)
    autumn = hourly_readings(SEED, stations, "2026-10-23T12:00:00Z", 10 * 24, gaps)
    autumn = [
        record
        for record in autumn
        if record["station"]["idx"] != quiet.idx or record["observed_at"] < "2026-10-31T20"
    ]
    create_topic(bootstrap_servers, topic_name)
    write_records(bootstrap_servers, topic_name, spring + autumn)

    aggregator = start_aggregator(aggregator_dir, topic_name)
    reference = Reference(partition_logs(bootstrap_servers, topic_name))
    outputs = wait_for_outputs(bootstrap_servers, topic_name, reference)
    log = stop(aggregator)

    assert_exactly_the_reference(outputs, reference)
    days = reference.closed_days()
    assert {days[key]["hours"] for key in days} == {23, 24, 25}
    assert (swiss_stations()[0].idx, "2026-03-29") in days
    assert days[swiss_stations()[0].idx, "2026-10-25"]["hours"] == 25
    assert (quiet.idx, "2026-10-31") in outputs.daily  # closed without its next reading
    assert not any(idx == gappy.idx and date in ("2026-03-29",) for idx, date in days)
    assert f"{len(spring) + len(autumn)} readings in (0 invalid, skipped; 0 too late" in log


def test_late_readings_within_grace_count_and_beyond_grace_are_reported_once(
    aggregator_dir, bootstrap_servers, topic_name
):
    # One partition shared by Zürich (+01:00) and Tokyo (+09:00), whose wall clock runs
    # eight hours ahead: Tokyo's readings must not close Zürich's day early.
    zurich = swiss_stations()[0]
    tokyo = next(s for s in reporting_stations(SEED, 40) if s.std_offset_minutes == 540)
    world = World(SEED)
    start = 1795737600  # 2026-11-27T00:00:00Z
    held_back = {}
    in_order = []
    for hour in range(-12, 54):
        for station in (zurich, tokyo):
            record = reading_at(world, station, start + hour * 3600 + station.report_second)
            # Zürich's readings of 22:00, 23:00 and 21:00 on the 27th (local) arrive 4, 5
            # and 6 hours after they were taken. The day ends at 24:00 (23:00 UTC); with
            # 3 h of grace it closes at 02:00 UTC: the first is in time, the others late.
            delays = {21: 4, 22: 5, 20: 6} if station is zurich else {}
            if hour in delays:
                held_back[hour + delays[hour]] = record
            else:
                in_order.append((hour, record))
    arrival = []
    for hour, record in in_order:
        arrival.append(record)
        if hour in held_back and record["station"]["idx"] == tokyo.idx:
            arrival.append(held_back.pop(hour))
    assert not held_back
    create_topic(bootstrap_servers, topic_name, partitions=1)
    write_records(bootstrap_servers, topic_name, arrival)

    aggregator = start_aggregator(aggregator_dir, topic_name)
    reference = Reference(partition_logs(bootstrap_servers, topic_name))
    outputs = wait_for_outputs(bootstrap_servers, topic_name, reference)
    log = stop(aggregator)

    assert_exactly_the_reference(outputs, reference)
    late = {(r["station"]["idx"], r["observed_local"][:16]) for r in reference.late}
    assert late == {(zurich.idx, "2026-11-27T23:00"), (zurich.idx, "2026-11-27T21:00")}
    zurich_day = outputs.values["daily", (zurich.idx, "2026-11-27")]
    assert zurich_day["readings"] == 22
    assert zurich_day["last_observed_at"] == "2026-11-27T21:00:00Z"
    assert outputs.values["daily", (tokyo.idx, "2026-11-28")]["readings"] == 24
    lines = [line for line in log.splitlines() if "WARNING: late reading:" in line]
    assert len(lines) == 1, log  # once per station and day
    assert f"station {zurich.idx}, local day 2026-11-27" in lines[0]
    assert "2 too late for their day" in log.splitlines()[-1]


def test_poison_is_reported_and_skipped(aggregator_dir, bootstrap_servers, topic_name):
    records = hourly_readings(SEED, swiss_stations()[:3], "2026-11-20T00:00:00Z", 60)
    not_a_reading = dict(records[0], schema_version=2)
    poison = [
        (b"5419", b"not json"),
        (b"5419", b""),
        (None, encode_record(records[1])),  # no key
        (b"12345", encode_record(records[2])),  # the key is another station's
        (b"5419", b"[1, 2, 3]"),
        (b"5419", encode_record(not_a_reading)),
        (b"5419", b"[" * 100_000),
        (b"5419", "\ud800".encode("utf-8", "surrogatepass")),
    ]
    create_topic(bootstrap_servers, topic_name)
    write_raw(bootstrap_servers, topic_name, poison[:4])
    write_records(bootstrap_servers, topic_name, records)
    write_raw(bootstrap_servers, topic_name, poison[4:])
    write_records(bootstrap_servers, topic_name, hourly_readings(
        SEED, swiss_stations()[:3], "2026-11-22T12:00:00Z", 8
    ))  # fmt: skip

    aggregator = start_aggregator(aggregator_dir, topic_name)
    reference = Reference(partition_logs(bootstrap_servers, topic_name))
    outputs = wait_for_outputs(bootstrap_servers, topic_name, reference)
    log = stop(aggregator)

    assert_exactly_the_reference(outputs, reference)
    assert log.count("skipping an invalid record") == len(poison), log
    assert f"({len(poison)} invalid, skipped;" in log.splitlines()[-1]
    assert "Traceback" not in log


def test_waits_for_its_topic_and_stops_cleanly(aggregator_dir, bootstrap_servers, topic_name):
    aggregator = start_aggregator(aggregator_dir, topic_name)
    wait_for(lambda: "does not exist yet; waiting for it" in aggregator.stderr(), 60, "waiting")
    records = hourly_readings(SEED, swiss_stations()[:2], "2026-11-20T00:00:00Z", 30)
    create_topic(bootstrap_servers, topic_name)
    write_records(bootstrap_servers, topic_name, records)
    reference = Reference(partition_logs(bootstrap_servers, topic_name))
    wait_for_outputs(bootstrap_servers, topic_name, reference)
    log = stop(aggregator)
    first, last = log.splitlines()[0], log.splitlines()[-1]
    assert f"aggregating {topic_name} at {bootstrap_servers}" in first
    assert "grace 3 h" in first
    assert "SIGTERM: stopping" in log
    assert last.endswith(f"{len(records)} readings in (0 invalid, skipped; 0 too late for "
                         f"their day), 2 days closed, {len(records)} NowCasts, "
                         f"{len(reference.alerts())} alerts")  # fmt: skip
    assert log.count("does not exist yet") == 1


def run_aggregator(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "aggregator.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (("--grace", "3"), None, "--grace: '3' is not a duration"),
        (("--grace", "soon"), None, "--grace: 'soon' is not a duration"),
        (("--frobnicate",), None, "unrecognized arguments: --frobnicate"),
        (("missing.ini",), None, "missing.ini: no such file"),
        (("config.ini",), "[default]\nbootstrap.servers=localhost:9092\nno.such=1\n", "no.such"),
        (("config.ini",), "[default]\nclient.id=x\n", "set bootstrap.servers in [default]"),
    ],
)
def test_bad_usage_and_configuration_is_one_line_and_exit_2(tmp_path, args, config, message):
    if config is not None:
        (tmp_path / "config.ini").write_text(config)
    result = run_aggregator(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("aggregator.py: ")
    assert message in result.stderr
    assert result.stdout == ""


def test_outputs_are_what_consumer_json_prints(aggregator_dir, bootstrap_servers, topic_name):
    """The three topics print with consumer.py, as aligned lines and as the values."""
    records = hourly_readings(SEED, swiss_stations()[:3], "2026-11-20T00:00:00Z", 40)
    create_topic(bootstrap_servers, topic_name)
    write_records(bootstrap_servers, topic_name, records)
    aggregator = start_aggregator(aggregator_dir, topic_name)
    reference = Reference(partition_logs(bootstrap_servers, topic_name))
    outputs = wait_for_outputs(bootstrap_servers, topic_name, reference)
    stop(aggregator)
    for suffix, kind, count in (
        (".daily", "daily", len(outputs.daily)),
        (".nowcast", "nowcast", len(outputs.nowcast)),
        (".alerts", "alert", len(outputs.alerts)),
    ):
        for form in ("json", "pretty"):
            printed = subprocess.run(
                [sys.executable, str(ROOT / "consumer.py"), "config.ini", "--topic",
                 topic_name + suffix, "--from-beginning", "--format", form,
                 "--max-records", str(count), "--group", f"{topic_name}{suffix}-{form}"],
                cwd=aggregator_dir, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert printed.returncode == 0, printed.stderr
            lines = printed.stdout.splitlines()
            assert len(lines) == count, printed.stdout
            if form == "json":
                assert all(json.loads(line)["kind"] == kind for line in lines)
            assert "invalid" not in printed.stderr.replace("0 invalid", "")


def test_consumer_refuses_a_snapshot_of_aggregated_records(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "consumer.py"), "--topic", "air_quality_index.daily",
         "--snapshot"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "holds daily records (read air_quality_index for readings)" in result.stderr
