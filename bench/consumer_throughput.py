"""Figure 3, consumer throughput: records per second through consumer.py, json and pretty.

The topic is filled once with 1,000,000 real-looking records: the simulator's feeds of 1,000
stations, normalised and encoded as the producer does (aqistream.record), then shifted back
one hour at a time, 1,000 hours of history per station. They are written in bulk by one
plain producer (lz4, like aqi-stream's; 3 partitions; keyed by station), not through the
producer's cycle, which would take hours of simulated time.

Each run, for each format, with a new consumer group and stdout to /dev/null:
  consumer.py --from-beginning --format F --max-records 1000000 > /dev/null
Headline: 1,000,000 / its wall time from start to exit, start-up, group join and exit
included: what a user sees. Excluding start-up: the same command with --max-records 1 runs
right before and measures the fixed cost (start, join, first fetch, exit), and
(1,000,000 - 1) / (T(all) - T(first record)) is the steady rate.
"""

from __future__ import annotations

import functools
import math
import os
import re
import subprocess
import time
from datetime import datetime, timedelta

from confluent_kafka import Producer

from aqistream.record import encode_record, normalise, record_key
from bench.harness import Harness, alternating
from bench.processes import Process, Simulator, script_env, station_line
from bench.stats import Summary

RECORDS = 1_000_000
QUICK_RECORDS = 100_000
STATIONS = 1000
FORMATS = ("json", "pretty")
PRINTED = re.compile(rb"(\d+) readings printed")
TIMES = ("observed_at", "observed_local", "fetched_at")


def fill(harness: Harness, topic: str, records: int) -> dict:
    """Write `records` records to `topic`, each station's hours oldest first."""
    harness.topics.create(topic)
    started = time.perf_counter()
    with Simulator(
        harness.workdir, "--seed", "3", "--stations", "2400", "--quota", "0",
        "--hour-seconds", "1e9", "--start", "2026-11-23T13:20:00Z",
    ) as simulator:  # fmt: skip
        stations = simulator.reporting_stations(STATIONS)
        now = datetime.fromisoformat(simulator.admin("GET", "clock")["now"])
        latest = []
        for number, station in enumerate(stations):
            body = simulator.session.get(
                f"{simulator.url}{station['feed']}", params={"token": "bench"}, timeout=30
            ).json()
            # fetched_at as if a producer with 32 workers had fetched them at this moment
            fetched_at = now + timedelta(milliseconds=number * 0.7)
            latest.append(normalise(body["data"], station_line(station), fetched_at))
    producer = Producer(
        {
            "bootstrap.servers": harness.bootstrap_servers,
            "compression.type": "lz4",
            "linger.ms": 100,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    histories = [History(record) for record in latest]
    hours = math.ceil(records / len(histories))
    written = 0
    for hours_back in range(hours - 1, -1, -1):
        batch = histories[: records - written]
        for history in batch:
            produce(producer, topic, history.key, history.value(hours_back))
        written += len(batch)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError(f"could not write the {records} records of {topic}")
    return {"records": written, "hours": hours, "seconds": time.perf_counter() - started}


class History:
    """One station's record, re-dated `hours_back` hours earlier: fast enough for a million.

    The encoded record is split once around its three times; each copy joins the parts with
    the shifted times, which depend only on the original time and the shift (cached).
    """

    MARKERS = {name: f"@@{name}@@" for name in TIMES}

    def __init__(self, record: dict):
        self.key = record_key(record)
        self.times = {name: record[name] for name in TIMES}
        template = encode_record(record | self.MARKERS).decode()
        self.parts = re.split("(" + "|".join(self.MARKERS.values()) + ")", template)

    def value(self, hours_back: int) -> bytes:
        texts = {
            marker: shifted_time(self.times[name], hours_back)
            for name, marker in self.MARKERS.items()
        }
        return "".join(texts.get(part, part) for part in self.parts).encode()


@functools.lru_cache(maxsize=200_000)
def shifted_time(text: str, hours_back: int) -> str:
    """An ISO 8601 time of a record, `hours_back` hours earlier, in the same format."""
    if text.endswith("Z") and "." in text:
        # fetched_at, unique per record: shift the hour, keep minutes, seconds, milliseconds.
        return shifted_time(text[:13] + ":00:00Z", hours_back)[:13] + text[13:]
    moment = datetime.fromisoformat(text) - timedelta(hours=hours_back)
    if text.endswith("Z"):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="seconds")


def produce(producer: Producer, topic: str, key: bytes, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key)
            return
        except BufferError:
            producer.poll(0.05)


def run_consumer(harness: Harness, topic: str, form: str, records: int) -> dict:
    """One consumer.py run to `records` records, stdout to /dev/null; its wall time and cost."""
    group = harness.topics.group(f"consumer-{form}")
    command = harness.consumer_command(topic, group, form, "--max-records", str(records))
    with open(os.devnull, "wb") as devnull:
        process = Process(
            command,
            name="consumer.py",
            env=script_env(),
            cwd=harness.workdir,
            stdout=devnull,
            stderr=subprocess.PIPE,
        )
        usage = process.wait(timeout=120 + records / 5000)
    errors = process.stderr.read()
    printed = PRINTED.search(errors)
    if usage.exit_code != 0 or printed is None or int(printed[1]) != records:
        raise RuntimeError(f"consumer.py failed (exit {usage.exit_code}): {errors[-3000:]!r}")
    harness.topics.delete_groups(group)
    return usage.to_json()


def measure(harness: Harness) -> dict:
    records = QUICK_RECORDS if harness.quick else RECORDS
    topic = harness.topics.topic("consumer")
    filled = fill(harness, topic, records)
    harness.log(f"consumer throughput: {records} records written in {filled['seconds']:.1f} s")
    runs: dict[str, list[dict]] = {form: [] for form in FORMATS}
    for run in range(harness.runs):
        for form in alternating(FORMATS, run):
            first = run_consumer(harness, topic, form, 1)
            whole = run_consumer(harness, topic, form, records)
            result = {
                "first_record": first,
                "all_records": whole,
                "rate": records / whole["wall_seconds"],
                "rate_after_first": (records - 1)
                / max(1e-9, whole["wall_seconds"] - first["wall_seconds"]),
            }
            runs[form].append(result)
            harness.log(
                f"consumer throughput, run {run + 1}/{harness.runs}, {form}: "
                f"{result['rate']:.0f}/s with start-up, "
                f"{result['rate_after_first']:.0f}/s after the first record"
            )
    harness.topics.delete(topic)
    return {
        "records": records,
        "fill": filled,
        "formats": {
            form: {
                "rate": Summary.of([r["rate"] for r in runs[form]]).to_json(),
                "rate_after_first": Summary.of(
                    [r["rate_after_first"] for r in runs[form]]
                ).to_json(),
                "cpu_seconds": Summary.of(
                    [r["all_records"]["cpu_seconds"] for r in runs[form]]
                ).to_json(),
                "peak_rss_mb": Summary.of(
                    [r["all_records"]["peak_rss_mb"] for r in runs[form]]
                ).to_json(),
                "runs": runs[form],
            }
            for form in FORMATS
        },
    }
