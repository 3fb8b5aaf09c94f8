"""kafka/local_registry.py: Apicurio Registry from Maven Central, on loopback only, with its
schemas in Kafka; and a Java 21+ found or asked for."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kafka_cluster import free_base_port
from tests.schema_registry import SCRIPT, free_port

KAFKA_DIR = SCRIPT.parent
sys.path.insert(0, str(KAFKA_DIR))  # local_registry imports local_kafka, as when run
spec = importlib.util.spec_from_file_location("local_registry", SCRIPT)
local_registry = importlib.util.module_from_spec(spec)
sys.modules["local_registry"] = local_registry  # dataclasses look their module up there
spec.loader.exec_module(local_registry)

REGISTRY = local_registry.Registry(
    Path("/runs/r"), 8080, 9000, "localhost:9092", "aqi-stream-registry", "256m"
)


def run(*args: str, run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--run-dir", str(run_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_both_ports_listen_on_loopback_only_and_schemas_live_in_kafka():
    properties = local_registry.registry_properties(REGISTRY)
    assert properties["quarkus.http.host"] == "127.0.0.1"
    assert properties["quarkus.management.host"] == "127.0.0.1"
    assert (properties["quarkus.http.port"], properties["quarkus.management.port"]) == (
        "8080",
        "9000",
    )
    assert properties["apicurio.storage.kind"] == "kafkasql"
    assert properties["apicurio.kafkasql.bootstrap.servers"] == "localhost:9092"
    topics = [
        properties["apicurio.kafkasql.topic"],
        properties["apicurio.kafkasql.snapshots.topic"],
        properties["apicurio.events.kafka.topic"],
    ]
    assert (
        topics
        == REGISTRY.topics
        == [
            "aqi-stream-registry-journal",
            "aqi-stream-registry-snapshots",
            "aqi-stream-registry-events",
        ]
    )
    assert REGISTRY.url == "http://localhost:8080/apis/ccompat/v7"


def test_the_command_runs_the_fast_jar_with_every_setting_and_the_run_dir_marked():
    command = local_registry.java_command("/jdk/bin/java", Path("/app"), REGISTRY)
    assert command[0] == "/jdk/bin/java" and "-Xmx256m" in command
    assert command[-2:] == ["-jar", "/app/quarkus-run.jar"]
    assert "-Dquarkus.http.host=127.0.0.1" in command
    assert "-Daqistream.registry.run-dir=/runs/r" in command


def test_a_java_21_or_newer_is_found_though_path_s_java_is_older():
    java, version = local_registry.find_java()
    assert version >= 21
    output = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    assert local_registry.java_major_version(output) == version


def test_without_a_java_21_it_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(local_registry, "JVM_DIR", tmp_path)  # no JDK installed there
    monkeypatch.delenv("JAVA_HOME", raising=False)
    old = tmp_path / "jdk-17" / "bin"
    old.mkdir(parents=True)
    (old / "java").write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    (old / "java").chmod(0o755)
    monkeypatch.setenv("PATH", str(old))
    with pytest.raises(local_registry.SetupError) as raised:
        local_registry.find_java()
    message = str(raised.value)
    assert "needs Java 21 or newer (found: 17" in message
    assert "install a JDK 21+" in message and "JAVA_HOME" in message


def test_up_without_a_kafka_broker_says_so_and_starts_nothing(tmp_path):
    result = run(
        "up", "--port", str(free_port()), "--management-port", str(free_port()),
        "--bootstrap-servers", f"localhost:{free_base_port(1)}", run_dir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no Kafka broker answers at localhost:" in result.stderr
    assert "make kafka-up" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "pid").exists()


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net shows them) of sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_a_running_registry_listens_on_127_0_0_1_only(schema_registry):
    loopback = {"0100007F", "0000000000000000FFFF00000100007F"}  # 127.0.0.1, ::ffff:127.0.0.1
    for port in (schema_registry.port, schema_registry.management_port):
        addresses = listening_addresses(port)
        assert addresses and addresses <= loopback, (port, addresses)


def test_up_again_is_a_no_op_and_status_and_probe_tell_it_runs(schema_registry):
    again = run("up", run_dir=schema_registry.run_dir)
    assert again.returncode == 0 and "already running" in again.stdout
    status = run("status", run_dir=schema_registry.run_dir)
    assert f"{schema_registry.url}: running (pid " in status.stdout
    assert run("probe", schema_registry.url, run_dir=schema_registry.run_dir).returncode == 0
    nobody = f"http://localhost:{free_port()}/apis/ccompat/v7"
    assert run("probe", nobody, run_dir=schema_registry.run_dir).returncode == 1
