"""producer.py against a real Kafka broker and the WAQI simulator: each reading exactly once.

Every test runs the real script as a subprocess and reads the topic back with
read_committed; the simulator's record of what it served is the expected result.
"""

from __future__ import annotations

import json
import random
import signal
from collections import Counter

import pytest

from tests.pipeline import (
    NO_QUOTA,
    SLOW_TRANSACTIONS,
    assert_exactly_once,
    config_file,
    count_in,
    feed_line,
    idx_of,
    kill_at_a_random_moment,
    listed_stations,
    read_topic,
    readings_in,
    run_producer_once,
    served_readings,
    start_producer,
    wait_for,
    waqi_simulator,
)


@pytest.fixture
def sim():
    with waqi_simulator(11, "--quota", "0", "--stations", "600") as simulator:
        yield simulator


def test_a_cycle_publishes_exactly_the_readings_served_as_new(
    workdir, sim, topic_name, bootstrap_servers
):
    result = run_producer_once(workdir, sim, topic_name)
    assert result.returncode == 0, result.stderr
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert len(published) == 9
    assert_exactly_once(published, served_readings(sim))
    assert "9 stations polled, 9 new readings published, 0 unchanged, 0 failed" in result.stderr


def test_a_second_cycle_with_nothing_new_publishes_nothing(
    workdir, sim, topic_name, bootstrap_servers
):
    assert run_producer_once(workdir, sim, topic_name).returncode == 0
    again = run_producer_once(workdir, sim, topic_name)
    assert again.returncode == 0, again.stderr
    assert "0 new readings published, 9 unchanged" in again.stderr
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert_exactly_once(published, served_readings(sim))
    assert len(published) == 9


def test_an_hour_later_exactly_one_new_reading_per_station(
    workdir, sim, topic_name, bootstrap_servers
):
    assert run_producer_once(workdir, sim, topic_name).returncode == 0
    sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    later = run_producer_once(workdir, sim, topic_name)
    assert "9 new readings published" in later.stderr
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert_exactly_once(published, served_readings(sim))
    per_station = Counter(idx for idx, _ in published)
    assert sorted(per_station.values()) == [2] * 9


def test_latest_topic_holds_each_station_newest_reading(
    workdir, sim, topic_name, bootstrap_servers
):
    run_producer_once(workdir, sim, topic_name)
    sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    run_producer_once(workdir, sim, topic_name)
    latest = {}
    for key, value in read_topic(bootstrap_servers, f"{topic_name}.latest"):
        latest[int(key)] = json.loads(value)["observed_at"]
    newest = {}
    for idx, observed_at in served_readings(sim):
        newest[idx] = max(newest.get(idx, ""), observed_at)
    assert latest == newest


def test_restart_of_a_running_producer_publishes_no_duplicate(
    workdir, sim, topic_name, bootstrap_servers
):
    for hour in range(3):
        running = start_producer(workdir, sim, topic_name, "--interval", "0.3")
        expected = 9 * (hour + 1)
        wait_for(lambda n=expected: count_in(bootstrap_servers, topic_name) >= n, 60, "readings")
        assert running.stop(signal.SIGTERM) == 0, running.stderr()
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    running = start_producer(workdir, sim, topic_name, "--interval", "0.3")
    wait_for(lambda: count_in(bootstrap_servers, topic_name) >= 36, 60, "36 readings")
    running.stop()
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert_exactly_once(published, served_readings(sim))
    assert len(published) == 36


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(
    workdir, sim, topic_name, bootstrap_servers
):
    """SIGKILL at random points, also in the middle of transactions, many times.

    Each simulated hour brings 300 new readings; the producer is killed once while
    publishing them (half the time anywhere in its life, half the time shortly after it
    says it is publishing, i.e. inside the transaction), then one cycle runs to completion.
    Every reading served must be in the topic exactly once.

    Official stations only: their readings change on the simulated hour, which this test
    moves. (A crowd station's reading can change within the hour; one served only to a
    producer that was then killed is gone from WAQI once superseded. No producer can
    publish what the API no longer serves.)
    """
    stations = listed_stations(sim, "reporting", "official", 300)
    (workdir / "stations.txt").write_text("\n".join(feed_line(s) for s in stations) + "\n")
    config_file(workdir, bootstrap_servers, SLOW_TRANSACTIONS)
    rng = random.Random(20261124)
    args = ("--interval", "0.2", "--workers", "32", *NO_QUOTA)
    for _hour in range(20):
        running = start_producer(workdir, sim, topic_name, *args, "-v")
        kill_at_a_random_moment(running, rng, anywhere=(0.3, 3.0))
        finished = run_producer_once(workdir, sim, topic_name, *args)
        assert finished.returncode == 0, finished.stderr
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    served = served_readings(sim)
    assert len({idx for idx, _ in served}) == 300
    assert len(served) >= 20 * 300
    assert_exactly_once(published, served)
    # Proof that kills landed inside transactions: what they had sent was aborted, so a
    # read_uncommitted reader sees more than the read_committed one.
    uncommitted = read_topic(bootstrap_servers, topic_name, "read_uncommitted")
    assert len(uncommitted) > sum(published.values())


def test_duplicate_lines_resolving_to_one_station_are_polled_and_published_once(
    workdir, sim, topic_name, bootstrap_servers
):
    (workdir / "stations.txt").write_text("zurich\n@5419\nZürich # again\nbasel\n")
    running = start_producer(workdir, sim, topic_name, "--interval", "0.2")
    wait_for(lambda: "cycle 3:" in running.stderr(), 60, "three cycles")
    assert running.stop() == 0
    log = running.stderr()
    assert "cycle 1: 4 stations polled, 2 new readings published, 2 unchanged" in log
    assert "cycle 2: 2 stations polled, 0 new readings published, 2 unchanged" in log
    assert log.count("is station 5419, as") == 2
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert sorted(idx for idx, _ in published) == sorted({5419, idx_of(sim, "basel")})
    assert published[5419, min(o for i, o in published if i == 5419)] == 1


def test_a_replacement_producer_fences_the_old_one(workdir, sim, topic_name, bootstrap_servers):
    """Two producers with the same transactional.id: the newer wins, the older stops (exit 1)."""
    args = ("--interval", "0.2", *NO_QUOTA)
    old = start_producer(workdir, sim, topic_name, *args)
    try:
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 9, 60, "9")
        new = start_producer(workdir, sim, topic_name, *args)
        wait_for(lambda: "connected to Kafka" in new.stderr(), 60, "the replacement")
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        assert old.wait_exit(timeout=60) == 1, old.stderr()
        assert "another producer with transactional.id" in old.stderr()
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 18, 60, "18")
        assert new.alive()
        assert new.stop() == 0
    finally:
        old.stop(signal.SIGKILL)
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert_exactly_once(published, served_readings(sim))
