"""producer.py against WAQI's quirks (API.md §9), error bodies (§7), faults and quota.

The simulator answers like WAQI; the records that reach Kafka are read back and checked.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.pipeline import (
    NO_QUOTA,
    TOKEN,
    assert_exactly_once,
    count_in,
    feed_line,
    idx_of,
    listed_stations,
    read_topic,
    readings_in,
    run_producer_once,
    served_readings,
    start_producer,
    wait_for,
    waqi_simulator,
)


def simulator(*quota: str):
    """This module's world (seed 5, 400 stations), with the API's quota set by `quota`."""
    return waqi_simulator(5, "--stations", "400", *quota)


@pytest.fixture
def sim():
    with simulator("--quota", "0") as s:
        yield s


def records_by_idx(bootstrap_servers, topic) -> dict[int, dict]:
    return {
        json.loads(value)["station"]["idx"]: json.loads(value)
        for _, value in read_topic(bootstrap_servers, topic)
    }


def test_each_quirk_becomes_a_valid_record_or_a_counted_skip(
    workdir, sim, topic_name, bootstrap_servers
):
    unrated = [
        *listed_stations(sim, "unrated", "official", 1),
        *listed_stations(sim, "unrated", "crowd", 1),
    ]
    crowd = listed_stations(sim, "reporting", "crowd", 3)
    stale = listed_stations(sim, "stale", "official", 2)
    no_time = listed_stations(sim, "no_time", "official", 2)
    official = listed_stations(sim, "reporting", "official", 3)
    chosen = unrated + crowd + stale + no_time + official
    (workdir / "stations.txt").write_text("\n".join(feed_line(s) for s in chosen) + "\n")
    result = run_producer_once(workdir, sim, topic_name, *NO_QUOTA)
    assert result.returncode == 0, result.stderr
    assert "12 stations polled, 10 new readings published, 0 unchanged, 2 failed" in result.stderr
    records = records_by_idx(bootstrap_servers, topic_name)
    assert_exactly_once(
        readings_in(read_topic(bootstrap_servers, topic_name)), served_readings(sim)
    )
    # aqi "-" is null, yet the sub-indices WAQI still sent are kept (quirks 1 and 2).
    for station in unrated:
        record = records[station["idx"]]
        assert record["aqi"] is None
        assert record["iaqi"], record
    # Crowd stations: negative idx, key "-N", time.iso in Z is the true instant (quirk 4).
    for station in crowd:
        feed = sim.get(station["feed"], token=TOKEN).json()["data"]
        assert station["idx"] < 0
        assert records[station["idx"]]["observed_at"] == feed["time"]["iso"]
        assert "forecast" not in feed  # optional parts absent, record still complete (6)
    # Official stations: time.v is local time posing as UTC; observed_at is not from it (5).
    for station in official:
        feed = sim.get(station["feed"], token=TOKEN).json()["data"]
        observed = records[station["idx"]]["observed_at"]
        from_v = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(feed["time"]["v"]))
        assert observed != from_v or feed["time"]["tz"] in ("+00:00", "-00:00")
        assert records[station["idx"]]["observed_local"] == feed["time"]["iso"]
    # A time-less response ({tz, v:0}) is skipped with a warning and counted, once each.
    for station in no_time:
        assert station["idx"] not in records
        assert result.stderr.count(f"'{feed_line(station)}': reading skipped") == 1


def test_stale_station_is_published_once_not_every_cycle_or_hour(
    workdir, sim, topic_name, bootstrap_servers
):
    stale = listed_stations(sim, "stale", "official", 2)
    (workdir / "stations.txt").write_text("\n".join(feed_line(s) for s in stale) + "\n")
    for _ in range(2):
        assert run_producer_once(workdir, sim, topic_name, *NO_QUOTA).returncode == 0
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert sorted(idx for idx, _ in published) == sorted(s["idx"] for s in stale)
    assert set(published.values()) == {1}


def test_aqi_above_500_is_kept(workdir, sim, topic_name, bootstrap_servers):
    listed = sim.admin("GET", "/admin/stations?status=reporting&network=official&limit=400")
    hotspots = [s for s in listed["stations"] if s["hotspot"]]
    assert hotspots, "the simulator has no hotspot station in this world"

    def spiking() -> list[dict]:
        aqis = {s["idx"]: sim.get(s["feed"], token=TOKEN).json()["data"]["aqi"] for s in hotspots}
        if any(isinstance(aqi, int) and aqi > 500 for aqi in aqis.values()):
            return [s for s in hotspots if isinstance(aqis[s["idx"]], int) and aqis[s["idx"]] > 500]
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        return []

    spikes = wait_for(spiking, 120, "a simulated hour with aqi above 500", every=0)
    (workdir / "stations.txt").write_text("\n".join(feed_line(s) for s in spikes) + "\n")
    assert run_producer_once(workdir, sim, topic_name, *NO_QUOTA).returncode == 0
    values = [json.loads(v)["aqi"] for _, v in read_topic(bootstrap_servers, topic_name)]
    assert values and min(values) > 500


def test_unknown_stations_warn_once_each_and_the_others_go_on(
    workdir, sim, topic_name, bootstrap_servers
):
    (workdir / "stations.txt").write_text(
        "zurich\n"
        "atlantis-city\n"  # Unknown station
        "@999999999\n"  # nested Unknown ID under status ok
        "A5419\n"  # an official idx in the A form: no such station
        "basel\n"
    )
    producer = start_producer(workdir, sim, topic_name, "--interval", "0.2", *NO_QUOTA)
    wait_for(lambda: "cycle 3:" in producer.stderr(), 60, "three cycles")
    assert producer.stop() == 0
    log = producer.stderr()
    assert log.count("'atlantis-city': Unknown station") == 1
    assert log.count("'@999999999': Unknown ID") == 1
    assert log.count("'A5419': no such station") == 1
    assert "cycle 1: 5 stations polled, 2 new readings published, 0 unchanged, 3 failed" in log
    # Not asked again every cycle: an unknown station waits an hour before the next try.
    assert "cycle 2: 2 stations polled" in log
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert sorted(idx for idx, _ in published) == sorted([5419, idx_of(sim, "basel")])


def test_invalid_key_stops_with_exit_2_and_how_to_get_a_token(workdir, sim, topic_name):
    (workdir / "stations.txt").write_text("zurich\n")
    result = run_producer_once(workdir, sim, topic_name, WAQI_TOKEN="not-the-right-one")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert "Invalid key" in last_line
    assert "https://aqicn.org/data-platform/token/" in last_line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.3},
        {"empty_rate": 0.3},
        {"nonjson_rate": 0.3},
        {"latency_ms": 300, "jitter_ms": 300},
    ],
    ids=["5xx", "empty-bodies", "non-json-bodies", "latency"],
)
def test_transient_api_faults_are_retried_and_nothing_is_lost(
    workdir, sim, topic_name, bootstrap_servers, faults
):
    lines = [feed_line(s) for s in listed_stations(sim, "reporting", "official", 60)]
    (workdir / "stations.txt").write_text("\n".join(lines) + "\n")
    sim.admin("POST", "/admin/faults", faults)
    result = run_producer_once(workdir, sim, topic_name, *NO_QUOTA, "--workers", "16")
    sim.admin("DELETE", "/admin/faults")
    assert result.returncode == 0, result.stderr
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    # At 30 % a station fails all 4 attempts with probability 0.8 %: allow a few misses,
    # which the next cycle fetches.
    assert len(published) >= 57
    if len(published) < 60:
        assert run_producer_once(workdir, sim, topic_name, *NO_QUOTA).returncode == 0
        published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert_exactly_once(published, served_readings(sim))
    assert len(published) == 60
    if "rate" in next(iter(faults)):
        assert sim.admin("GET", "/admin/served")["tokens"][TOKEN]["faults"] > 0


def test_api_outage_then_recovery_publishes_what_was_missed(
    workdir, sim, topic_name, bootstrap_servers
):
    (workdir / "stations.txt").write_text("zurich\nbasel\ngeneva\n")
    producer = start_producer(workdir, sim, topic_name, "--interval", "0.5", *NO_QUOTA)
    try:
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 3, 60, "3 readings")
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        # (set after moving the clock: the outage lasts simulated seconds)
        sim.admin("POST", "/admin/faults", {"outage_seconds": 3600, "outage_mode": "close"})
        wait_for(lambda: "3 station(s) failed" in producer.stderr(), 60, "a failed cycle")
        sim.admin("DELETE", "/admin/faults")
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 6, 60, "catch-up")
    finally:
        assert producer.stop() == 0
    assert_exactly_once(
        readings_in(read_topic(bootstrap_servers, topic_name)), served_readings(sim)
    )


def test_over_quota_is_retried_and_slows_the_producer_down(workdir, topic_name, bootstrap_servers):
    # The API allows 5 at once and 60 a minute; the producer believes it may send 60 at once.
    with simulator("--quota", "60", "--burst", "5") as sim:
        (workdir / "stations.txt").write_text("zurich\nbasel\ngeneva\nbern\nlugano\nlausanne\n")
        result = run_producer_once(workdir, sim, topic_name, "--quota", "1000", "--burst", "60")
        tokens = sim.admin("GET", "/admin/served")["tokens"][TOKEN]
    assert result.returncode == 0, result.stderr
    assert tokens["over_quota"] > 0
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert len(published) == 6


def test_2000_stations_never_hit_over_quota_by_the_producer_own_pace(
    workdir, topic_name, bootstrap_servers
):
    with waqi_simulator(9, "--stations", "2000", "--quota", "6000", "--burst", "60") as sim:
        listed = sim.admin("GET", "/admin/stations?limit=2000")["stations"]
        assert len(listed) == 2000
        timeless = sum(1 for s in listed if s["status"] == "no_time")
        (workdir / "stations.txt").write_text("\n".join(feed_line(s) for s in listed) + "\n")
        started = time.monotonic()
        result = run_producer_once(
            workdir, sim, topic_name, "--quota", "6000", "--burst", "60", "--workers", "32"
        )
        elapsed = time.monotonic() - started
        tokens = sim.admin("GET", "/admin/served")["tokens"][TOKEN]
    assert result.returncode == 0, result.stderr
    assert tokens["over_quota"] == 0
    assert tokens["requests"] == 2000  # no retries were needed
    # 2000 requests at 6000/min with a burst of 60 cannot take less than ~19 s.
    assert elapsed > (2000 - 60) / 100
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert len(published) == 2000 - timeless  # every station that has a reading
