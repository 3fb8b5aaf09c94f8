"""producer.py survives Kafka being down, at start or mid-run, and catches up exactly once.

Each test has its own private broker (tests/kafka_cluster.py), so stopping it disturbs no
other test.
"""

from __future__ import annotations

import pytest

from tests.kafka_cluster import LocalKafka
from tests.pipeline import (
    NO_QUOTA,
    assert_exactly_once,
    count_in,
    prepare_workdir,
    read_topic,
    readings_in,
    run_script,
    script_env,
    served_readings,
    start_producer,
    wait_for,
    waqi_simulator,
)


@pytest.fixture
def sim():
    with waqi_simulator(3, "--quota", "0") as s:
        yield s


@pytest.fixture
def kafka(tmp_path):
    kafka = LocalKafka(tmp_path / "kafka")
    yield kafka
    kafka.down()


@pytest.fixture
def workdir(tmp_path, kafka):
    """As tests/conftest.py's, but config.ini names the private broker (down until started)."""
    return prepare_workdir(tmp_path, kafka.bootstrap_servers)


def test_broker_down_at_start_then_up_publishes_everything_once(workdir, sim, kafka):
    producer = start_producer(workdir, sim, "aqi", "--interval", "0.5", *NO_QUOTA)
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
    producer = start_producer(workdir, sim, "aqi", "--interval", "0.5", *NO_QUOTA)
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
