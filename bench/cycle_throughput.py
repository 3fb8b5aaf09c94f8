"""Figure 1, cycle throughput, and the measurements of figure 4, cost.

One cycle over N stations, aqi-stream (`producer.py --once`) and the naive baseline back to
back on the same simulator, each on a fresh topic, so every station has a new reading to
publish. N is 9 (the project's stations.txt: the Swiss cities by name), then 100, 1,000 and
10,000 (the first N reporting stations of the simulator, by idx). The order of the two
alternates from one run to the next, so neither always goes first.

Throughput is readings published / the cycle's seconds: for aqi-stream from the moment it
logs "connected to Kafka" (just before the cycle's first fetch) to the moment it logs the
cycle's line (after the transaction committed), both timestamped here on arrival; for the
baseline from its first request to its last flush, measured by itself. Start-up (imports,
connecting, reading `.latest`) is outside the cycle; the process's wall time, CPU time and
peak RSS (figure 4) include it.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from bench.harness import API_LATENCY_MS, UNLIMITED_QUOTA, WORKERS, Harness, alternating
from bench.processes import (
    ROOT,
    Lines,
    Process,
    Simulator,
    python_script,
    script_env,
    write_stations,
)
from bench.stats import Summary

SIZES = (9, 100, 1000, 10000)
QUICK_SIZES = (9, 100, 1000)
# The baseline needs ~25 ms a station: a whole cycle of 10,000 would take over 4 minutes a
# run, so it fetches for this long and publishes what it has (its per-station cost is the
# same at any point of a cycle: sequential requests, nothing shared between them).
BASELINE_TIME_BOX = {10000: 10.0}
SIMULATOR_STATIONS = 12000  # generated stations; 10,509 of them report every hour
CYCLE_LINE = re.compile(
    rb"cycle 1: (?P<polled>\d+) stations polled, (?P<published>\d+) new readings published"
    rb".*?(?P<unchanged>\d+) unchanged, (?P<failed>\d+) failed, (?P<requests>\d+) API "
    rb"requests, (?P<seconds>[\d.]+) s"
)
CONNECTED = b"connected to Kafka"


def simulator_args() -> list[str]:
    return [
        "--seed", "1", "--stations", str(SIMULATOR_STATIONS), "--quota", "0",
        "--latency-ms", str(API_LATENCY_MS), "--hour-seconds", "60",
        "--start", "2026-11-23T13:20:00Z",
    ]  # fmt: skip


def station_files(harness: Harness, simulator: Simulator, sizes: tuple[int, ...]) -> dict:
    files = {9: ROOT / "stations.txt"}
    stations = simulator.reporting_stations(max(sizes))
    for size in sizes:
        if size != 9:
            files[size] = write_stations(harness.workdir / f"stations-{size}.txt", stations[:size])
    return files


def run_aqi_stream(
    harness: Harness, simulator: Simulator, stations: Path, size: int, verify: bool
) -> dict:
    topic = harness.topics.topic(f"cycle{size}-aqi")
    process = harness.start_producer(stations, topic, simulator.url, "--once", *UNLIMITED_QUOTA)
    stderr = Lines(process.stderr, clock=time.perf_counter)
    usage = process.wait(timeout=60 + size * 0.05)
    stderr.closed.wait(10)
    connected, cycle = stderr.first(CONNECTED), stderr.first(b"cycle 1:")
    match = CYCLE_LINE.search(cycle[1]) if cycle else None
    if usage.exit_code != 0 or match is None or connected is None:
        raise RuntimeError(f"producer.py failed (exit {usage.exit_code}):\n{stderr.text()[-3000:]}")
    published = int(match["published"])
    seconds = cycle[0] - connected[0]
    result = {
        "stations": size,
        "polled": int(match["polled"]),
        "published": published,
        "failed": int(match["failed"]),
        "requests": int(match["requests"]),
        "cycle_seconds": seconds,
        "logged_cycle_seconds": float(match["seconds"]),
        "rate": published / seconds,
        "usage": usage.to_json(),
    }
    check_topic(harness, topic, result, verify)
    return result


def run_baseline(
    harness: Harness, simulator: Simulator, stations: Path, size: int, verify: bool
) -> dict:
    topic = harness.topics.topic(f"cycle{size}-baseline")
    harness.topics.create(topic)
    time_box = BASELINE_TIME_BOX.get(size)
    command = python_script(
        "bench/baseline_naive.py", "--stations", str(stations), "--topic", topic,
        "--api-url", simulator.url, "--bootstrap-servers", harness.bootstrap_servers,
    ) + (["--time-box", str(time_box)] if time_box else [])  # fmt: skip
    errors = harness.workdir / f"baseline-{size}.err"
    with open(errors, "wb") as stderr:
        process = Process(
            command,
            name="baseline_naive.py",
            env=script_env(simulator.url),
            cwd=harness.workdir,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        usage = process.wait(timeout=120 + size * 0.1)
    output = process.stdout.read().decode()
    if usage.exit_code != 0 or not output.strip():
        raise RuntimeError(f"baseline_naive.py failed (exit {usage.exit_code}): "
                           f"{errors.read_text()[-3000:]}")  # fmt: skip
    summary = json.loads(output.strip().splitlines()[-1])
    result = {
        "stations": size,
        "polled": summary["fetched"] + summary["failed"],
        "published": summary["published"],
        "failed": summary["failed"],
        "requests": summary["fetched"] + summary["failed"],
        "cycle_seconds": summary["seconds"],
        "rate": summary["published"] / summary["seconds"],
        "time_boxed": summary["time_boxed"],
        "usage": usage.to_json(),
    }
    check_topic(harness, topic, result, verify)
    return result


def check_topic(harness: Harness, topic: str, result: dict, verify: bool) -> None:
    """On the first run, count what the topic holds: what was reported is what was written."""
    if verify:
        result["records_in_topic"] = harness.topics.committed_count(topic)
        if result["records_in_topic"] != result["published"]:
            raise RuntimeError(
                f"{topic} holds {result['records_in_topic']} records, "
                f"{result['published']} were reported published"
            )
    harness.topics.delete(topic)


PROGRAMS = {"aqi_stream": run_aqi_stream, "baseline": run_baseline}


def measure(harness: Harness) -> dict:
    sizes = QUICK_SIZES if harness.quick else SIZES
    runs: dict[int, dict[str, list[dict]]] = {size: {who: [] for who in PROGRAMS} for size in sizes}
    with Simulator(harness.workdir, *simulator_args()) as simulator:
        files = station_files(harness, simulator, sizes)
        for run in range(harness.runs):
            for size in sizes:
                for who in alternating(PROGRAMS, run):
                    result = PROGRAMS[who](harness, simulator, files[size], size, run == 0)
                    runs[size][who].append(result)
                    harness.log(
                        f"cycle throughput, run {run + 1}/{harness.runs}, {size} stations, "
                        f"{who}: {result['published']} published in "
                        f"{result['cycle_seconds']:.2f} s = {result['rate']:.0f}/s"
                    )
    return {
        "sizes": {str(size): summarise(size, runs[size]) for size in sizes},
        "baseline_time_box_seconds": {str(k): v for k, v in BASELINE_TIME_BOX.items()},
        "workers": WORKERS,
        "simulator": " ".join(simulator_args()),
    }


def summarise(size: int, runs: dict[str, list[dict]]) -> dict:
    aqi, baseline = runs["aqi_stream"], runs["baseline"]
    # Each ratio pairs the two programs' measurements of the same run, taken back to back.
    ratios = [a["rate"] / b["rate"] for a, b in zip(aqi, baseline, strict=True)]
    return {
        "stations": size,
        "aqi_stream": {
            "rate": Summary.of([r["rate"] for r in aqi]).to_json(),
            "cycle_seconds": Summary.of([r["cycle_seconds"] for r in aqi]).to_json(),
            "runs": aqi,
        },
        "baseline": {
            "rate": Summary.of([r["rate"] for r in baseline]).to_json(),
            "cycle_seconds": Summary.of([r["cycle_seconds"] for r in baseline]).to_json(),
            "time_boxed": any(r["time_boxed"] for r in baseline),
            "runs": baseline,
        },
        "ratio": Summary.of(ratios).to_json(),
    }
