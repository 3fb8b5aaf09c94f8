"""consumer.py on a topic that moved to the schema registry: plain-JSON records followed by
wire-format ones, read whole with or without [schema_registry], nothing skipped."""

from __future__ import annotations

import json
import struct
import uuid

from aqistream.record import encode_record
from tests.pipeline import (
    config_file,
    prepare_workdir,
    read_topic,
    run_producer_once,
    run_script,
    script_env,
    waqi_simulator,
    write_raw,
)


def read_all(workdir, topic: str, *args: str):
    result = run_script(
        "consumer.py", "config.ini", "--topic", topic, "--group", f"g_{uuid.uuid4().hex[:8]}",
        "--from-beginning", "--idle-timeout", "3", *args, env=script_env(None), cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def test_a_topic_of_plain_json_then_wire_format_records_is_read_whole(
    tmp_path, bootstrap_servers, schema_registry, topic_name
):
    plain, with_registry = tmp_path / "plain", tmp_path / "registry"
    for workdir in (plain, with_registry):
        workdir.mkdir()
        prepare_workdir(workdir, bootstrap_servers)
    config_file(with_registry, bootstrap_servers, schema_registry.config_section())
    with waqi_simulator(21, "--quota", "0") as sim:
        assert run_producer_once(plain, sim, topic_name).returncode == 0
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        moved = run_producer_once(with_registry, sim, topic_name)
    assert moved.returncode == 0, moved.stderr
    assert "9 stations published before" in moved.stderr  # it read the plain .latest

    messages = read_topic(bootstrap_servers, topic_name)
    forms = [value[:1] for _, value in messages]
    assert forms.count(b"{") == 9 and forms.count(b"\0") == 9
    payloads = sorted((value if value[:1] == b"{" else value[5:]).decode() for _, value in messages)

    for workdir in (with_registry, plain):  # with the registry, and without it
        result = read_all(workdir, topic_name, "--format", "json")
        assert sorted(result.stdout.splitlines()) == payloads
        assert "18 readings printed, 0 invalid records skipped" in result.stderr

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

    # A value claiming a schema the registry does not hold is reported and skipped.
    record = json.loads(payloads[0])
    stray = b"\0" + struct.pack(">I", 987654321) + encode_record(record)
    write_raw(bootstrap_servers, topic_name, [(b"1", stray)])
    result = read_all(with_registry, topic_name, "--format", "json")
    assert len(result.stdout.splitlines()) == 18
    assert "schema 987654321 is not in the schema registry" in result.stderr
    assert "18 readings printed, 1 invalid records skipped" in result.stderr
