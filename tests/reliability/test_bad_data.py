"""Scenarios 7-8: poison in the topic, and bad input from the person running the scripts."""

from __future__ import annotations

import json

from tests.kafka_cluster import free_base_port
from tests.pipeline import (
    NO_QUOTA,
    TOKEN,
    config_file,
    count_in,
    run_script,
    script_env,
    wait_for,
    write_raw,
)
from tests.reliability.conftest import scaled
from tests.reliability.harness import Pipeline, Verdict
from tests.simulator import running_simulator

POISON = [
    b"\x00\x01\x02 not json at all \xff",
    b"{broken json",
    b'"a JSON string, not an object"',
    b'{"hello": "not a record"}',
    b'{"schema_version": 99, "source": "waqi", "station": {"idx": 1}}',
    b"",
]


def test_poison_records_between_real_ones(tmp_path, bootstrap_servers, ledger):
    rounds = scaled(10, 4)
    with Pipeline(tmp_path, bootstrap_servers, tick_seconds=1.0) as pipeline:
        pipeline.wait_for_first_readings()
        pipeline.start_ticking()
        written = 0
        for round_ in range(rounds):
            published = len(pipeline.in_topic())
            wait_for(lambda n=published: len(pipeline.in_topic()) > n, 60, "more real readings")
            key = str(5419 + round_).encode()
            write_raw(bootstrap_servers, pipeline.topic, [(key, value) for value in POISON])
            written += len(POISON)
        catch_up = pipeline.catch_up()
        verdict = pipeline.verdict()
        consumer = pipeline.consumers[0]
        wait_for(
            lambda: consumer.stderr().count("skipping an invalid record") >= written,
            60,
            "every poison message reported",
        )
        reported = consumer.stderr().count("skipping an invalid record")
        assert consumer.alive()
    ledger.add(
        "7. poison records in the topic",
        "bytes that are not JSON, JSON that is not a record, unknown schema version, "
        "empty values, written between real readings",
        written,
        verdict,
        catch_up,
        f"{reported} of {written} reported by the consumer, each once",
    )
    assert reported == written
    verdict.assert_exact()


def test_bad_input_is_one_clear_line_the_right_exit_code_and_nothing_published(
    tmp_path, bootstrap_servers, ledger
):
    topic = f"aqi_bad_input_{tmp_path.name[-12:]}"
    cases = []
    with running_simulator("--token", TOKEN, "--quota", "0") as sim:
        (tmp_path / "stations.txt").write_text("zurich\nbasel\n")
        config_file(tmp_path, bootstrap_servers)

        def producer(*args, expect: int, says: str, **env) -> None:
            result = run_script(
                "producer.py",
                *args,
                "--topic",
                topic,
                "--once",
                *NO_QUOTA,
                env=script_env(sim, **env),
                cwd=tmp_path,
            )
            cases.append((args, env, result, expect, says))

        def write(name: str, content: bytes) -> str:
            (tmp_path / name).write_bytes(content)
            return name

        producer("missing.ini", expect=2, says="missing.ini: no such file")
        producer(
            write("broken.ini", b"bootstrap.servers=x\n"), expect=2, says="not a valid INI file"
        )
        producer(
            write("unknown.ini", b"[default]\nbootstrap.servers=localhost:9092\nfoo.bar=1\n"),
            expect=2,
            says='No such configuration property: "foo.bar"',
        )
        unreachable = f"localhost:{free_base_port(1)}"
        producer(
            write("away.ini", f"[default]\nbootstrap.servers={unreachable}\n".encode()),
            expect=1,
            says=f"Kafka unreachable at {unreachable}",
        )
        producer(
            "config.ini",
            "--stations",
            write("empty.txt", b""),
            expect=2,
            says="empty.txt: no stations listed",
        )
        producer(
            "config.ini",
            "--stations",
            write("garbage.txt", bytes(range(256)) * 4),
            expect=2,
            says="garbage.txt",
        )
        producer(
            "config.ini",
            expect=2,
            says="the WAQI API refused WAQI_TOKEN (Invalid key)",
            WAQI_TOKEN="wrong-token",
        )
        producer(
            "config.ini",
            expect=1,
            says="(is --api-url the WAQI API?)",
            WAQI_API_URL=f"{sim.url}/some/html/page",
        )
        served = len(sim.admin("GET", "/admin/served")["readings"])
    problems = []
    for args, env, result, expect, says in cases:
        last_line = result.stderr.strip().splitlines()[-1]
        if result.returncode != expect or says not in last_line or "Traceback" in result.stderr:
            problems.append((args, env, result.returncode, result.stderr[-300:]))
        # What is wrong before anything starts is the only line (the token is only found
        # wrong once the API is asked, after the start-up lines).
        if expect == 2 and not env and result.stderr.count("\n") != 1:
            problems.append((args, env, "not one line", result.stderr))
    assert count_in(bootstrap_servers, topic) == 0
    ledger.add(
        "8. bad input",
        "missing, malformed and unknown-key config.ini; unreachable "
        "bootstrap server; empty and binary stations.txt; invalid token; an API URL "
        "serving HTML",
        len(cases),
        Verdict(served, 0, 0, 0, 0),
        None,
        f"{len(cases) - len(problems)} of {len(cases)} gave their one clear line and "
        "exit code (2 for configuration, 1 when unreachable); nothing published (the "
        "readings served went to the run that found Kafka unreachable)",
    )
    assert not problems, json.dumps(problems, indent=1, default=str)
