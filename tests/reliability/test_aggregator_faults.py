"""Scenarios 12-14: aggregator.py killed with SIGKILL at random moments, alone or beside a
partner in its consumer group, and its broker restarted under it. Its outputs, read_committed,
must hold each (station, local day) once in `.daily` and each reading's NowCast once in
`.nowcast`, equal to the reference.
"""

from __future__ import annotations

import random
import shutil
import signal
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from aqistream.kafka.latest import ReadFailed
from aqistream.record import encode_record, record_key
from tests.aggregation import (
    assert_exactly_the_reference,
    expected_outputs,
    partition_logs,
    read_outputs,
    start_aggregator,
    wait_for_outputs,
)
from tests.kafka_cluster import LocalKafka
from tests.pipeline import config_file, read_topic
from tests.readings import create_topic, hourly_readings, reporting_stations
from tests.reference import Reference
from tests.reliability.conftest import scaled
from tests.reliability.harness import Verdict

SEED = 12
STATIONS = 20
EXTRA_INSIDE_KILLS = 6  # kills beyond the count, if none so far landed inside a transaction


class SlowWriter:
    """Writes the readings hour by hour in the background, so that kills land while the
    aggregator has work in hand."""

    def __init__(self, bootstrap_servers: str, topic: str, hours: int, seconds_per_hour: float):
        stations = reporting_stations(SEED, STATIONS)
        readings = hourly_readings(SEED, stations, "2026-10-23T00:00:00Z", hours)  # once
        self.hours = [readings[n * STATIONS : (n + 1) * STATIONS] for n in range(hours)]
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.pause = seconds_per_hour
        self.thread = threading.Thread(target=self.write, daemon=True)

    def write(self) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap_servers, "linger.ms": 5})
        for hour in self.hours:
            for record in hour:
                producer.produce(self.topic, key=record_key(record), value=encode_record(record))
            assert producer.flush(120) == 0  # also through a broker's restart
            time.sleep(self.pause)

    def __enter__(self) -> SlowWriter:
        create_topic(self.bootstrap_servers, self.topic)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(300)


class Watermarks:
    """How far a topic's partitions have grown (high watermarks: committed or not)."""

    def __init__(self, bootstrap_servers: str):
        self.consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "marks"})

    def __call__(self, topic: str) -> int:
        metadata = self.consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            return 0
        try:
            return sum(
                self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in metadata.partitions
            )
        except KafkaException:  # a topic just created: its leaders not elected yet
            return 0


def kill_at_a_random_moment(
    aggregator, rng: random.Random, nowcasts, marks, inside: bool = False
) -> None:
    """SIGKILL: half the time within 3 s of its start (recovery, joining the group), half the
    time 0 to 2 s after it has written NowCasts (inside a transaction, mostly), or after 30 s
    if it has had nothing to write. `inside`: the moment it has written NowCasts, before its
    checkpoint can commit them (so that a loaded machine, slow to notice, cannot leave every
    kill outside a transaction)."""
    early = rng.random() < 0.5
    delay = rng.uniform(0.0, 3.0 if early else 2.0)
    if early and not inside:
        aggregator.wait_exit(timeout=delay)
    else:
        before = marks(nowcasts)
        deadline = time.monotonic() + 30
        while marks(nowcasts) <= before and time.monotonic() < deadline:
            time.sleep(0.05 if inside else 0.2)
        if not inside:
            aggregator.wait_exit(timeout=delay)
    assert aggregator.alive(), aggregator.stderr()
    aggregator.stop(signal.SIGKILL)


def verdict_of(bootstrap_servers: str, topic: str, reference: Reference) -> Verdict:
    """Readings in; outputs missing (lost) or there twice (duplicated), read_committed."""
    outputs = read_outputs(bootstrap_servers, topic)
    expected = expected_outputs(reference)
    published = {"daily": outputs.daily, "nowcast": outputs.nowcast, "alert": outputs.alerts}
    lost = sum(len(set(expected[kind]) - set(counts)) for kind, counts in published.items())
    twice = sum(n - 1 for counts in published.values() for n in counts.values() if n > 1)
    return Verdict(len(reference.all), len(outputs.nowcast), len(outputs.daily), lost, twice)


def aborted_nowcasts(bootstrap_servers: str, topic: str) -> int:
    """NowCast records only read_uncommitted sees: what the killed instances' transactions had
    written when they died."""
    every = read_topic(bootstrap_servers, topic + ".nowcast", "read_uncommitted")
    return len(every) - len(read_topic(bootstrap_servers, topic + ".nowcast"))


def landed_inside(bootstrap_servers: str, topic: str) -> bool:
    """Whether a kill so far has aborted a transaction with NowCasts in it."""
    try:
        return aborted_nowcasts(bootstrap_servers, topic) > 0
    except ReadFailed:  # no NowCast topic yet
        return False


