"""producer.py with [schema_registry], against a real Apicurio Registry, Kafka broker and the
WAQI simulator: every value in wire format with the registered id, decoding to what the
producer built; a refused schema stops it before anything is published; a registry that is
down, at start or while it runs, costs nothing: nothing unencoded, nothing lost or twice.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from aqistream.kafka.latest import latest_topic
from aqistream.registry.schemas import COMPATIBILITY, registered_text, value_subject
from tests.pipeline import (
    NO_QUOTA,
    assert_exactly_once,
    config_file,
    count_in,
    prepare_workdir,
    read_topic,
    readings_in,
    run_producer_once,
    run_script,
    script_env,
    served_readings,
    start_producer,
    start_script,
    wait_for,
    waqi_simulator,
)
from tests.schema_registry import (
    V1,
    LocalRegistry,
    changed,
    free_port,
    with_aqi_as_text,
    with_required_country,
    without_fetched_at,
)


@pytest.fixture
def sim():
    with waqi_simulator(5, "--quota", "0") as s:
        yield s


def registry_workdir(path: Path, bootstrap_servers: str, registry_url: str, extra: str = ""):
    """A producer's working directory whose config.ini turns the registry on."""
    path.mkdir(exist_ok=True)
    prepare_workdir(path, bootstrap_servers)
    config_file(path, bootstrap_servers, f"[schema_registry]\nurl={registry_url}\n{extra}")
    return path


def deserialized(registry_url: str, topic: str, messages: list[tuple[bytes, bytes]]) -> list:
    """What a plain confluent_kafka JSONDeserializer, given only the registry's URL, reads."""
    client = SchemaRegistryClient({"url": registry_url})
    deserializer = JSONDeserializer(None, schema_registry_client=client)
    context = SerializationContext(topic, MessageField.VALUE)
    return [deserializer(value, context) for _, value in messages]


def wire_header(schema_id: int) -> bytes:
    return b"\0" + struct.pack(">I", schema_id)


def without_fetch_time(records: list[dict]) -> list[dict]:
    kept = [{k: v for k, v in record.items() if k != "fetched_at"} for record in records]
    return sorted(kept, key=lambda record: record["station"]["idx"])


def test_every_value_is_wire_format_with_the_registered_id_and_decodes_to_the_plain_record(
    tmp_path, sim, bootstrap_servers, schema_registry, topic_name
):
    plain_topic, wire_topic = f"{topic_name}_plain", f"{topic_name}_wire"
    plain = prepare_workdir(tmp_path, bootstrap_servers)
    assert run_producer_once(plain, sim, plain_topic).returncode == 0
    with_registry = registry_workdir(tmp_path / "wire", bootstrap_servers, schema_registry.url)
    result = run_producer_once(with_registry, sim, wire_topic)
    assert result.returncode == 0, result.stderr
    assert f"value schemas registered at {schema_registry.url}" in result.stderr

    client = schema_registry.client()
    for topic in (wire_topic, latest_topic(wire_topic)):
        registered = client.get_latest_version(value_subject(topic))
        assert registered.version == 1
        assert json.loads(registered.schema.schema_str) == V1
        assert client.get_compatibility(value_subject(topic)) == COMPATIBILITY
        messages = read_topic(bootstrap_servers, topic)
        assert len(messages) == 9
        assert all(value[:5] == wire_header(registered.schema_id) for _, value in messages)

    messages = read_topic(bootstrap_servers, wire_topic)
    records = deserialized(schema_registry.url, wire_topic, messages)
    assert [key for key, _ in messages] == [str(r["station"]["idx"]).encode() for r in records]
    # Field for field what the producer builds without a registry (but when it fetched).
    plain_records = [json.loads(value) for _, value in read_topic(bootstrap_servers, plain_topic)]
    assert without_fetch_time(records) == without_fetch_time(plain_records)
    published = Counter((r["station"]["idx"], r["observed_at"]) for r in records)
    assert_exactly_once(published, served_readings(sim))

    again = run_producer_once(with_registry, sim, wire_topic)  # reads its wire-format .latest
    assert "9 stations published before" in again.stderr
    assert "0 new readings published, 9 unchanged" in again.stderr


@pytest.mark.parametrize(
    ("registered_before", "registry_says"),
    [
        (without_fetched_at, "A new required property was added"),
        (with_aqi_as_text, "/properties/aqi"),
        (with_required_country, "Object type property schemas narrowed"),
    ],
    ids=["adds a required field", "changes a type", "removes a field readers need"],
)
def test_a_schema_the_registry_refuses_stops_the_producer_before_anything_is_published(
    workdir, sim, bootstrap_servers, schema_registry, topic_name, registered_before, registry_says
):
    """The subject already holds a schema that the record's schema, the new version, would
    break: as if the shipped schema had been changed incompatibly."""
    subject = value_subject(topic_name)
    before = changed(registered_before)
    client = schema_registry.client()
    client.set_compatibility(subject, COMPATIBILITY)
    client.register_schema(subject, Schema(registered_text(before), "JSON"))
    config_file(workdir, bootstrap_servers, schema_registry.config_section())

    result = run_producer_once(workdir, sim, topic_name)
    assert result.returncode == 2, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "producer.py" in line]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"producer.py: the schema registry at {schema_registry.url}")
    assert f"refused the value schema of subject {subject}" in error_lines[0]
    assert registry_says in error_lines[0] and "nothing was published" in error_lines[0]
    assert "Traceback" not in result.stderr
    assert count_in(bootstrap_servers, topic_name) == 0
    assert count_in(bootstrap_servers, latest_topic(topic_name)) == 0
    assert client.get_versions(subject) == [1]


