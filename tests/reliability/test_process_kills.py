"""Scenarios 4-5: the producer and the consumer killed with SIGKILL at random moments."""

from __future__ import annotations

import json
import random
import signal

from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient

from aqistream.kafka.latest import read_to_end
from tests.pipeline import SLOW_TRANSACTIONS, kill_at_a_random_moment, read_topic, wait_for
from tests.reliability.conftest import scaled
from tests.reliability.harness import Pipeline, complete_lines, printed_readings


def test_producer_killed_at_random_moments(tmp_path, bootstrap_servers, ledger):
    """Every kill is followed by a restart; the restarted producer must publish the hour's
    readings exactly once, whatever the killed one had sent."""
    rng = random.Random(4)
    kills = scaled(60, 15)
    with Pipeline(
        tmp_path, bootstrap_servers, stations=150, producer_config=SLOW_TRANSACTIONS
    ) as pipeline:
        pipeline.wait_for_first_readings()
        catch_ups = []
        for _ in range(kills):
            pipeline.advance_hour()
            kill_at_a_random_moment(pipeline.producer, rng, anywhere=(0.0, 1.5))
            pipeline.start_producer()
            catch_ups.append(pipeline.catch_up())
        verdict = pipeline.verdict()
        aborted = aborted_records(pipeline)
    ledger.add(
        "4. producer killed (kill -9)",
        "kill -9 at a random moment (half of them inside a transaction), then restart",
        kills,
        verdict,
        max(catch_ups),
        f"{aborted} records of killed transactions aborted, none visible to read_committed",
    )
    verdict.assert_exact()
    assert aborted > 0, "no kill landed inside a transaction"


def aborted_records(pipeline: Pipeline) -> int:
    """Records that only a read_uncommitted reader sees: what killed transactions had sent."""
    every = read_topic(pipeline.bootstrap_servers, pipeline.topic, "read_uncommitted")
    return len(every) - sum(pipeline.in_topic().values())


def committed_offsets(pipeline: Pipeline) -> dict[int, int]:
    """partition -> the group's committed offset (what the next member starts from)."""
    admin = AdminClient({"bootstrap.servers": pipeline.bootstrap_servers})
    request = ConsumerGroupTopicPartitions(pipeline.group)
    result = admin.list_consumer_group_offsets([request])[pipeline.group].result()
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.topic == pipeline.topic}


def offsets_of_readings(pipeline: Pipeline) -> dict[tuple[int, str], tuple[int, int]]:
    """(idx, observed_at) -> (partition, offset) in the topic."""
    settings = {"bootstrap.servers": pipeline.bootstrap_servers, "log_level": 0}
    found = {}
    for message in read_to_end(settings, pipeline.topic, 60):
        record = json.loads(message.value())
        found[record["station"]["idx"], record["observed_at"]] = (
            message.partition(),
            message.offset(),
        )
    return found


def test_consumer_killed_at_random_moments(tmp_path, bootstrap_servers, ledger):
    """No record committed before a kill is printed again after the restart; none skipped.

    Records printed after the last commit and before the kill may be printed again: a
    terminal is not transactional. They are counted, not hidden.
    """
    rng = random.Random(5)
    kills = scaled(24, 8)
    with Pipeline(tmp_path, bootstrap_servers, tick_seconds=1.0) as pipeline:
        pipeline.wait_for_first_readings()
        pipeline.start_ticking()
        committed_at_kill = []
        for _ in range(kills):
            consumer = pipeline.consumers[-1]
            wait_for(lambda c=consumer: c.stdout().count("\n") > 0, 60, "the consumer printing")
            consumer.wait_exit(timeout=rng.uniform(0.2, 3.0))
            assert consumer.alive(), consumer.stderr()
            consumer.stop(signal.SIGKILL)
            committed_at_kill.append(committed_offsets(pipeline))
            pipeline.start_consumer()
        catch_up = pipeline.catch_up()
        where = offsets_of_readings(pipeline)
        committed_twice, reprinted = 0, set()
        seen: set = set()
        for run, consumer in enumerate(pipeline.consumers):
            printed = printed_readings(complete_lines(consumer.stdout()))
            committed_twice += sum(n - 1 for n in printed.values() if n > 1)  # within a run
            for reading in printed:
                if reading in seen:
                    partition, offset = where[reading]
                    if offset < committed_at_kill[run - 1].get(partition, -1):
                        committed_twice += 1
                    else:
                        reprinted.add(reading)
            seen |= set(printed)
        verdict = pipeline.verdict(reprints_allowed=reprinted)
    ledger.add(
        "5. consumer killed (kill -9)",
        "kill -9 of the consumer at a random moment, then restart in the same group",
        kills,
        verdict,
        catch_up,
        f"{verdict.reprinted_uncommitted} printed again after a kill (printed after the last "
        f"commit); {committed_twice} committed ones printed twice",
    )
    assert committed_twice == 0
    verdict.assert_exact()
