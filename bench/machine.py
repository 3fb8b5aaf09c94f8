"""What ran the benchmarks: CPU, cores, memory, load, Python, Kafka and its client library."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka

from bench.processes import ROOT


def describe(bootstrap_servers: str) -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib("MemTotal") / 1024**2, 1),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "kafka": kafka_version(),
        "bootstrap_servers": bootstrap_servers,
        "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
    }


def commit() -> str:
    """The commit measured, with a mark when the working tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" (modified)" if git("status", "--porcelain", "--untracked-files=no") else "")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def kafka_version() -> str:
    """The broker's version, from the jars of the running broker, else what kafka/ starts.

    Kafka's protocol does not say its version; a local broker's class path does.
    """
    for entry in broker_command_lines():
        jar = kafka_jar(entry)
        if jar is not None:
            return jar.stem.removeprefix("kafka_2.13-") + " (the running broker's jars)"
    pom = (ROOT / "kafka" / "pom.xml").read_text()
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    return f"{found[1]} (kafka/pom.xml)" if found else "unknown"


def broker_command_lines() -> Iterator[str]:
    """The arguments of every running Kafka broker (kafka.Kafka), class paths split at ':'."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in args:
            for arg in args:
                yield from arg.decode(errors="replace").split(":")


def kafka_jar(entry: str) -> Path | None:
    """The kafka_2.13-*.jar a class path entry is, or holds when it is `directory/*`."""
    if entry.endswith("*"):
        return next(Path(entry.rstrip("*")).glob("kafka_2.13-*.jar"), None)
    return Path(entry) if Path(entry).name.startswith("kafka_2.13-") else None
