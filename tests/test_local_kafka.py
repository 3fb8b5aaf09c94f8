"""kafka/local_kafka.py: a real Kafka from Maven Central jars, one node or three."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.kafka_cluster import SCRIPT, LocalKafka

spec = importlib.util.spec_from_file_location("local_kafka", SCRIPT)
local_kafka = importlib.util.module_from_spec(spec)
sys.modules["local_kafka"] = local_kafka  # dataclasses look their module up there
spec.loader.exec_module(local_kafka)


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_three_node_settings_replicate_internal_topics_three_times():
    cluster = local_kafka.Cluster(Path("/x"), nodes=3, base_port=9092, heap="512m")
    node2 = properties(local_kafka.server_properties(cluster, 2))
    assert node2["node.id"] == "2"
    assert node2["listeners"] == "PLAINTEXT://localhost:9094,CONTROLLER://localhost:9095"
    assert node2["controller.quorum.voters"] == (
        "1@localhost:9093,2@localhost:9095,3@localhost:9097"
    )
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
    ):
        assert node2[key] == "3", key
    assert node2["min.insync.replicas"] == "2"
    assert node2["transaction.state.log.min.isr"] == "2"


def test_single_node_settings_let_transactions_start_with_one_replica():
    cluster = local_kafka.Cluster(Path("/x"), nodes=1, base_port=9092, heap="512m")
    node1 = properties(local_kafka.server_properties(cluster, 1))
    assert node1["transaction.state.log.replication.factor"] == "1"
    assert node1["transaction.state.log.min.isr"] == "1"
    assert node1["advertised.listeners"] == "PLAINTEXT://localhost:9092"


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("garbage", None),
    ],
)
def test_java_major_version(output, major):
    assert local_kafka.java_major_version(output) == major


def test_cluster_id_is_22_chars_of_base64url_not_starting_with_dash():
    for _ in range(200):
        cluster_id = local_kafka.new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")


def test_three_nodes_join_accept_acks_all_writes_and_stop_completely(tmp_path):
    kafka = LocalKafka(tmp_path / "run", nodes=3).up()
    try:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        assert len(admin.list_topics(timeout=10).brokers) == 3
        admin.create_topics([NewTopic("rf3", 3, 3)])["rf3"].result(30)
        producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
        errors = []
        for i in range(30):
            producer.produce("rf3", str(i).encode(), on_delivery=lambda e, m: errors.append(e))
        assert producer.flush(30) == 0
        assert errors == [None] * 30
        partitions = admin.list_topics("rf3", timeout=10).topics["rf3"].partitions
        assert all(len(p.isrs) == 3 for p in partitions.values())
        again = kafka.run("up", "--nodes", "3", "--base-port", str(kafka.base_port))
        assert "already running" in again.stdout
        pids = kafka.pids()
        assert len(pids) == 3
    finally:
        kafka.run("down")
    assert not [pid for pid in pids if is_running(pid)]


def is_running(pid: int) -> bool:
    """Alive and not a zombie waiting for init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def test_port_taken_by_another_program_is_one_clear_line(tmp_path):
    kafka = LocalKafka(tmp_path / "run")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", kafka.base_port))
        squatter.listen()
        result = kafka.run("up", "--base-port", str(kafka.base_port), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"port {kafka.base_port} is already in use" in result.stderr


def test_missing_java_is_one_clear_line(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # a PATH with no java and no mvn
    result = local_kafka_in(env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "local_kafka: java not found: install a Java 17+ JDK and put java on PATH"
    )


def test_too_old_java_is_one_clear_line(tmp_path):
    fake_java = tmp_path / "java"
    fake_java.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    fake_java.chmod(0o755)
    result = local_kafka_in({**os.environ, "PATH": str(tmp_path)}, tmp_path)
    assert result.returncode == 2
    assert "Kafka 4 needs Java 17 or newer, found 8" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def local_kafka_in(env, tmp_path):
    kafka = LocalKafka(tmp_path / "run")
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--run-dir",
            str(kafka.run_dir),
            "up",
            "--base-port",
            str(kafka.base_port),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
