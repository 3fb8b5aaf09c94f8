"""Scenarios 1-3: brokers restarted, leaders killed, a cluster without its quorum of replicas."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient

from tests.kafka_cluster import LocalKafka
from tests.pipeline import NO_QUOTA, wait_for
from tests.reliability.conftest import scaled
from tests.reliability.harness import Pipeline

# librdkafka's delivery timeout cannot exceed the transaction timeout: 10 s here, so the
# broker can stay down "longer than the producer's delivery timeout" in a short test.
SHORT_DELIVERY = "[producer]\ntransaction.timeout.ms=10000\n"


@pytest.fixture
def single_broker(tmp_path):
    kafka = LocalKafka(tmp_path / "kafka").up()
    yield kafka
    kafka.down()


@pytest.fixture
def cluster(tmp_path):
    kafka = LocalKafka(tmp_path / "kafka", nodes=3).up()
    yield kafka
    kafka.down()


def test_single_broker_restarted_mid_stream(tmp_path, single_broker, ledger):
    with Pipeline(
        tmp_path, single_broker.bootstrap_servers, producer_config=SHORT_DELIVERY
    ) as pipeline:
        pipeline.wait_for_first_readings()
        restarts = scaled(3, 1)
        catch_ups = []
        for _ in range(restarts):
            pipeline.start_ticking()
            outages = pipeline.kafka_outages()
            single_broker.stop_node(1)
            down_until = time.monotonic() + 12  # longer than the delivery timeout of 10 s
            pipeline.wait_for_kafka_outage(outages)
            wait_for(lambda t=down_until: time.monotonic() > t, 30, "12 s of outage", every=0.5)
            single_broker.start_node(1)
            catch_ups.append(pipeline.catch_up())
        verdict = pipeline.verdict()
        assert pipeline.producer.alive() and pipeline.consumers[0].alive()
    ledger.add(
        "1. single broker restarted mid-stream",
        "the only broker stopped for 12 s (> delivery timeout), then started",
        restarts,
        verdict,
        max(catch_ups),
    )
    verdict.assert_exact()


def broker_count(bootstrap_servers: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    return len(admin.list_topics(timeout=10).brokers)


def partition_leaders(bootstrap_servers: str, topic: str) -> list[int]:
    metadata = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(topic, timeout=10)
    return sorted({p.leader for p in metadata.topics[topic].partitions.values()})


def test_partition_leaders_killed_on_a_3_node_cluster(tmp_path, cluster, ledger):
    with Pipeline(
        tmp_path,
        cluster.bootstrap_servers,
        producer_args=(*NO_QUOTA, "--replication-factor", "3"),
    ) as pipeline:
        pipeline.wait_for_first_readings()
        kills = scaled(6, 2)
        catch_ups = []
        for round_ in range(kills):
            pipeline.start_ticking()
            leaders = partition_leaders(cluster.bootstrap_servers, pipeline.topic)
            victim = leaders[round_ % len(leaders)]
            published_before = len(pipeline.in_topic())
            cluster.stop_node(victim, kill=True)
            # Publishing goes on with two of three replicas (min.insync.replicas=2).
            wait_for(
                lambda n=published_before: len(pipeline.in_topic()) > n + 40,
                120,
                "publishing on without the leader",
                every=0.5,
            )
            cluster.start_node(victim)
            wait_for(lambda: broker_count(cluster.bootstrap_servers) == 3, 90, "the node back")
            catch_ups.append(pipeline.catch_up())
        verdict = pipeline.verdict()
    ledger.add(
        "2. partition leader killed (3 nodes)",
        "kill -9 of the broker leading the topic's partitions, then restart",
        kills,
        verdict,
        max(catch_ups),
        "replication factor 3, min.insync.replicas 2",
    )
    verdict.assert_exact()


def test_two_of_three_brokers_down_stalls_writes_and_loses_nothing(tmp_path, cluster, ledger):
    with Pipeline(
        tmp_path,
        cluster.bootstrap_servers,
        producer_args=(*NO_QUOTA, "--replication-factor", "3"),
        producer_config=SHORT_DELIVERY,
    ) as pipeline:
        pipeline.wait_for_first_readings()
        rounds = scaled(2, 1)
        catch_ups = []
        for _ in range(rounds):
            pipeline.start_ticking()
            outages = pipeline.kafka_outages()
            cluster.stop_node(2, kill=True)
            cluster.stop_node(3, kill=True)
            pipeline.wait_for_kafka_outage(outages)
            pipeline.advance_hour()  # new readings, which cannot be acknowledged now
            # The producer holds them back (the topic cannot even be read while its
            # partitions have one replica); the final count proves none was half-written.
            wait_for(lambda: pipeline.waiting() >= 50, 90, "an hour of readings waiting")
            cluster.start_node(2)
            cluster.start_node(3)
            catch_ups.append(pipeline.catch_up())
        verdict = pipeline.verdict()
    ledger.add(
        "3. two of three brokers down (3 nodes)",
        "kill -9 of 2 of the 3 brokers, writes stall, both restarted",
        rounds,
        verdict,
        max(catch_ups),
    )
    verdict.assert_exact()
