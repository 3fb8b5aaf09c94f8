"""Apicurio Registry for tests: started by kafka/local_registry.py on free ports, with its
schemas in topics of its own on the test broker, and stopped (its topics deleted) after.

The suite shares one (the `schema_registry` fixture, started the first time a test asks
for it); a test that stops or restarts a registry starts a private one.
"""

from __future__ import annotations

import copy
import random
import subprocess
import sys
import uuid
from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient

from aqistream.registry.schemas import RECORD_SCHEMA, draft07, load_schema
from tests.kafka_cluster import port_is_free

SCRIPT = Path(__file__).resolve().parent.parent / "kafka" / "local_registry.py"


def free_port() -> int:
    for _ in range(200):
        port = random.randrange(40000, 60000)
        if port_is_free(port):
            return port
    raise RuntimeError("no free port for a test registry")


class LocalRegistry:
    def __init__(self, run_dir: Path, bootstrap_servers: str):
        self.run_dir = run_dir
        self.bootstrap_servers = bootstrap_servers
        # Chosen now, so a test can point clients at a registry that is not started yet.
        self.port = free_port()
        self.management_port = free_port()
        self.topic_prefix = f"test_registry_{uuid.uuid4().hex[:10]}"

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}/apis/ccompat/v7"

    def client(self) -> SchemaRegistryClient:
        return SchemaRegistryClient({"url": self.url, "timeout": 10})

    def config_section(self) -> str:
        return f"[schema_registry]\nurl={self.url}\n"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "--run-dir", str(self.run_dir), *args],
            capture_output=True,
            text=True,
            timeout=240,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"local_registry.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )
        return result

    def up(self) -> LocalRegistry:
        self.run(
            "up",
            "--port", str(self.port),
            "--management-port", str(self.management_port),
            "--bootstrap-servers", self.bootstrap_servers,
            "--topic-prefix", self.topic_prefix,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop it, keeping its schemas (in Kafka) for the next up()."""
        self.run("down")

    def down(self) -> None:
        """Stop it and delete its schemas."""
        self.run("down", "--clean", check=False)


# The record's registered form, and changes to it that tests register as other versions.
V1 = draft07(load_schema(RECORD_SCHEMA))


def changed(change) -> dict:
    """A copy of V1 with `change` applied to it."""
    form = copy.deepcopy(V1)
    change(form)
    return form


def with_optional_region(form: dict) -> None:
    form["properties"]["region"] = {"type": "string"}


def with_required_country(form: dict) -> None:
    form["properties"]["country"] = {"type": "string"}
    form["required"].append("country")


def with_aqi_as_text(form: dict) -> None:
    form["properties"]["aqi"] = {"type": ["string", "null"]}


def without_fetched_at(form: dict) -> None:
    del form["properties"]["fetched_at"]
    form["required"].remove("fetched_at")
