"""Evidence for a missed target: where the CPU time and the memory go, measured in the run.

- CPU (cycle throughput, cycle time): py-spy samples producer.py's `--once` cycles over the
  same 1,000 stations as figure 1, every thread that py-spy does not see idle. Samples
  outside the cycle (imports, connecting) are left out. A thread blocked in a socket read or
  on a lock still counts as active for py-spy, so such samples are shown as waits, by what
  they wait for; the rest is where the CPU goes. (py-spy's `--gil` mode, which would keep
  only the thread holding the GIL, misattributes samples on this Python: it credits
  normalise() with half the cycle although it takes 25 microseconds a record.)
- CPU (consumer): py-spy samples consumer.py reading 200,000 records.
- CPU (store): py-spy samples consumer.py --store backfilling 200,000 records into each
  database (the threads of the decoding loop and of the writer alike).
- CPU (aggregator): py-spy attached to aggregator.py for 30 s of a backlog of 200,000
  readings, once its NowCasts have begun to appear.
- Memory (peak RSS at 10,000 stations): tracemalloc's largest live allocation sites at the
  end of a 10,000-station cycle's fetches (bench/memory_trace.py).
- Latency needs no extra run: figure 2 measures where the time goes.

py-spy comes from bench/requirements.txt (`make bench` installs it); without it, the CPU
profiles are skipped and RESULTS.md says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench import aggregator_figure, consumer_throughput, cycle_throughput, store_throughput
from bench.harness import UNLIMITED_QUOTA, Harness
from bench.processes import (
    PYTHON,
    Process,
    Simulator,
    python_script,
    script_env,
    started,
    wait_for,
    write_stations,
)

PROFILED_CYCLES = 3
SAMPLE_RATE = 500  # per second
CONSUMER_RECORDS = 200_000
# The stage of a sample: its deepest frame that matches one of these patterns, in this order.
CATEGORIES = (
    (("quixstreams/state/",), "Quix Streams state: RocksDB transactions, serialisation"),
    (("quixstreams/dataframe/windows/",), "Quix Streams windows"),
    (("quixstreams/checkpointing/", "quixstreams/processing/"), "Quix Streams checkpoints"),
    (
        ("quixstreams/kafka/", "quixstreams/internal_", "quixstreams/rowproducer"),
        "Kafka clients, through Quix Streams",
    ),
    (("aqistream/windows/",), "aggregator.py's own steps (aqistream/windows/)"),
    (("quixstreams/",), "Quix Streams: the pipeline of steps, contexts"),
    (("json/",), "JSON: decoding WAQI answers and records, encoding records"),
    (("aqistream/record.py",), "the record (aqistream/record.py: normalise, decode_record)"),
    (("aqistream/render.py",), "pretty lines (aqistream/render.py)"),
    (("aqistream/source/scheduler.py",), "the scheduler (aqistream/source/scheduler.py)"),
    (("aqistream/state.py",), "the publish state (aqistream/state.py)"),
    (("confluent_kafka", "aqistream/kafka/publish.py"), "Kafka client (confluent-kafka)"),
    (
        ("requests/", "urllib3/", "http/client", "email/", "urllib/", "socket.py"),
        "HTTP client (requests, urllib3, http.client)",
    ),
    (("aqistream/kafka/consume.py",), "the consumer loop (aqistream/kafka/consume.py)"),
    (("aqistream/store/rows.py",), "record -> row (aqistream/store/rows.py)"),
    (
        ("sqlite3", "psycopg", "aqistream/store/sqlite.py", "aqistream/store/postgres.py"),
        "the database client (sqlite3, psycopg)",
    ),
    (("aqistream/store/",), "the store's loop (aqistream/store/)"),
    (("threading.py", "queue.py"), "threads and queues"),
)
TARGET_EVIDENCE = {
    "cycle_ratio": "producer_cpu",
    "cycle_seconds": "producer_cpu",
    "latency_p99": "producer_cpu",
    "consumer_json": "consumer_cpu",
    "consumer_pretty": "consumer_cpu",
    "producer_rss": "producer_memory",
    "store_sqlite": "store_cpu",
    "store_postgresql": "store_cpu",
    "store_sqlite_ratio": "store_cpu",
    "store_postgresql_ratio": "store_cpu",
    "aggregator_rate": "aggregator_cpu",
    "aggregator_delay_p99": "aggregator_cpu",
}
AGGREGATOR_RECORDS = 200_000
AGGREGATOR_SAMPLED_SECONDS = 30


def py_spy() -> str | None:
    beside_python = Path(PYTHON).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def diagnose(harness: Harness, missed: list[dict]) -> dict:
    wanted = {TARGET_EVIDENCE[target["id"]] for target in missed if target["id"] in TARGET_EVIDENCE}
    evidence: dict = {}
    cpu_evidence = {"producer_cpu", "consumer_cpu", "store_cpu", "aggregator_cpu"}
    if wanted & cpu_evidence and py_spy() is None:
        evidence["skipped"] = "py-spy is not installed (pip install -r bench/requirements.txt)"
        wanted -= cpu_evidence
    if "producer_cpu" in wanted:
        harness.log("profiling producer.py's cycles with py-spy")
        evidence["producer_cpu"] = profile_producer(harness)
    if "consumer_cpu" in wanted:
        harness.log("profiling consumer.py with py-spy")
        evidence["consumer_cpu"] = profile_consumer(harness)
    if "store_cpu" in wanted:
        harness.log("profiling consumer.py --store with py-spy")
        evidence["store_cpu"] = profile_store(harness)
    if "aggregator_cpu" in wanted:
        harness.log("profiling aggregator.py with py-spy")
        evidence["aggregator_cpu"] = profile_aggregator(harness)
    if "producer_memory" in wanted:
        harness.log("tracing producer.py's memory in a 10,000-station cycle")
        evidence["producer_memory"] = trace_producer_memory(harness)
    return evidence


def record(harness: Harness, command: list[str], env: dict, name: str, **popen) -> Path:
    """Run `command` under py-spy; the raw collapsed stacks."""
    out = harness.workdir / f"{name}.pyspy"
    spy = [py_spy(), "record", "--rate", str(SAMPLE_RATE), "--format", "raw",
           "--output", str(out), "--"]  # fmt: skip
    process = Process(spy + command, name=f"py-spy {name}", env=env, cwd=harness.workdir, **popen)
    usage = process.wait(timeout=300)
    if usage.exit_code != 0 or not out.exists():
        raise RuntimeError(f"py-spy failed on {name} (exit {usage.exit_code})")
    return out


def profile_producer(harness: Harness) -> dict:
    stacks: Counter[str] = Counter()
    with Simulator(harness.workdir, *cycle_throughput.simulator_args()) as simulator:
        stations = write_stations(
            harness.workdir / "stations-profile.txt", simulator.reporting_stations(1000)
        )
        for cycle in range(PROFILED_CYCLES):
            topic = harness.topics.topic("profile")
            arguments = harness.producer_args(
                stations, topic, simulator.url, "--once", *UNLIMITED_QUOTA, "-q"
            )
            command = python_script("producer.py", *arguments)
            raw = record(harness, command, script_env(simulator.url), f"producer-{cycle}")
            stacks.update(read_stacks(raw))
            harness.topics.delete(topic)
    in_cycle = Counter(
        {
            stack: n
            for stack, n in stacks.items()
            if "run_cycle" in stack or "fetch_concurrently" in stack
        }
    )
    return summarise(in_cycle) | {"what": f"{PROFILED_CYCLES} cycles of 1,000 stations"}


def profile_consumer(harness: Harness) -> dict:
    topic = harness.topics.topic("profile-consumer")
    consumer_throughput.fill(harness, topic, CONSUMER_RECORDS)
    profiles = {}
    for form in consumer_throughput.FORMATS:
        group = harness.topics.group("profile")
        command = harness.consumer_command(
            topic, group, form, "--max-records", str(CONSUMER_RECORDS), "-q"
        )
        raw = record(harness, command, script_env(), f"consumer-{form}", stdout=subprocess.DEVNULL)
        profiles[form] = summarise(read_stacks(raw)) | {
            "what": f"{CONSUMER_RECORDS:,} records, {form}"
        }
    harness.topics.delete(topic)
    return profiles


def profile_store(harness: Harness) -> dict:
    topic = harness.topics.topic("profile-store")
    consumer_throughput.fill(harness, topic, CONSUMER_RECORDS)
    profiles = {}
    server = store_throughput.PostgresServer().up(durable=True)
    try:
        for dialect in store_throughput.DIALECTS:
            url = store_throughput.new_database(harness, dialect, server, "profile")
            group = harness.topics.group("profile-store")
            command = python_script(
                "consumer.py", str(harness.config_file), "--topic", topic, "--group", group,
                "--store", url, "--from-beginning", "--max-records", str(CONSUMER_RECORDS),
                "-q",
            )  # fmt: skip
            raw = record(harness, command, script_env(), f"store-{dialect}")
            profiles[dialect] = summarise(read_stacks(raw)) | {
                "what": f"{CONSUMER_RECORDS:,} records into {dialect}"
            }
    finally:
        server.down()
        harness.topics.delete(topic)
    return profiles


def profile_aggregator(harness: Harness) -> dict:
    """py-spy attached to aggregator.py for a while, once it is busy with a backlog."""
    topic = harness.topics.topic("profile-aggregator")
    aggregator_figure.fill(harness, topic, AGGREGATOR_RECORDS)
    process, group = aggregator_figure.start_aggregator(harness, topic, "profile-aggregator")
    out = harness.workdir / "aggregator.pyspy"
    with started(process):
        # Past start-up: the NowCasts have begun to appear.
        wait_for(lambda: aggregator_figure.topic_exists(harness, topic + ".nowcast"), 180,
                 "aggregator.py to start")  # fmt: skip
        spy = [
            py_spy(),
            "record",
            "--rate",
            str(SAMPLE_RATE),
            "--format",
            "raw",
            "--output",
            str(out),
            "--duration",
            str(AGGREGATOR_SAMPLED_SECONDS),
            "--pid",
            str(process.pid),
        ]
        Process(spy, name="py-spy aggregator", env=script_env(), cwd=harness.workdir).wait(
            timeout=AGGREGATOR_SAMPLED_SECONDS + 120
        )  # fmt: skip
    harness.topics.delete_groups(group)
    harness.topics.delete(topic, *(topic + s for s in (".daily", ".nowcast", ".alerts")))
    if not out.exists():
        raise RuntimeError("py-spy wrote no profile of aggregator.py")
    return summarise(read_stacks(out)) | {
        "what": f"{AGGREGATOR_SAMPLED_SECONDS} s of a backlog of {AGGREGATOR_RECORDS:,} readings"
    }


def read_stacks(raw: Path) -> Counter[str]:
    """py-spy's raw format: one `frame;frame;...;frame count` line per distinct stack."""
    stacks: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def summarise(stacks: Counter[str], top: int = 10) -> dict:
    """Shares of the samples by stage, and the deepest frames that take the most."""
    total = sum(stacks.values())
    if not total:
        return {"samples": 0, "categories": [], "leaves": []}
    categories: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        categories[category_of(frames)] += count
        leaves[" < ".join(frames[-1:-4:-1])] += count
    return {
        "samples": total,
        "categories": [
            {"stage": name, "share": count / total} for name, count in categories.most_common()
        ],
        "leaves": [
            {"frames": frames, "share": count / total} for frames, count in leaves.most_common(top)
        ],
    }


