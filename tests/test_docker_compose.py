"""docker-compose.yml runs the same single-node KRaft broker as `make kafka-up`, the same
schema registry as `make registry-up`, and the PostgreSQL that `consumer.py --store` can
write to.

There is no Docker engine here, so the file is parsed and its settings that matter checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def service(name: str):
    found = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][name]
    return found, {key: str(value) for key, value in found["environment"].items()}


def broker():
    return service("kafka")


def version_in(pom: str, property_name: str) -> str:
    text = (ROOT / "kafka" / pom).read_text()
    return re.search(rf"<{property_name}>(.+)</{property_name}>", text)[1]


def kafka_version_of_pom() -> str:
    return version_in("pom.xml", "kafka.version")


def test_same_apache_kafka_version_as_the_local_broker():
    service, _ = broker()
    assert service["image"] == f"apache/kafka:{kafka_version_of_pom()}"


def test_kraft_combined_roles_with_its_own_controller_quorum():
    _, env = broker()
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    node_id = env["KAFKA_NODE_ID"]
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1 and voters[0].startswith(f"{node_id}@")
    controller_port = voters[0].rsplit(":", 1)[1]
    assert f"CONTROLLER://:{controller_port}" in env["KAFKA_LISTENERS"].split(",")
    assert len(env["CLUSTER_ID"]) == 22


def test_clients_on_the_host_reach_localhost_9092():
    service, env = broker()
    assert "9092:9092" in service["ports"]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    host_listener = next(
        name for name, address in advertised.items() if address == "localhost:9092"
    )
    assert listeners[host_listener] == ":9092"
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) <= set(protocols)


def test_one_broker_so_every_replication_factor_is_one_and_transactions_can_start():
    _, env = broker()
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
        "KAFKA_MIN_INSYNC_REPLICAS",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ):
        assert env[key] == "1", key


def test_the_registry_is_the_apicurio_version_make_registry_up_runs():
    registry, _ = service("apicurio")
    apicurio_version = version_in("registry-pom.xml", "apicurio.version")
    assert registry["image"] == f"apicurio/apicurio-registry:{apicurio_version}"


def test_the_registry_keeps_its_schemas_in_the_broker_and_waits_for_it():
    registry, env = service("apicurio")
    _, kafka_env = broker()
    assert env["APICURIO_STORAGE_KIND"] == "kafkasql"
    # the listener containers on the compose network reach
    host, port = env["APICURIO_KAFKASQL_BOOTSTRAP_SERVERS"].split(":")
    assert f"PLAINTEXT://{host}:{port}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert registry["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert env["APICURIO_KAFKASQL_TOPIC"] == "aqi-stream-registry-journal"  # as registry-up


def test_the_registry_s_ports_are_published_on_this_machine_only():
    registry, _ = service("apicurio")
    assert sorted(registry["ports"]) == ["127.0.0.1:8080:8080", "127.0.0.1:9000:9000"]


def test_postgres_for_the_store_with_the_url_the_file_gives():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"kafka", "apicurio", "postgres"}
    service = compose["services"]["postgres"]
    assert service["image"].startswith("postgres:")
    assert "5432:5432" in service["ports"]
    env = service["environment"]
    url = f"postgresql://{env['POSTGRES_USER']}@localhost:5432/{env['POSTGRES_DB']}"
    assert url in (ROOT / "docker-compose.yml").read_text()
    # No password committed: compose takes it from the git-ignored .env.
    assert env["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"
    assert "POSTGRES_PASSWORD=\n" in (ROOT / ".env.example").read_text()
    # The history outlives `docker compose down`: a named volume at the image's data path.
    volume = service["volumes"][0].split(":")
    assert volume == ["postgres-data", "/var/lib/postgresql/data"]
    assert "postgres-data" in compose["volumes"]
    assert "pg_isready" in " ".join(service["healthcheck"]["test"])
