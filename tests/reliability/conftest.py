"""The reliability suite: every scenario adds a row to a ledger; a full run writes it out.

AQI_RELIABILITY_SCALE=full (make test-reliability) runs the full iteration counts; the
default, used by make test in CI, runs fewer. AQI_RELIABILITY_REPORT=path writes the table
of the run to that file (make test-reliability writes docs/RELIABILITY.md). With
AQI_RELIABILITY_MERGE=1 (make test-reliability MERGE=1, with PYTEST_ARGS choosing some
scenarios) the run's rows replace those of the same scenarios in the table already there,
and the rest are kept, each row naming the run it comes from.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import confluent_kafka
import pytest

FULL = os.environ.get("AQI_RELIABILITY_SCALE") == "full"
MERGE = os.environ.get("AQI_RELIABILITY_MERGE") == "1"
COLUMNS = ("Scenario", "What was broken", "Times", "Readings served", "Lost", "Duplicated",
           "Catch-up", "Notes", "Run")  # fmt: skip
# The run line of a table written before rows named their run.
EARLIER_RUN = re.compile(
    r"^- (?:Latest run|Run): (\S+ \S+) UTC, (full|CI) iteration counts, .*commit (\w+)"
)


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
    run: str = ""  # which run measured it: date, commit, counts


def run_label(date: str, commit: str, full: bool) -> str:
    return f"{date}, {commit}, {'full' if full else 'CI'} counts"


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
FAILED: list[str] = []


@pytest.fixture
def ledger() -> Ledger:
    return LEDGER


def pytest_runtest_logreport(report):
    if report.failed:
        FAILED.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("AQI_RELIABILITY_REPORT")
    if target and LEDGER:
        path = Path(target)
        earlier = earlier_rows(path.read_text()) if MERGE and path.exists() else []
        date, commit = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", git_revision()
        label = run_label(date, commit, FULL)
        rows = merged(earlier, [replace(row, run=label) for row in LEDGER])
        path.write_text(render(rows, date, commit, exitstatus, FAILED, merged_into=bool(earlier)))


def earlier_rows(text: str) -> list[Row]:
    """The rows of a table this file wrote before; those without a Run column get the run
    its header named."""
    run = ""
    rows = []
    for line in text.splitlines():
        if found := EARLIER_RUN.match(line):
            run = run_label(found[1] + " UTC", found[3], found[2] == "full")
        if not line.startswith("| ") or line.startswith("| Scenario |"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        scenario, broken, times, served, lost, duplicated, catch_up, note = cells[:8]
        seconds = None if catch_up == "-" else float(catch_up.removesuffix(" s"))
        rows.append(
            Row(
                scenario,
                broken,
                int(times),
                int(served),
                int(lost),
                int(duplicated),
                seconds,
                note,
                cells[8] if len(cells) > 8 else run,
            )  # fmt: skip
        )
    return rows


def merged(earlier: list[Row], latest: list[Row]) -> list[Row]:
    """The latest run's rows, and the earlier ones of scenarios it did not run."""
    ran = {row.scenario for row in latest}
    return [row for row in earlier if row.scenario not in ran] + latest


def scenario_order(row: Row) -> tuple:
    number, _, name = row.scenario.partition(". ")
    return (int(number), name) if number.isdigit() else (10**6, row.scenario)


def render(
    rows: list[Row], date: str, commit: str, exitstatus: int, failed: list[str], merged_into: bool
) -> str:
    counts = "full iteration counts" if FULL else "CI iteration counts"
    outcome = "all passed" if exitstatus == 0 else "FAILURES"
    lines = [
        "# Reliability: what was broken, and what it cost",
        "",
        "Written by `make test-reliability` (tests/reliability/); do not edit by hand.",
        "",
        f"- Latest run: {date}, {counts}, pytest exit status {exitstatus} ({outcome}), "
        f"commit {commit}"
        + (
            "; merged into the table of earlier runs (make test-reliability MERGE=1): the "
            "Run column names the run behind each row"
            if merged_into
            else ""
        ),
        *([f"- Failed in the latest run: {', '.join(failed)}"] if failed else []),
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"confluent-kafka {confluent_kafka.__version__} (librdkafka "
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
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in sorted(rows, key=scenario_order):
        catch_up = "-" if row.catch_up_seconds is None else f"{row.catch_up_seconds:.1f} s"
        lines.append(
            f"| {row.scenario} | {row.broken} | {row.times} | {row.served} | {row.lost} "
            f"| {row.duplicated} | {catch_up} | {row.note} | {row.run} |"
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
