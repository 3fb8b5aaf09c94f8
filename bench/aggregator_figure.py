"""Figure 8, aggregator.py: readings per second through it, and what it adds to a NowCast's delay.

Throughput: a topic filled once with 1,000,000 readings of 1,000 stations, 1,000 hours each:
the simulator's feeds of those stations over 24 simulated hours (fetched and normalised as
the producer does), each day repeated further back in time, so values follow their daily
course and NowCast categories change. Written in bulk by one plain producer (3 partitions,
keyed by station). Each run: `aggregator.py` with a new consumer group and an empty state
directory; it is done when the group's committed offsets reach the end of every partition
(exactly once: offsets are committed in the transaction that commits the outputs, so every
daily figure, NowCast and alert of the million is then visible). Headline: 1,000,000 / the
time from starting the process to that moment: start-up, group join, all of it. CPU
seconds and peak RSS: the process's own (wait4).

Quix Streams alone: the same readings, in the same runs, through bench/quix_floor.py, an
application configured as aggregator.py's (exactly-once, the same checkpoint interval) that
does the least a stateful stream can (JSON decode, one number of state per station, one small
output a reading), measured the same way: the engine's own cost per reading on this machine,
a floor under any aggregator built on it.

Delay: producer.py in its normal loop over 1,000 reporting stations and aggregator.py
beside it; the simulated clock moves one hour at a time, each hour once the NowCasts of the
last one are visible. The harness's read_committed consumers see when each reading becomes
visible in Kafka (its producer's transaction committed) and when its NowCast does (the
aggregator's transaction committed): the NowCast delay is the difference. The first hour is
the warm-up (start-up, group join, not counted).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from aqistream.record import normalise
from bench.consumer_throughput import History, produce
from bench.harness import UNLIMITED_QUOTA, Harness, alternating
from bench.latency import VisibilityProbe
from bench.processes import (
    PYTHON,
    ROOT,
    Process,
    Simulator,
    python_script,
    script_env,
    started,
    station_line,
    wait_for,
    write_stations,
)
from bench.stats import Summary, percentile

RECORDS = 1_000_000
QUICK_RECORDS = 100_000
STATIONS = 1000
DELAY_HOURS = 6
QUIX_FLOOR = "Quix Streams alone"  # bench/quix_floor.py
OUTPUT_SUFFIXES = (".daily", ".nowcast", ".alerts", ".floor")
QUICK_DELAY_HOURS = 2
SIMULATOR = ("--seed", "6", "--stations", "2400", "--quota", "0", "--hour-seconds", "1e9",
             "--start", "2026-11-02T00:20:00Z")  # fmt: skip


def start_aggregator(
    harness: Harness, topic: str, what: str, program: str = "aggregator.py"
) -> tuple[Process, str]:
    """aggregator.py (or Quix Streams alone, bench/quix_floor.py) on `topic` with a new
    consumer group and an empty state; and the group."""
    group = harness.topics.group(what)
    state_dir = str(harness.workdir / f"state-{group}")
    cwd = harness.workdir
    if program == QUIX_FLOOR:
        command = [PYTHON, "-m", "bench.quix_floor", harness.bootstrap_servers, topic, group,
                   state_dir]  # fmt: skip
        cwd = ROOT  # where python -m finds bench/
    else:
        command = python_script(
            "aggregator.py", str(harness.config_file), "--topic", topic, "--group", group,
            "--state-dir", state_dir, "-q",
        )  # fmt: skip
    with open(harness.workdir / f"{what}.err", "ab") as errors:
        process = Process(command, name=program, env=script_env(), cwd=cwd, stderr=errors)
    return process, group


def day_of_feeds(simulator: Simulator) -> list[list[dict]]:
    """24 hours of the reporting stations' readings, as the producer would publish them."""
    stations = simulator.reporting_stations(STATIONS)
    hours = []
    for _ in range(24):
        now = datetime.fromisoformat(simulator.admin("GET", "clock")["now"])
        hour = []
        for station in stations:
            body = simulator.session.get(
                f"{simulator.url}{station['feed']}", params={"token": "bench"}, timeout=30
            ).json()
            hour.append(normalise(body["data"], station_line(station), now + timedelta(seconds=1)))
        hours.append(hour)
        simulator.admin("POST", "clock", {"advance_hours": 1})
    return hours


def fill(harness: Harness, topic: str, records: int) -> dict:
    started = time.perf_counter()
    harness.topics.create(topic)
    with Simulator(harness.workdir, *SIMULATOR) as simulator:
        day = [[History(record) for record in hour] for hour in day_of_feeds(simulator)]
    producer = Producer(
        {"bootstrap.servers": harness.bootstrap_servers, "compression.type": "lz4",
         "linger.ms": 100, "queue.buffering.max.messages": 1_000_000}
    )  # fmt: skip
    hours = math.ceil(records / STATIONS)
    written = 0
    for hour in range(hours):
        # Oldest first: the day's feeds, as many whole days back as this hour needs.
        days_back = (hours - 1) // 24 - hour // 24
        for history in day[hour % 24][: records - written]:
            produce(producer, topic, history.key, history.value(24 * days_back))
            written += 1
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError(f"could not write the {records} records of {topic}")
    return {"records": written, "hours": hours, "seconds": time.perf_counter() - started}