def test_the_registry_credentials_never_appear_in_any_output(
    tmp_path, sim, bootstrap_servers, schema_registry, topic_name
):
    secret = "s3cr3t-registry-secret-9f2c"
    credentials = f"basic.auth.user.info=KEY123:{secret}\n"
    up = registry_workdir(tmp_path / "up", bootstrap_servers, schema_registry.url, credentials)
    result = run_producer_once(up, sim, topic_name, "-vv")
    assert result.returncode == 0, result.stderr
    down_url = f"http://localhost:{free_port()}/apis/ccompat/v7"
    down = registry_workdir(tmp_path / "down", bootstrap_servers, down_url, credentials)
    failed = run_producer_once(down, sim, f"{topic_name}_2", "-vv")
    assert failed.returncode == 1
    assert f"schema registry unreachable at {down_url}" in failed.stderr
    consumer = run_script(
        "consumer.py", "config.ini", "--topic", topic_name, "--from-beginning",
        "--max-records", "9", "-vv", env=script_env(None), cwd=up,
    )  # fmt: skip
    assert consumer.returncode == 0, consumer.stderr
    for output in (result, failed, consumer):
        assert secret not in output.stdout + output.stderr


def test_registry_down_at_start_and_while_running_loses_nothing_and_encodes_everything(
    tmp_path, sim, bootstrap_servers, topic_name
):
    registry = LocalRegistry(tmp_path / "registry", bootstrap_servers)  # not started yet
    workdir = registry_workdir(tmp_path / "work", bootstrap_servers, registry.url)
    json_lines = lambda reader: [line for line in reader.stdout().splitlines() if line]  # noqa: E731
    consumers = []

    def start_consumer(group: str):
        consumer = start_script(
            "consumer.py", "config.ini", "--topic", topic_name, "--group", group,
            "--from-beginning", "--format", "json", env=script_env(None), cwd=workdir,
        )  # fmt: skip
        consumers.append(consumer)
        return consumer

    producer = start_producer(workdir, sim, topic_name, "--interval", "0.5", *NO_QUOTA)
    try:
        # Down at start: readings wait, nothing goes out without its schema id.
        wait_for(lambda: "9 waiting for the schema registry" in producer.stderr(), 90,
                 "a cycle without the registry")  # fmt: skip
        assert f"schema registry unreachable at {registry.url}" in producer.stderr()
        assert count_in(bootstrap_servers, topic_name) == 0
        registry.up()
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 9, 90, "the first readings")
        assert "The schema registry is reachable again" in producer.stderr()
        schema_id = registry.client().get_latest_version(value_subject(topic_name)).schema_id
        reader = start_consumer("early")
        wait_for(lambda: len(json_lines(reader)) == 9, 60, "the early reader's 9 readings")

        # Down while running: the producer writes with the id it registered, and a reader
        # that has seen the schema reads on; a new reader waits for the registry, skipping
        # nothing.
        registry.stop()
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 18, 60, "a new hour")
        wait_for(lambda: len(json_lines(reader)) == 18, 60, "the early reader's new hour")
        late = start_consumer("late")
        wait_for(lambda: "schema registry unreachable" in late.stderr(), 60, "the late reader")
        assert "waiting for it, nothing is skipped" in late.stderr()
        assert json_lines(late) == []

        # Back, from its topics in Kafka: the same schemas, and the late reader catches up.
        registry.up()
        assert registry.client().get_latest_version(value_subject(topic_name)).schema_id == (
            schema_id
        )
        wait_for(lambda: len(json_lines(late)) == 18, 60, "the late reader's 18 readings")
        assert producer.alive() and reader.alive()
    finally:
        for script in (producer, *consumers):
            assert script.stop() == 0, script.stderr()
        registry.down()
    # down --clean deletes the schemas: the topics kafkasql kept them in
    topics = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=10).topics
    assert not [name for name in topics if name.startswith(registry.topic_prefix)]

    messages = read_topic(bootstrap_servers, topic_name)
    assert all(value[:5] == wire_header(schema_id) for _, value in messages)
    published = readings_in([(key, value[5:]) for key, value in messages])
    assert_exactly_once(published, served_readings(sim))
    payloads = sorted(value[5:].decode() for _, value in messages)
    for consumer in consumers:
        assert sorted(json_lines(consumer)) == payloads
        assert "0 invalid records skipped" in consumer.stderr()
