"""producer.py against a real Kafka broker and the WAQI simulator: each reading exactly once.

Every test runs the real script as a subprocess and reads the topic back with
read_committed; the simulator's record of what it served is the expected result.
"""

from __future__ import annotations

import json
import random
import signal

import pytest

from tests.pipeline import (
    TOKEN,
    assert_exactly_once,
    config_file,
    configured_bootstrap,
    count_in,
    read_topic,
    readings_in,
    run_script,
    script_env,
    served_readings,
    start_script,
    station_lines,
    wait_for,
)
from tests.simulator import running_simulator

SWISS = [
    "zurich",
    "geneva",
    "basel",
    "lausanne",
    "bern",
    "winterthur",
    "st-gallen",
    "lugano",
    "neuchatel",
]
# Well inside an hour, so the simulated clock (real speed) never reaches the next one
# during a test unless the test moves it.
START = "2026-11-23T10:05:00Z"
# The simulator runs without a quota (--quota 0) in these tests; so may the producer.
NO_QUOTA = ("--quota", "600000", "--burst", "1000")


@pytest.fixture
def sim():
    with running_simulator(
        "--seed", "11", "--start", START, "--token", TOKEN, "--quota", "0", "--stations", "600"
    ) as simulator:
        yield simulator


@pytest.fixture
def workdir(tmp_path, bootstrap_servers):
    (tmp_path / "stations.txt").write_text("\n".join(SWISS) + "\n")
    config_file(tmp_path, bootstrap_servers)
    return tmp_path


def producer(workdir, sim, topic, *args, **extra_env):
    return run_script(
        "producer.py",
        "config.ini",
        "--topic",
        topic,
        "--once",
        *args,
        env=script_env(sim, **extra_env),
        cwd=workdir,
    )


def test_a_cycle_publishes_exactly_the_readings_served_as_new(workdir, sim, topic_name):
    result = producer(workdir, sim, topic_name)
    assert result.returncode == 0, result.stderr
    published = readings_in(read_topic(configured_bootstrap(workdir), topic_name))
    assert len(published) == 9
    assert_exactly_once(published, served_readings(sim))
    assert "9 stations polled, 9 new readings published, 0 unchanged, 0 failed" in result.stderr


def test_a_second_cycle_with_nothing_new_publishes_nothing(workdir, sim, topic_name):
    assert producer(workdir, sim, topic_name).returncode == 0
    again = producer(workdir, sim, topic_name)
    assert again.returncode == 0, again.stderr
    assert "0 new readings published, 9 unchanged" in again.stderr
    published = readings_in(read_topic(configured_bootstrap(workdir), topic_name))
    assert_exactly_once(published, served_readings(sim))
    assert len(published) == 9


def test_an_hour_later_exactly_one_new_reading_per_station(workdir, sim, topic_name):
    assert producer(workdir, sim, topic_name).returncode == 0
    sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    later = producer(workdir, sim, topic_name)
    assert "9 new readings published" in later.stderr
    published = readings_in(read_topic(configured_bootstrap(workdir), topic_name))
    assert_exactly_once(published, served_readings(sim))
    per_station = {}
    for idx, _ in published:
        per_station[idx] = per_station.get(idx, 0) + 1
    assert sorted(per_station.values()) == [2] * 9


def test_latest_topic_holds_each_station_newest_reading(workdir, sim, topic_name):
    producer(workdir, sim, topic_name)
    sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    producer(workdir, sim, topic_name)
    latest = {}
    for key, value in read_topic(configured_bootstrap(workdir), f"{topic_name}.latest"):
        latest[int(key)] = json.loads(value)["observed_at"]
    newest = {}
    for idx, observed_at in served_readings(sim):
        newest[idx] = max(newest.get(idx, ""), observed_at)
    assert latest == newest


