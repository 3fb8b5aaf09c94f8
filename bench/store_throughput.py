"""Figure 7, store throughput: a backfill through consumer.py --store, rows per second.

The topic is filled once with 1,000,000 real-looking records, as for figure 3 (the
simulator's feeds of 1,000 stations, normalised and encoded as the producer does, 1,000
hours of history per station, 3 partitions). Each run, for each database, into a new,
empty database and with a new consumer group:
  consumer.py --store URL --from-beginning --max-records 1000000 -q
timed from process start to exit (start-up, schema creation and group join included), and
the naive sink, bench/baseline_naive_store.py (one INSERT and one COMMIT per message, the
pattern of the usual tutorials), over the first 20,000 records only: at its speed the whole
million would take hours. Both are rows per second from start to exit; the ratio pairs the
two measured back to back in the same run. The order of the two databases alternates.

SQLite: a file on the local disk, sqlite3 of the standard library (aqi-stream in WAL mode;
the naive sink with sqlite3's defaults). PostgreSQL: a throw-away server of the Debian
package started by the harness on a free local port, with PostgreSQL's default durability
(fsync on, synchronous_commit on), so both sinks pay the same price per commit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench import consumer_throughput
from bench.harness import Harness, alternating
from bench.processes import PYTHON, ROOT, Process, python_script, script_env
from bench.stats import Summary

# The throw-away server the tests use (initdb, pg_ctl on a free port, removed afterwards).
sys.path.insert(0, str(ROOT))
from tests.postgres_server import PostgresServer, create_database  # noqa: E402

RECORDS = 1_000_000
QUICK_RECORDS = 100_000
NAIVE_RECORDS = 20_000
QUICK_NAIVE_RECORDS = 2_000
DIALECTS = ("sqlite", "postgresql")


def run_store(harness: Harness, topic: str, url: str, records: int) -> dict:
    group = harness.topics.group("store")
    command = python_script(
        "consumer.py", str(harness.config_file), "--topic", topic, "--group", group,
        "--store", url, "--from-beginning", "--max-records", str(records), "-q",
    )  # fmt: skip
    process = Process(
        command, name="consumer.py --store", env=script_env(), cwd=harness.workdir,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    usage = process.wait(timeout=120 + records / 2000)
    errors = process.stderr.read()
    if usage.exit_code != 0:
        raise RuntimeError(f"consumer.py --store failed ({usage.exit_code}): {errors[-3000:]!r}")
    harness.topics.delete_groups(group)
    return usage.to_json()


def run_naive(harness: Harness, topic: str, url: str, records: int) -> dict:
    group = harness.topics.group("naive-store")
    command = [
        PYTHON, str(ROOT / "bench" / "baseline_naive_store.py"), "--topic", topic,
        "--group", group, "--url", url, "--max-records", str(records),
        "--bootstrap-servers", harness.bootstrap_servers,
    ]  # fmt: skip
    process = Process(
        command, name="the naive sink", env=script_env(), cwd=harness.workdir,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    usage = process.wait(timeout=120 + records / 50)
    output = process.stdout.read()
    if usage.exit_code != 0:
        raise RuntimeError(f"the naive sink failed: {process.stderr.read()[-3000:]!r}")
    summary = json.loads(output.splitlines()[-1])
    harness.topics.delete_groups(group)
    return usage.to_json() | {"records": summary["records"]}


def new_database(harness: Harness, dialect: str, server: PostgresServer, name: str) -> str:
    if dialect == "sqlite":
        path = harness.workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{path}{suffix}"):
                os.remove(f"{path}{suffix}")
        return f"sqlite:///{path}"
    return create_database(server.url())


def measure(harness: Harness) -> dict:
    records = QUICK_RECORDS if harness.quick else RECORDS
    naive_records = QUICK_NAIVE_RECORDS if harness.quick else NAIVE_RECORDS
    topic = harness.topics.topic("store")
    filled = consumer_throughput.fill(harness, topic, records)
    harness.log(f"store throughput: {records} records written in {filled['seconds']:.1f} s")
    server = PostgresServer().up(durable=True)
    runs: dict[str, list[dict]] = {dialect: [] for dialect in DIALECTS}
    try:
        for run in range(harness.runs):
            for dialect in alternating(DIALECTS, run):
                store = run_store(harness, topic, new_database(harness, dialect, server, "store"),
                                  records)  # fmt: skip
                naive = run_naive(harness, topic, new_database(harness, dialect, server, "naive"),
                                  naive_records)  # fmt: skip
                result = {
                    "store": store,
                    "naive": naive,
                    "rate": records / store["wall_seconds"],
                    "naive_rate": naive_records / naive["wall_seconds"],
                }
                result["ratio"] = result["rate"] / result["naive_rate"]
                runs[dialect].append(result)
                harness.log(
                    f"store throughput, run {run + 1}/{harness.runs}, {dialect}: "
                    f"{result['rate']:.0f} rows/s, naive {result['naive_rate']:.0f} rows/s, "
                    f"{result['ratio']:.1f} x"
                )
    finally:
        server.down()
        harness.topics.delete(topic)
    return {
        "records": records,
        "naive_records": naive_records,
        "fill": filled,
        "postgresql_version": server.bin.parent.name,  # /usr/lib/postgresql/<version>/bin
        "dialects": {
            dialect: {
                "rate": Summary.of([r["rate"] for r in runs[dialect]]).to_json(),
                "naive_rate": Summary.of([r["naive_rate"] for r in runs[dialect]]).to_json(),
                "ratio": Summary.of([r["ratio"] for r in runs[dialect]]).to_json(),
                "cpu_seconds": Summary.of(
                    [r["store"]["cpu_seconds"] for r in runs[dialect]]
                ).to_json(),
                "peak_rss_mb": Summary.of(
                    [r["store"]["peak_rss_mb"] for r in runs[dialect]]
                ).to_json(),
                "runs": runs[dialect],
            }
            for dialect in DIALECTS
        },
    }
