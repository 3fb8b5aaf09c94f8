"""The reliability suite: every scenario adds a row to a ledger; a full run writes it out.

AQI_RELIABILITY_SCALE=full (make test-reliability) runs the full iteration counts; the
default, used by make test in CI, runs fewer. AQI_RELIABILITY_REPORT=path writes the table
of the run to that file (make test-reliability writes docs/RELIABILITY.md).
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import confluent_kafka
import pytest

FULL = os.environ.get("AQI_RELIABILITY_SCALE") == "full"


@dataclass
class Row:
    scenario: str
    broken: str
    times: int
    served: int
    lost: int
    duplicated: int
    catch_up_seconds: float | None
    note: str = ""


def scaled(full: int, ci: int) -> int:
    """An iteration count: the full one under make test-reliability, fewer in CI."""
    return full if FULL else ci


class Ledger(list):
    def add(self, scenario: str, broken: str, times: int, verdict, catch_up, note: str = ""):
        self.append(
            Row(
                scenario,
                broken,
                times,
                verdict.served,
                verdict.lost,
                verdict.duplicated,
                catch_up,
                note,
            )
        )


LEDGER = Ledger()


@pytest.fixture
def ledger() -> Ledger:
    return LEDGER


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("AQI_RELIABILITY_REPORT")
    if target and LEDGER:
        Path(target).write_text(report(exitstatus))


def report(exitstatus: int) -> str:
    rows = sorted(LEDGER, key=lambda row: row.scenario)
    lines = [
        "# Reliability: what was broken, and what it cost",
        "",
        "Written by `make test-reliability` (tests/reliability/); do not edit by hand.",
        "",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{'full iteration counts' if FULL else 'CI iteration counts'}, "
        f"pytest exit status {exitstatus} ({'all passed' if exitstatus == 0 else 'FAILURES'}), "
        f"commit {git_revision()}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"confluent-kafka {confluent_kafka.version()[0]} (librdkafka "
        f"{confluent_kafka.libversion()[0]}), {kafka_version()}",
        "",
        "Each scenario runs the real producer.py and consumer.py against real Kafka and the "
        "WAQI simulator, breaks something, stops breaking it, lets the pipeline catch up, and "
        "compares what the simulator served with what the topic holds (read_committed) and "
        "what a consumer printed (`--format json`). *Lost*: served but missing from the topic "
        "or from the consumer's output. *Duplicated*: in the topic twice, or printed twice "
        "after having been committed. *Catch-up*: from the end of the faults until every "
        "served reading was in the topic and printed.",
        "",
        "| Scenario | What was broken | Times | Readings served | Lost | Duplicated "
        "| Catch-up | Notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        catch_up = "-" if row.catch_up_seconds is None else f"{row.catch_up_seconds:.1f} s"
        lines.append(
            f"| {row.scenario} | {row.broken} | {row.times} | {row.served} | {row.lost} "
            f"| {row.duplicated} | {catch_up} | {row.note} |"
        )
    return "\n".join(lines) + "\n"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def kafka_version() -> str:
    pom = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
    for line in pom.read_text().splitlines():
        if "<kafka.version>" in line:
            return "Apache Kafka " + line.split(">")[1].split("<")[0]
    return "Apache Kafka"


def git_revision() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip()
