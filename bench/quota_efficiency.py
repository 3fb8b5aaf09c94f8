"""Figure 5, quota efficiency: API requests per published reading over a simulated day.

1,000 listed stations, WAQI's quota on, each reading appearing after its station's
publication lag, the producer in its normal loop: cadence-aware (its default, each station
fetched when its next reading should have appeared), and, the same day on a fresh
simulator, the fixed-interval way at `--interval 600`. Time is scaled: a simulated hour
lasts 10 real seconds (`--hour-seconds 10`, 360 times real time), and so does all that is
per minute: the simulator keeps WAQI's quota of 1,000 requests per simulated minute (burst
60), the producer gets the same as its own `--quota` per real minute (360,000), its
`--interval` is 600 s scaled (1.67 s), and the cadence-aware run is told the API's clock
runs 360 times as fast (`--time-scale 360`). 10 s an hour is about the fastest clock at
which that holds on 2 cores: a 1,000-station cycle takes about 1 s of real time, so cycles
still start at the scaled interval rather than back to back.

Requests are what the simulator counted for the producer's token (retries and over-quota
answers included); published readings are what the topic holds; over-quota answers are
the simulator's count. The hourly figures (from the producer's cycle lines, by simulated
hour) show how the ratio varies within the day.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict

from bench.harness import API_LATENCY_MS, Harness
from bench.processes import TOKEN, Lines, Simulator, started, wait_for, write_stations
from bench.stats import Summary

STATIONS = 1000
HOUR_SECONDS = 10.0
SPEED = 3600 / HOUR_SECONDS
DAY_HOURS = 24
QUICK_DAY_HOURS = 3
WAQI_QUOTA = 1000  # requests per minute
WAQI_BURST = 60
FIXED_INTERVAL = 600.0  # producer.py's default before it was cadence-aware, in real seconds
DAYS = 1  # a simulated day lasts 4 real minutes: one, not five (see RESULTS.md)
CYCLE_LINE = re.compile(
    rb"cycle \d+: \d+ stations polled, (?P<published>\d+) new readings published.*, "
    rb"(?P<requests>\d+) API requests"
)


def simulator_args() -> list[str]:
    return [
        "--seed", "5", "--stations", "2400", "--quota", str(WAQI_QUOTA),
        "--burst", str(WAQI_BURST), "--latency-ms", str(API_LATENCY_MS),
        "--hour-seconds", str(HOUR_SECONDS), "--publication-lag",
        "--start", "2026-11-23T00:00:00Z",
    ]  # fmt: skip


MODES = {
    "cadence": ("--time-scale", f"{SPEED:g}"),
    "fixed": ("--interval", f"{FIXED_INTERVAL / SPEED:.4f}"),
}


def measure_day(
    harness: Harness, simulator: Simulator, stations_file, hours: int, mode: str
) -> dict:
    topic = harness.topics.topic(f"quota-{mode}")
    simulator.admin("POST", "reset")
    began = simulator.admin("GET", "clock")["epoch"]
    began_here = time.time()
    producer = harness.start_producer(
        stations_file, topic, simulator.url, *MODES[mode],
        "--quota", str(WAQI_QUOTA * SPEED), "--burst", str(WAQI_BURST),
    )  # fmt: skip
    with started(producer):
        log = Lines(producer.stderr)
        wait_for(
            lambda: simulator.admin("GET", "clock")["epoch"] >= began + hours * 3600,
            hours * HOUR_SECONDS * 2 + 60,
            "the simulated day to pass",
            every=0.5,
        )
        peak_rss = producer.peak_rss_mb()
    usage = producer.usage
    served = simulator.admin("GET", "served")
    token = served["tokens"].get(TOKEN, {})
    published = harness.topics.committed_count(topic)
    harness.topics.delete(topic)
    if usage is None or usage.exit_code != 0:
        raise RuntimeError(f"producer.py failed in the quota run:\n{log.text()[-3000:]}")
    hourly = hourly_ratios(log.lines, began_here, hours)
    return {
        "hours": hours,
        "requests": token.get("requests", 0),
        "over_quota": token.get("over_quota", 0),
        "published": published,
        "readings_served": len(served["readings"]),
        "requests_per_reading": token.get("requests", 0) / published,
        "cycles": sum(1 for _, line in log.lines if CYCLE_LINE.search(line)),
        "hourly_requests_per_reading": hourly,
        "producer_cpu_seconds": usage.cpu_seconds,
        "producer_peak_rss_mb": peak_rss,
    }


def hourly_ratios(lines: list[tuple[float, bytes]], began_here: float, hours: int) -> list[float]:
    """Requests per published reading in each simulated hour, by the producer's cycle lines.

    The first hour is left out (it holds the start-up cycle, where every reading is new),
    and so is what comes after the day (the cycle that was running when it ended).
    """
    requests: dict[int, int] = defaultdict(int)
    published: dict[int, int] = defaultdict(int)
    for arrived, line in lines:
        match = CYCLE_LINE.search(line)
        if match:
            hour = int((arrived - began_here) / HOUR_SECONDS)
            requests[hour] += int(match["requests"])
            published[hour] += int(match["published"])
    return [requests[hour] / published[hour] for hour in range(1, hours) if published[hour]]


def measure(harness: Harness) -> dict:
    hours = QUICK_DAY_HOURS if harness.quick else DAY_HOURS
    days: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for mode in MODES:
        # A fresh simulator for each: both see the same day.
        with Simulator(harness.workdir, *simulator_args()) as simulator:
            stations_file = write_stations(
                harness.workdir / "stations-quota.txt", simulator.reporting_stations(STATIONS)
            )
            for day in range(DAYS):
                result = measure_day(harness, simulator, stations_file, hours, mode)
                days[mode].append(result)
                harness.log(
                    f"quota efficiency, {mode}, day {day + 1}/{DAYS}: {result['requests']} "
                    f"requests, {result['published']} readings published, "
                    f"{result['requests_per_reading']:.2f} requests a reading, "
                    f"{result['over_quota']} over quota"
                )
    cadence, fixed = days["cadence"], days["fixed"]
    hourly = [ratio for day in cadence for ratio in day["hourly_requests_per_reading"]]
    return {
        "stations": STATIONS,
        "simulated_hours": hours,
        "days": DAYS,
        "hour_seconds": HOUR_SECONDS,
        "producer_interval": FIXED_INTERVAL / SPEED,
        "producer_quota_per_minute": WAQI_QUOTA * SPEED,
        "simulator": " ".join(simulator_args()),
        "requests_per_reading": Summary.of([d["requests_per_reading"] for d in cadence]).to_json(),
        "hourly_requests_per_reading": Summary.of(hourly).to_json() if hourly else None,
        "over_quota": sum(d["over_quota"] for mode in days.values() for d in mode),
        "fixed_requests_per_reading": Summary.of(
            [d["requests_per_reading"] for d in fixed]
        ).to_json(),
        "runs": cadence,
        "fixed_runs": fixed,
    }
