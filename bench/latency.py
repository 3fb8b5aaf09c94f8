"""Figure 2, end-to-end latency at 1,000 stations, with where the time goes.

From the moment the simulator first serves a new reading (its wall clock as it writes the
answer: `first_served_wall` in /admin/served) to the moment `consumer.py --format json`
writes it (its stdout read through a pipe here, each line timestamped on arrival).

Each run: a fresh topic; the producer in its normal loop (`--interval 0.5`: a cycle starts
as soon as the previous one ends) over 1,000 reporting stations; the simulated clock stands
still (`--hour-seconds 1e9`) except when the harness moves it. The first hour's readings
are the warm-up (start-up and group join; not counted). Then the clock moves one hour at a
time, which gives every station exactly one new reading, and the next hour starts once the
consumer has printed all of them.

Where the time goes, per reading: the harness's own read_committed consumer (polling with a
10 ms fetch wait) sees when the reading became visible in Kafka, and the Kafka timestamp
says when the producer handed it to its transaction. So: served -> produced (the cycle's
other fetches: one transaction per cycle), produced -> visible (the commit), visible ->
printed (consumer.py: its fetch, its batch, its output).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections import Counter

from confluent_kafka import Consumer

from bench.harness import API_LATENCY_MS, UNLIMITED_QUOTA, WORKERS, Harness
from bench.processes import Lines, Process, Simulator, script_env, started, wait_for, write_stations
from bench.stats import Summary, percentile

STATIONS = 1000
HOURS = 6
QUICK_HOURS = 2
INTERVAL = 0.5
HOUR_TIMEOUT = 90.0
CYCLE_SECONDS = re.compile(rb"cycle \d+: .*, ([\d.]+) s$")


def simulator_args() -> list[str]:
    return [
        "--seed", "2", "--stations", "2400", "--quota", "0",
        "--latency-ms", str(API_LATENCY_MS), "--hour-seconds", "1e9",
        "--start", "2026-11-23T13:20:00Z",
    ]  # fmt: skip


class VisibilityProbe:
    """The harness's own read_committed consumer: when each reading became visible in Kafka."""

    def __init__(self, harness: Harness, topic: str):
        self.consumer = Consumer(
            {
                "bootstrap.servers": harness.bootstrap_servers,
                "group.id": harness.topics.group("latency-probe"),
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        self.consumer.subscribe([topic])
        self.seen: dict[tuple[int, str], tuple[float, float]] = {}  # -> (visible, produced)
        self.copies: Counter = Counter()  # how many times each reading was seen
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.is_set():
            message = self.consumer.poll(0.1)
            if message is None or message.error() is not None:
                continue
            visible = time.time()
            record = json.loads(message.value())
            produced = message.timestamp()[1] / 1000
            reading = record["station"]["idx"], record["observed_at"]
            self.seen.setdefault(reading, (visible, produced))  # a copy is no news
            self.copies[reading] += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.consumer.close()

    def __enter__(self) -> VisibilityProbe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def start_consumer(harness: Harness, topic: str, group: str) -> Process:
    """consumer.py --format json, its output piped here, its log in the work directory."""
    with open(harness.workdir / "latency-consumer.err", "wb") as errors:
        return Process(
            harness.consumer_command(topic, group, "json"),
            name="consumer.py",
            env=script_env(),
            cwd=harness.workdir,
            stdout=subprocess.PIPE,
            stderr=errors,
        )


def measure_run(harness: Harness, simulator: Simulator, stations_file, hours: int) -> dict:
    simulator.admin("POST", "reset")
    topic = harness.topics.topic("latency")
    group = harness.topics.group("latency")
    producer = harness.start_producer(
        stations_file, topic, simulator.url, "--interval", str(INTERVAL), *UNLIMITED_QUOTA
    )
    with started(producer):
        producer_log = Lines(producer.stderr)
        wait_for(lambda: producer_log.first(b"cycle 1:"), 120, "the producer's first cycle")
        with (
            VisibilityProbe(harness, topic) as probe,
            started(start_consumer(harness, topic, group)) as consumer,
        ):
            printed = Lines(consumer.stdout)
            wait_for(lambda: len(printed) >= STATIONS, 120, "the warm-up hour's readings")
            for hour in range(1, hours + 1):
                simulator.admin("POST", "clock", {"advance_hours": 1})
                wait_for(
                    lambda hour=hour: len(printed) >= STATIONS * (hour + 1),
                    HOUR_TIMEOUT,
                    f"hour {hour}'s readings to be printed",
                )
            consumer_peak_rss = consumer.peak_rss_mb()
        producer_peak_rss = producer.peak_rss_mb()
    served = {
        (reading["idx"], reading["observed_at"]): reading["first_served_wall"]
        for reading in simulator.admin("GET", "served")["readings"]
    }
    result = analyse(printed.lines[STATIONS:], served, probe.seen)
    cycles = [float(m[1]) for _, line in producer_log.lines if (m := CYCLE_SECONDS.search(line))]
    harness.topics.delete(topic)
    harness.topics.delete_groups(group)
    result |= {
        "hours": hours,
        "producer_cycles": len(cycles),
        "producer_cycle_seconds": Summary.of(cycles).to_json(),
        "producer_peak_rss_mb": producer_peak_rss,
        "consumer_peak_rss_mb": consumer_peak_rss,
    }
    return result


def analyse(lines: list[tuple[float, bytes]], served: dict, seen: dict) -> dict:
    """Latencies of the readings printed after the warm-up, in seconds."""
    latencies, to_produce, to_commit, to_print = [], [], [], []
    printed_readings = set()
    for printed_at, line in lines:
        record = json.loads(line)
        reading = record["station"]["idx"], record["observed_at"]
        printed_readings.add(reading)
        latencies.append(printed_at - served[reading])
        if reading in seen:
            visible, produced = seen[reading]
            to_produce.append(produced - served[reading])
            to_commit.append(visible - produced)
            to_print.append(printed_at - visible)
    return {
        "readings": len(latencies),
        "duplicates": len(latencies) - len(printed_readings),
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "stages": {
            "served_to_produced": stage(to_produce),
            "produced_to_visible": stage(to_commit),
            "visible_to_printed": stage(to_print),
        },
    }


def stage(values: list[float]) -> dict:
    if not values:
        return {}
    return {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99)}


def measure(harness: Harness) -> dict:
    hours = QUICK_HOURS if harness.quick else HOURS
    runs = []
    with Simulator(harness.workdir, *simulator_args()) as simulator:
        stations_file = write_stations(
            harness.workdir / "stations-latency.txt", simulator.reporting_stations(STATIONS)
        )
        for run in range(harness.runs):
            result = measure_run(harness, simulator, stations_file, hours)
            runs.append(result)
            harness.log(
                f"latency, run {run + 1}/{harness.runs}: {result['readings']} readings, "
                f"p50 {result['p50']:.3f} s, p95 {result['p95']:.3f} s, "
                f"p99 {result['p99']:.3f} s"
            )
    return {
        "stations": STATIONS,
        "hours_per_run": hours,
        "interval": INTERVAL,
        "workers": WORKERS,
        "simulator": " ".join(simulator_args()),
        "p50": Summary.of([r["p50"] for r in runs]).to_json(),
        "p95": Summary.of([r["p95"] for r in runs]).to_json(),
        "p99": Summary.of([r["p99"] for r in runs]).to_json(),
        "stages": {
            name: {
                quantile: Summary.of([r["stages"][name][quantile] for r in runs]).to_json()
                for quantile in ("p50", "p99")
            }
            for name in ("served_to_produced", "produced_to_visible", "visible_to_printed")
            if all(r["stages"][name] for r in runs)
        },
        "runs": runs,
    }