def processed_all(admin: AdminClient, topic: str, group: str, ends: dict[int, int]) -> bool:
    """The group's committed offsets have reached the end of every partition."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in ends])
    result = admin.list_consumer_group_offsets([request])[group].result(timeout=30)
    committed = {tp.partition: tp.offset for tp in result.topic_partitions}
    return all(committed.get(partition, -1) >= end for partition, end in ends.items())


def end_offsets(harness: Harness, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": harness.bootstrap_servers, "group.id": "ends"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def throughput_run(
    harness: Harness, topic: str, records: int, ends: dict[int, int], program: str
) -> dict:
    process, group = start_aggregator(harness, topic, "aggregator-throughput", program)
    admin = AdminClient({"bootstrap.servers": harness.bootstrap_servers})
    try:
        wait_for(
            lambda: processed_all(admin, topic, group, ends),
            timeout=300 + records / 500,
            what=f"{program} to commit every reading",
            every=0.2,
        )
        seconds = time.perf_counter() - process.started
        peak = process.peak_rss_mb()
    finally:
        usage = process.stop()
    harness.topics.delete_groups(group)
    harness.topics.delete(*(f"{topic}{suffix}" for suffix in OUTPUT_SUFFIXES))
    return {
        "seconds": seconds,
        "rate": records / seconds,
        "cpu_seconds": usage.cpu_seconds,
        "peak_rss_mb": peak if peak is not None else usage.peak_rss_mb,
    }


def delay_run(harness: Harness, simulator: Simulator, stations_file, hours: int) -> dict:
    simulator.admin("POST", "reset")
    topic = harness.topics.topic("aggregator-delay")
    producer = harness.start_producer(
        stations_file, topic, simulator.url, "--interval", "0.5", *UNLIMITED_QUOTA, "-q"
    )
    with started(producer):
        wait_for(lambda: topic_exists(harness, topic), 120, "the producer's topic")
        aggregator, group = start_aggregator(harness, topic, "aggregator-delay")
        with (
            started(aggregator),
            VisibilityProbe(harness, topic) as readings,
            VisibilityProbe(harness, topic + ".nowcast") as nowcasts,
        ):
            wait_for(lambda: len(nowcasts.seen) >= STATIONS, 180, "the warm-up hour's NowCasts")
            for hour in range(1, hours + 1):
                simulator.admin("POST", "clock", {"advance_hours": 1})
                wait_for(
                    lambda hour=hour: len(nowcasts.seen) >= STATIONS * (hour + 1),
                    120,
                    f"hour {hour}'s NowCasts",
                )
            warm_up = sorted(nowcasts.seen, key=lambda reading: nowcasts.seen[reading][0])
            counted = set(warm_up[STATIONS:])
            delays = [
                nowcasts.seen[reading][0] - readings.seen[reading][0]
                for reading in counted
                if reading in readings.seen
            ]
    harness.topics.delete_groups(group)
    harness.topics.delete(topic, *(f"{topic}{s}" for s in (".daily", ".nowcast", ".alerts")))
    return {
        "nowcasts": len(delays),
        "p50": percentile(delays, 0.50),
        "p95": percentile(delays, 0.95),
        "p99": percentile(delays, 0.99),
        "max": max(delays),
    }


def topic_exists(harness: Harness, topic: str) -> bool:
    admin = AdminClient({"bootstrap.servers": harness.bootstrap_servers})
    return topic in admin.list_topics(timeout=10).topics


def measure(harness: Harness) -> dict:
    records = QUICK_RECORDS if harness.quick else RECORDS
    topic = harness.topics.topic("aggregator")
    filled = fill(harness, topic, records)
    harness.log(f"aggregator: {records} records written in {filled['seconds']:.1f} s")
    ends = end_offsets(harness, topic)
    runs, floor = [], []
    for run in range(harness.runs):
        for program in alternating(("aggregator.py", QUIX_FLOOR), run):
            result = throughput_run(harness, topic, records, ends, program)
            (floor if program == QUIX_FLOOR else runs).append(result)
            harness.log(
                f"{program}, run {run + 1}/{harness.runs}: {result['rate']:.0f} records/s, "
                f"{result['cpu_seconds']:.0f} CPU s, {result['peak_rss_mb']:.0f} MB"
            )
    harness.topics.delete(topic)
    delay_hours = QUICK_DELAY_HOURS if harness.quick else DELAY_HOURS
    delays = []
    with Simulator(harness.workdir, *SIMULATOR) as simulator:
        stations_file = write_stations(
            harness.workdir / "stations-aggregator.txt", simulator.reporting_stations(STATIONS)
        )
        for run in range(harness.runs):
            result = delay_run(harness, simulator, stations_file, delay_hours)
            delays.append(result)
            harness.log(
                f"aggregator delay, run {run + 1}/{harness.runs}: {result['nowcasts']} NowCasts, "
                f"p50 {result['p50']:.3f} s, p99 {result['p99']:.3f} s"
            )
    return {
        "records": records,
        "stations": STATIONS,
        "fill": filled,
        "rate": Summary.of([r["rate"] for r in runs]).to_json(),
        "cpu_seconds": Summary.of([r["cpu_seconds"] for r in runs]).to_json(),
        "peak_rss_mb": Summary.of([r["peak_rss_mb"] for r in runs]).to_json(),
        "quix_floor": {
            "rate": Summary.of([r["rate"] for r in floor]).to_json(),
            "cpu_seconds": Summary.of([r["cpu_seconds"] for r in floor]).to_json(),
            "runs": floor,
        },
        "delay_hours": delay_hours,
        "delay": {
            quantile: Summary.of([r[quantile] for r in delays]).to_json()
            for quantile in ("p50", "p95", "p99")
        },
        "runs": runs,
        "delay_runs": delays,
    }