def test_aggregator_killed_at_random_moments(tmp_path, bootstrap_servers, topic_name, ledger):
    """Every kill is followed by a restart, half of them with the local state wiped (so it
    comes back from the changelog topics alone)."""
    rng = random.Random(12)
    kills = scaled(20, 4)
    config_file(tmp_path, bootstrap_servers)
    marks = Watermarks(bootstrap_servers)
    fresh_states = 0
    # Readings keep coming for longer than the kills take, as in production.
    hours = scaled(24 * 20, 24 * 4)
    with SlowWriter(bootstrap_servers, topic_name, hours, seconds_per_hour=0.4):
        aggregator = start_aggregator(tmp_path, topic_name)
        number = 0
        # From the last two kills on, each aims inside a transaction until one has landed
        # there (a checkpoint every half second can commit first on a loaded machine).
        while number < kills or (
            number < kills + EXTRA_INSIDE_KILLS and not landed_inside(bootstrap_servers, topic_name)
        ):
            inside = number >= kills - 2 and not landed_inside(bootstrap_servers, topic_name)
            kill_at_a_random_moment(aggregator, rng, topic_name + ".nowcast", marks, inside)
            number += 1
            if rng.random() < 0.5:
                shutil.rmtree(tmp_path / "state", ignore_errors=True)
                fresh_states += 1
            aggregator = start_aggregator(tmp_path, topic_name)
        kills = number
    started = time.monotonic()
    reference = Reference(partition_logs(bootstrap_servers, topic_name))
    outputs = wait_for_outputs(bootstrap_servers, topic_name, reference, timeout=240)
    catch_up = time.monotonic() - started
    assert aggregator.stop(signal.SIGTERM, timeout=30) == 0, aggregator.stderr()
    verdict = verdict_of(bootstrap_servers, topic_name, reference)
    aborted = aborted_nowcasts(bootstrap_servers, topic_name)
    ledger.add(
        "12. aggregator.py killed (kill -9)",
        f"kill -9 at a random moment, then restart ({fresh_states} of them with the local "
        "state deleted)",
        kills,
        verdict,
        catch_up,
        f"lost/duplicated: days and NowCasts against the reference ({verdict.printed} days, "
        f"{verdict.in_topic} NowCasts); {aborted} records of killed transactions aborted",
    )
    verdict.assert_exact()
    assert_exactly_the_reference(outputs, reference)
    assert aborted > 0, "no kill landed inside a transaction"


def test_two_instances_one_killed_and_restarted(tmp_path, bootstrap_servers, topic_name, ledger):
    """Two instances share the partitions; one dies, its partner takes its partitions and
    their state over, the dead one comes back and takes some back."""
    rounds = scaled(4, 1)
    config_file(tmp_path, bootstrap_servers)
    with SlowWriter(bootstrap_servers, topic_name, hours=24 * 4 * rounds, seconds_per_hour=0.1):
        first = start_aggregator(tmp_path, topic_name, state="state-a")
        second = start_aggregator(tmp_path, topic_name, state="state-b")
        for _ in range(rounds):
            time.sleep(4)
            first.stop(signal.SIGKILL)
            time.sleep(6)  # the partner works alone, on all partitions
            first = start_aggregator(tmp_path, topic_name, state="state-a")
    started = time.monotonic()
    reference = Reference(partition_logs(bootstrap_servers, topic_name))
    outputs = wait_for_outputs(bootstrap_servers, topic_name, reference, timeout=240)
    catch_up = time.monotonic() - started
    for instance in (first, second):
        assert instance.stop(signal.SIGTERM, timeout=30) == 0, instance.stderr()
    verdict = verdict_of(bootstrap_servers, topic_name, reference)
    ledger.add(
        "13. two aggregator.py instances, one killed",
        "one of two instances in a group killed with kill -9 and restarted",
        rounds,
        verdict,
        catch_up,
        "lost/duplicated: days and NowCasts against the reference",
    )
    verdict.assert_exact()
    assert_exactly_the_reference(outputs, reference)
    assert "readings in" in second.stderr()


def test_broker_restarted_under_the_aggregator(tmp_path, ledger):
    """The only broker stops for 15 s while readings come and go; the aggregator waits, or
    fails and starts again, and catches up."""
    kafka = LocalKafka(tmp_path / "kafka").up()
    try:
        restarts = scaled(3, 1)
        config_file(tmp_path, kafka.bootstrap_servers)
        topic = "aqi_broker_restart"
        with SlowWriter(kafka.bootstrap_servers, topic, hours=24 * 3, seconds_per_hour=0.4):
            aggregator = start_aggregator(tmp_path, topic)
            marks = Watermarks(kafka.bootstrap_servers)
            for _ in range(restarts):
                before = marks(topic + ".nowcast")
                deadline = time.monotonic() + 90
                while marks(topic + ".nowcast") <= before and time.monotonic() < deadline:
                    time.sleep(0.5)
                kafka.stop_node(1)
                time.sleep(15)
                kafka.start_node(1)
        started = time.monotonic()
        reference = Reference(partition_logs(kafka.bootstrap_servers, topic))
        outputs = wait_for_outputs(kafka.bootstrap_servers, topic, reference, timeout=240)
        catch_up = time.monotonic() - started
        assert aggregator.alive(), aggregator.stderr()
        assert aggregator.stop(signal.SIGTERM, timeout=30) == 0, aggregator.stderr()
        verdict = verdict_of(kafka.bootstrap_servers, topic, reference)
    finally:
        kafka.down()
    ledger.add(
        "14. broker restarted under aggregator.py",
        "its only broker stopped for 15 s, then started",
        restarts,
        verdict,
        catch_up,
        "lost/duplicated: days and NowCasts against the reference",
    )
    verdict.assert_exact()
    assert_exactly_the_reference(outputs, reference)