def test_restart_of_a_running_producer_publishes_no_duplicate(workdir, sim, topic_name):
    env = script_env(sim)
    args = ("producer.py", "config.ini", "--topic", topic_name, "--interval", "0.3")
    for hour in range(3):
        running = start_script(*args, env=env, cwd=workdir)
        expected = 9 * (hour + 1)
        wait_for(
            lambda n=expected: count_in(configured_bootstrap(workdir), topic_name) >= n,
            60,
            "readings",
        )
        assert running.stop(signal.SIGTERM) == 0, running.stderr()
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    running = start_script(*args, env=env, cwd=workdir)
    wait_for(lambda: count_in(configured_bootstrap(workdir), topic_name) >= 36, 60, "36 readings")
    running.stop()
    published = readings_in(read_topic(configured_bootstrap(workdir), topic_name))
    assert_exactly_once(published, served_readings(sim))
    assert len(published) == 36


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(workdir, sim, topic_name):
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
    lines = station_lines(sim, 300, network="official")
    (workdir / "stations.txt").write_text("\n".join(lines) + "\n")
    # One message per produce request: a transaction then takes ~100 ms to send instead of
    # ~10, so kills can land between the first record reaching the broker and the commit.
    config_file(workdir, configured_bootstrap(workdir), "[producer]\nbatch.num.messages=1\n")
    rng = random.Random(20261124)
    env = script_env(sim)
    args = (
        "producer.py",
        "config.ini",
        "--topic",
        topic_name,
        "--interval",
        "0.2",
        "--workers",
        "32",
        *NO_QUOTA,
    )
    for _hour in range(20):
        running = start_script(*args, "-v", env=env, cwd=workdir)
        if rng.random() < 0.5:
            assert running.wait_exit(timeout=rng.uniform(0.3, 3.0)) is None, running.stderr()
        else:
            wait_for(
                lambda r=running: "in one transaction" in r.stderr(),
                30,
                "a transaction",
                every=0.005,
            )
            assert running.wait_exit(timeout=rng.uniform(0, 0.15)) is None, running.stderr()
        running.stop(signal.SIGKILL)
        finished = run_script(*args, "--once", env=env, cwd=workdir)
        assert finished.returncode == 0, finished.stderr
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    bootstrap = configured_bootstrap(workdir)
    published = readings_in(read_topic(bootstrap, topic_name))
    served = served_readings(sim)
    assert len({idx for idx, _ in served}) == 300
    assert len(served) >= 20 * 300
    assert_exactly_once(published, served)
    # Proof that kills landed inside transactions: what they had sent was aborted, so a
    # read_uncommitted reader sees more than the read_committed one.
    assert len(read_topic(bootstrap, topic_name, "read_uncommitted")) > sum(published.values())


def test_duplicate_lines_resolving_to_one_station_are_polled_and_published_once(
    workdir, sim, topic_name
):
    (workdir / "stations.txt").write_text("zurich\n@5419\nZürich # again\nbasel\n")
    running = start_script(
        "producer.py",
        "config.ini",
        "--topic",
        topic_name,
        "--interval",
        "0.2",
        env=script_env(sim),
        cwd=workdir,
    )
    wait_for(lambda: "cycle 3:" in running.stderr(), 60, "three cycles")
    assert running.stop() == 0
    log = running.stderr()
    assert "cycle 1: 4 stations polled, 2 new readings published, 2 unchanged" in log
    assert "cycle 2: 2 stations polled, 0 new readings published, 2 unchanged" in log
    assert log.count("is station 5419, as") == 2
    published = readings_in(read_topic(configured_bootstrap(workdir), topic_name))
    assert sorted(idx for idx, _ in published) == sorted({5419, idx_of(sim, "basel")})
    assert published[5419, min(o for i, o in published if i == 5419)] == 1


def idx_of(sim, name: str) -> int:
    return sim.get(f"/feed/{name}/", token=TOKEN).json()["data"]["idx"]


def test_a_replacement_producer_fences_the_old_one(workdir, sim, topic_name):
    """Two producers with the same transactional.id: the newer wins, the older stops (exit 1)."""
    args = ("producer.py", "config.ini", "--topic", topic_name, "--interval", "0.2", *NO_QUOTA)
    old = start_script(*args, env=script_env(sim), cwd=workdir)
    try:
        wait_for(lambda: count_in(configured_bootstrap(workdir), topic_name) == 9, 60, "9")
        new = start_script(*args, env=script_env(sim), cwd=workdir)
        wait_for(lambda: "connected to Kafka" in new.stderr(), 60, "the replacement")
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        assert old.wait_exit(timeout=60) == 1, old.stderr()
        assert "another producer with transactional.id" in old.stderr()
        wait_for(lambda: count_in(configured_bootstrap(workdir), topic_name) == 18, 60, "18")
        assert new.alive()
        assert new.stop() == 0
    finally:
        old.stop(signal.SIGKILL)
    published = readings_in(read_topic(configured_bootstrap(workdir), topic_name))
    assert_exactly_once(published, served_readings(sim))
