"""producer.py as a person meets it: exit codes, one-line errors, signals, and no token leaks."""

from __future__ import annotations

import signal
import time

import pytest

from tests.kafka_cluster import free_base_port
from tests.pipeline import (
    NO_QUOTA,
    TOKEN,
    config_file,
    count_in,
    read_topic,
    run_producer_once,
    run_script,
    script_env,
    start_producer,
    wait_for,
    waqi_simulator,
)
from tests.simulator import running_simulator


@pytest.fixture
def sim():
    with waqi_simulator(2, "--quota", "0") as s:
        yield s


def producer(workdir, sim, *args, **env):
    """producer.py with exactly `args`."""
    return run_script("producer.py", *args, env=script_env(sim, **env), cwd=workdir)


def assert_one_line_exit_2(result, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--interval", "0"), "--interval: 0 must be greater than 0"),
        (("--quota", "lots"), "--quota: 'lots' is not a number"),
        (("--burst", "0"), "--burst: 0 must be at least 1"),
        (("--workers", "-3"), "--workers: -3 must be at least 1"),
        (("--api-url", "api.waqi.info"), "is not an http:// or https:// URL"),
        (("--bogus",), "unrecognized arguments: --bogus"),
        (("missing.ini",), "missing.ini: no such file (copy config.ini.example"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(workdir, sim, args, expected):
    assert_one_line_exit_2(producer(workdir, sim, *args), expected)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("bootstrap.servers=localhost:9092\n", "not a valid INI file"),
        ("[default]\nbootstrap.servers=localhost:9092\nlinger.msx=5\n", "linger.msx"),
        ("[default]\nbootstrap.servers=localhost:9092\n[producer]\nacks=sometimes\n", "acks"),
        ("[default]\nsasl.username=x\n", "set bootstrap.servers in [default]"),
    ],
    ids=["no-section", "unknown-key", "bad-value", "no-bootstrap"],
)
def test_bad_config_ini_is_one_line_and_exit_2(workdir, sim, topic_name, config, expected):
    (workdir / "bad.ini").write_text(config)
    result = producer(workdir, sim, "bad.ini", "--topic", topic_name, "--once")
    assert_one_line_exit_2(result, expected)


def test_missing_token_says_how_to_get_one(workdir, sim):
    result = producer(workdir, sim, "--once", WAQI_TOKEN="")
    assert_one_line_exit_2(result, "WAQI_TOKEN is not set: get a free token at https://aqicn.org")


def test_once_with_the_api_unreachable_exits_1(workdir, topic_name):
    closed_port = free_base_port(1)
    result = run_producer_once(
        workdir, None, topic_name, *NO_QUOTA, WAQI_API_URL=f"http://127.0.0.1:{closed_port}"
    )
    assert result.returncode == 1
    assert "connection refused by the API host" in result.stderr
    assert "no station could be fetched from the WAQI API" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_api_url_that_is_not_waqi_is_reported_as_such(
    workdir, sim, topic_name, bootstrap_servers
):
    result = run_producer_once(
        workdir, sim, topic_name, *NO_QUOTA, WAQI_API_URL=f"{sim.url}/not-the-api"
    )
    assert result.returncode == 1
    assert "HTTP 404 from the API" in result.stderr
    assert count_in(bootstrap_servers, topic_name) == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_fetch_commits_what_it_has_and_exits_0_promptly(
    workdir, sim, topic_name, bootstrap_servers, sig
):
    # Slow answers: the signal arrives while requests are in flight.
    sim.admin("POST", "/admin/faults", {"latency_ms": 1500})
    running = start_producer(workdir, sim, topic_name, "--workers", "3", *NO_QUOTA)
    wait_for(lambda: "connected to Kafka" in running.stderr(), 60, "the producer to connect")
    wait_for(lambda: sim.admin("GET", "/admin/served")["readings"], 30, "a first answer")
    started = time.monotonic()
    code = running.stop(sig, timeout=20)
    took = time.monotonic() - started
    assert code == 0, running.stderr()
    assert took < 6, f"took {took:.1f} s to exit"
    assert "finishing the cycle, then exiting" in running.stderr()
    fetched = len(sim.admin("GET", "/admin/served")["readings"])
    # Whatever had been fetched was committed before exiting (a few answers may arrive after
    # the producer stopped waiting; those are fetched again next time).
    assert 1 <= count_in(bootstrap_servers, topic_name) <= fetched


def test_the_token_never_appears_in_output_or_kafka(workdir, sim, topic_name, bootstrap_servers):
    """Every path that shows a URL or an error: normal, faults, refused, HTML, bad key."""
    outputs = []
    outputs.append(run_producer_once(workdir, sim, topic_name, "-vv", *NO_QUOTA))
    sim.admin("POST", "/admin/faults", {"error_rate": 0.5, "empty_rate": 0.2, "nonjson_rate": 0.2})
    sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    outputs.append(run_producer_once(workdir, sim, topic_name, "-vv", *NO_QUOTA))
    sim.admin("DELETE", "/admin/faults")
    outputs.append(
        run_producer_once(workdir, sim, topic_name, "-vv", WAQI_API_URL=f"{sim.url}/not-the-api")
    )
    closed = f"http://127.0.0.1:{free_base_port(1)}"
    outputs.append(run_producer_once(workdir, sim, topic_name, "-vv", WAQI_API_URL=closed))
    (workdir / "elsewhere").mkdir()
    unreachable_kafka = config_file(workdir / "elsewhere", "localhost:1")
    outputs.append(producer(workdir, sim, unreachable_kafka, "--once", "-vv", *NO_QUOTA))
    with running_simulator("--token", "only-this-one") as strict:
        outputs.append(producer(workdir, strict, "config.ini", "--once", "-vv"))
    assert [r.returncode for r in outputs] == [0, 0, 1, 1, 1, 2]
    for result in outputs:
        assert TOKEN not in result.stdout + result.stderr
    published = read_topic(bootstrap_servers, topic_name)
    assert len(published) >= 9
    assert not [value for _, value in published if TOKEN.encode() in value]
