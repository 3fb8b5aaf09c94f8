"""producer.py survives Kafka being down, at start or mid-run, and catches up exactly once.

Each test has its own private broker (tests/kafka_cluster.py), so stopping it disturbs no
other test.
"""

from __future__ import annotations

import pytest

from tests.kafka_cluster import LocalKafka
from tests.pipeline import (
    TOKEN,
    assert_exactly_once,
    config_file,
    count_in,
    read_topic,
    readings_in,
    run_script,
    script_env,
    served_readings,
    start_script,
    wait_for,
)
from tests.simulator import running_simulator
from tests.test_producer import NO_QUOTA, START, SWISS


@pytest.fixture
def sim():
    with running_simulator("--seed", "3", "--start", START, "--token", TOKEN, "--quota", "0") as s:
        yield s


@pytest.fixture
def kafka(tmp_path):
    kafka = LocalKafka(tmp_path / "kafka")
    yield kafka
    kafka.down()


@pytest.fixture
def workdir(tmp_path, kafka):
    (tmp_path / "stations.txt").write_text("\n".join(SWISS) + "\n")
    config_file(tmp_path, kafka.bootstrap_servers)
    return tmp_path


def start_producer(workdir, sim):
    return start_script(
        "producer.py",
        "config.ini",
        "--topic",
        "aqi",
        "--interval",
        "0.5",
        *NO_QUOTA,
        env=script_env(sim),
        cwd=workdir,
    )


def test_broker_down_at_start_then_up_publishes_everything_once(workdir, sim, kafka):
    producer = start_producer(workdir, sim)
    try:
        wait_for(lambda: "waiting for Kafka" in producer.stderr(), 90, "a cycle without Kafka")
        assert "Kafka unreachable at" in producer.stderr()
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})  # more while Kafka is down
        wait_for(lambda: "18 waiting for Kafka" in producer.stderr(), 60, "two hours waiting")
        kafka.up()
        wait_for(lambda: count_in(kafka.bootstrap_servers, "aqi") >= 18, 90, "the catch-up")
        assert producer.alive()
    finally:
        assert producer.stop() == 0, producer.stderr()
    assert "Kafka is reachable again" in producer.stderr()
    assert_exactly_once(
        readings_in(read_topic(kafka.bootstrap_servers, "aqi")), served_readings(sim)
    )


def test_broker_stopped_mid_run_then_back_loses_and_duplicates_nothing(workdir, sim, kafka):
    kafka.up()
    producer = start_producer(workdir, sim)
    try:
        wait_for(lambda: count_in(kafka.bootstrap_servers, "aqi") >= 9, 60, "first readings")
        kafka.stop_node(1)
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        wait_for(lambda: "9 waiting for Kafka" in producer.stderr(), 90, "readings waiting")
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        wait_for(lambda: "18 waiting for Kafka" in producer.stderr(), 90, "more waiting")
        kafka.start_node(1)
        wait_for(lambda: count_in(kafka.bootstrap_servers, "aqi") >= 27, 120, "the catch-up")
        assert producer.alive()
    finally:
        assert producer.stop() == 0, producer.stderr()
    published = readings_in(read_topic(kafka.bootstrap_servers, "aqi"))
    assert_exactly_once(published, served_readings(sim))
    assert len(published) == 27


def test_once_with_kafka_unreachable_exits_1_and_says_why(workdir, sim, kafka):
    result = run_script(
        "producer.py", "config.ini", "--once", *NO_QUOTA, env=script_env(sim), cwd=workdir
    )
    assert result.returncode == 1
    assert f"Kafka unreachable at {kafka.bootstrap_servers}" in result.stderr
    assert "0 new readings published (9 waiting for Kafka)" in result.stderr
    assert "Traceback" not in result.stderr