def category_of(frames: list[str]) -> str:
    leaf = frames[-1]
    if "threading.py" in leaf or "queue.py" in leaf:
        waiter = next(
            (f for f in reversed(frames) if "threading.py" not in f and "queue.py" not in f), ""
        )
        return f"waiting for a lock or queue, in {frame_file(waiter)}"
    if "socket.py" in leaf or "util/wait.py" in leaf:
        return "waiting for the API's answers (socket reads)"
    for frame in reversed(frames):
        for patterns, name in CATEGORIES:
            if any(pattern in frame for pattern in patterns):
                return name
    return "other"


def frame_file(frame: str) -> str:
    """'Queue.get (queue.py:171)' -> 'queue.py'; site-packages paths start at the package."""
    location = frame.rpartition("(")[2].rstrip(")").rpartition(":")[0]
    return location.split("site-packages/")[-1] or "?"


def trace_producer_memory(harness: Harness) -> dict:
    out = harness.workdir / "memory-trace.json"
    with Simulator(harness.workdir, *cycle_throughput.simulator_args()) as simulator:
        stations = write_stations(
            harness.workdir / "stations-memory.txt", simulator.reporting_stations(10000)
        )
        topic = harness.topics.topic("memory")
        arguments = harness.producer_args(
            stations, topic, simulator.url, "--once", *UNLIMITED_QUOTA, "-q"
        )
        command = [PYTHON, "-m", "bench.memory_trace", str(out), *arguments]
        process = Process(command, name="memory trace", env=script_env(simulator.url),
                          cwd=harness.workdir)  # fmt: skip
        usage = process.wait(timeout=600)
        harness.topics.delete(topic)
    if usage.exit_code != 0 or not out.exists():
        raise RuntimeError(f"the memory trace failed (exit {usage.exit_code})")
    return json.loads(out.read_text())
