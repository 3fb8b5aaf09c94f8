"""The readers on a topic that moved to the schema registry: plain-JSON records followed by
wire-format ones (and one value claiming a schema the registry does not hold), read whole
by consumer.py, consumer.py --store and aggregator.py, with or without [schema_registry],
nothing skipped; aggregator.py's outputs in wire format with their registered schemas."""

from __future__ import annotations

import json
import signal
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from aqistream.config import read_kafka_config
from aqistream.kafka.values import ValueCodec
from aqistream.record import encode_record
from aqistream.registry.schemas import draft07, load_schema, value_subject
from aqistream.windows.outputs import NOWCAST, OUTPUT_KINDS
from tests.aggregation import (
    assert_exactly_the_reference,
    partition_logs,
    start_aggregator,
    wait_for_outputs,
)
from tests.databases import query, run_store, start_store
from tests.pipeline import (
    config_file,
    prepare_workdir,
    read_topic,
    run_producer_once,
    run_script,
    script_env,
    wait_for,
    waqi_simulator,
    write_raw,
)
from tests.reference import Reference
from tests.schema_registry import free_port

STRAY_ID = 987654321  # a schema id the registry does not hold


def read_all(workdir, topic: str, *args: str):
    result = run_script(
        "consumer.py", "config.ini", "--topic", topic, "--group", f"g_{uuid.uuid4().hex[:8]}",
        "--from-beginning", "--idle-timeout", "3", *args, env=script_env(None), cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


@dataclass
class MigratedTopic:
    name: str
    plain: Path  # a working directory whose config.ini has no [schema_registry]
    with_registry: Path  # one whose config.ini has it
    payloads: list[str]  # the JSON of the 18 readings, sorted
    stray: str  # the JSON behind the stray value's header


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, bootstrap_servers, schema_registry) -> MigratedTopic:
    """9 readings published as plain JSON, then 9 by a producer with the registry on, then
    one value claiming a schema the registry does not hold."""
    topic = f"test_aqi_{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("migrated")
    plain, with_registry = root / "plain", root / "registry"
    for workdir in (plain, with_registry):
        workdir.mkdir()
        prepare_workdir(workdir, bootstrap_servers)
    config_file(with_registry, bootstrap_servers, schema_registry.config_section())
    with waqi_simulator(21, "--quota", "0") as sim:
        assert run_producer_once(plain, sim, topic).returncode == 0
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        moved = run_producer_once(with_registry, sim, topic)
    assert moved.returncode == 0, moved.stderr
    assert "9 stations published before" in moved.stderr  # it read the plain .latest

    messages = read_topic(bootstrap_servers, topic)
    forms = [value[:1] for _, value in messages]
    assert forms.count(b"{") == 9 and forms.count(b"\0") == 9
    payloads = sorted((value if value[:1] == b"{" else value[5:]).decode() for _, value in messages)
    stray = encode_record(json.loads(payloads[0]))
    write_raw(bootstrap_servers, topic, [(b"1", b"\0" + struct.pack(">I", STRAY_ID) + stray)])
    return MigratedTopic(topic, plain, with_registry, payloads, stray.decode())


def test_consumer_reads_plain_json_then_wire_format_records_whole(migrated):
    topic_name, plain, with_registry = migrated.name, migrated.plain, migrated.with_registry
    payloads = migrated.payloads
    # With the registry, and without it (the JSON behind the header taken as it is).
    result = read_all(with_registry, topic_name, "--format", "json")
    assert sorted(result.stdout.splitlines()) == payloads
    assert f"schema {STRAY_ID} is not in the schema registry" in result.stderr
    assert "18 readings printed, 1 invalid records skipped" in result.stderr
    result = read_all(plain, topic_name, "--format", "json")
    assert sorted(result.stdout.splitlines()) == sorted([*payloads, migrated.stray])
    assert "19 readings printed, 0 invalid records skipped" in result.stderr

    # --snapshot: the wire-format .latest, each station's newest reading.
    snapshot = read_all(with_registry, topic_name, "--snapshot", "--format", "json",
                        "--max-records", "9")  # fmt: skip
    newest: dict[int, str] = {}
    for record in map(json.loads, payloads):
        idx = record["station"]["idx"]
        newest[idx] = max(newest.get(idx, ""), record["observed_at"])
    shown = [json.loads(line) for line in snapshot.stdout.splitlines()]
    assert {r["station"]["idx"]: r["observed_at"] for r in shown} == newest and len(shown) == 9

    # A producer that loses [schema_registry] again publishes nothing twice, and says that
    # readers with registry deserializers of their own cannot read what it now writes.
    with waqi_simulator(21, "--quota", "0") as sim:
        back = run_producer_once(plain, sim, topic_name)
    assert "9 stations published before" in back.stderr
    assert "holds values in the schema registry's wire format" in back.stderr
    assert back.returncode == 0 and "0 new readings published" in back.stderr


def test_store_keeps_plain_json_then_wire_format_records_and_waits_for_the_registry(
    migrated, store_url, tmp_path, bootstrap_servers
):
    group = f"test_store_{uuid.uuid4().hex[:10]}"
    # No registry answers: the plain records are stored, the first wire-format value of
    # each partition waits (none rejected, none skipped).
    nowhere = f"[schema_registry]\nurl=http://localhost:{free_port()}/apis/ccompat/v7\n"
    config_file(tmp_path, bootstrap_servers, nowhere)
    waiting = start_store(tmp_path, migrated.name, group, store_url, "--from-beginning")
    wait_for(lambda: "waiting for it, nothing is skipped" in waiting.stderr(), 60, "the wait")
    wait_for(lambda: stored(store_url) == 9, 60, "the plain records stored")
    assert waiting.stop(signal.SIGTERM, timeout=30) == 0, waiting.stderr()
    assert "schema registry unreachable" in waiting.stderr()
    assert query(store_url, "SELECT * FROM rejected") == [] and stored(store_url) == 9

    # The registry there: the rest, and the stray value in `rejected`, with its reason.
    result = run_store(
        migrated.with_registry, migrated.name, group, store_url, "--idle-timeout", "3"
    )
    assert result.returncode == 0, result.stderr
    rows = query(store_url, "SELECT station_idx, observed_at FROM readings")
    expected = {(r["station"]["idx"], r["observed_at"]) for r in map(json.loads, migrated.payloads)}
    assert len(rows) == 18 and {(r["station_idx"], r["observed_at"]) for r in rows} == expected
    (rejected,) = query(store_url, "SELECT * FROM rejected")
    assert f"schema {STRAY_ID} is not in the schema registry" in rejected["reason"]
    assert rejected["first_bytes"][:5] == b"\0" + struct.pack(">I", STRAY_ID)


def stored(url: str) -> int:
    try:
        return query(url, "SELECT count(*) AS n FROM readings")[0]["n"]
    except Exception:  # not created yet
        return 0


def test_aggregator_reads_both_forms_and_writes_its_outputs_in_wire_format(
    migrated, schema_registry, bootstrap_servers
):
    registry = ValueCodec(config_file_settings(migrated.with_registry))
    reference = Reference(partition_logs(bootstrap_servers, migrated.name, registry))
    assert len(reference.all) == 18  # all but the stray
    aggregator = start_aggregator(migrated.with_registry, migrated.name, state="state")
    outputs = wait_for_outputs(bootstrap_servers, migrated.name, reference)
    assert aggregator.stop(signal.SIGTERM, timeout=30) == 0, aggregator.stderr()
    log = aggregator.stderr()
    assert_exactly_the_reference(outputs, reference)
    assert len(outputs.nowcast) == 18 and len(outputs.alerts) >= 9
    assert f"schema {STRAY_ID} is not in the schema registry" in log
    assert "18 readings in (1 invalid, skipped;" in log.splitlines()[-1]
    assert "Traceback" not in log

    client = schema_registry.client()
    for kind in OUTPUT_KINDS:
        topic = kind.topic(migrated.name)
        registered = client.get_latest_version(value_subject(topic))
        assert client.get_compatibility(value_subject(topic)) == "BACKWARD_TRANSITIVE"
        assert json.loads(registered.schema.schema_str) == draft07(load_schema(kind.schema))
        header = b"\0" + struct.pack(">I", registered.schema_id)
        assert all(value[:5] == header for _, value in read_topic(bootstrap_servers, topic))

    # consumer.py prints the outputs, with the registry (and without: the JSON behind).
    nowcasts = migrated.name + NOWCAST.suffix
    for workdir in (migrated.with_registry, migrated.plain):
        result = read_all(workdir, nowcasts, "--format", "json")
        printed = {(v["station"]["idx"], v["observed_at"]) for v in
                   map(json.loads, result.stdout.splitlines())}  # fmt: skip
        assert printed == set(outputs.nowcast)
        assert f"{len(printed)} nowcast records printed, 0 invalid" in result.stderr


def config_file_settings(workdir: Path) -> dict[str, str]:
    return read_kafka_config(str(workdir / "config.ini")).schema_registry
