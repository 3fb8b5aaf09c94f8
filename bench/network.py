"""Figure 6, the whole network: a simulated day over 30,000 stations within WAQI's quota.

The simulator is the whole network (`--stations 30000 --realistic`: about 30,000 stations,
43 % crowd, each official reading appearing after its station's publication lag, a few
stations appearing and vanishing, map answers thinned at about 1,250 stations) with WAQI's
quota on: 1,000 requests per simulated minute, burst 60, 20 ms per answer. Three runs, each
on a fresh simulator started at the same simulated moment, so each sees the same day:
aqi-stream following `world` (cadence-aware, the default: map tiles, then a feed for each
station the map shows a new reading of), and the fixed-interval approach, every station
listed (@idx / A<n> lines) and fetched every `--interval 600`, then every `--interval 1800`.

Time is scaled as in the quota-efficiency figure: a simulated hour lasts minutes, not an hour,
and the producer's per-minute quota and its interval are scaled to match (WAQI's 1,000 per
simulated minute is 1,000 x speed per real minute); the world run is also told how fast the
API's clock runs (--time-scale), since its cadences are in the API's time. The clock is
chosen so that this 2-core machine, which the simulator, the producer and the broker share,
keeps up with the requests: the runs need up to the whole quota (the first sweep of 30,000
stations, and the fixed-interval runs all along, their 30,000-station cycles never ending
early), and a try at 40 times real time fell behind that (on the machine shared with other
work): at 20 times real time, 950 requests a simulated minute are about 320 a real second.
So world runs the whole simulated day at 20 times real time (72 real minutes), and the
fixed-interval runs, whose pattern repeats every cycle of about half an hour, 3 simulated
hours each at the same clock: about an hour and a half for the three.

Measured, per run: coverage (the readings the simulator made available in the day that the
topic holds, read_committed), freshness (from a reading's appearance in the API, which the
simulator records exactly, to its commit, seen by the harness's own read_committed
consumer; converted to simulated minutes), API requests per published reading and
over-quota answers (the simulator's counts for the producer's token), the producer's CPU
time and peak RSS. Freshness is given over the whole day and after its first hour, when the
first sweep of every station (30,000 requests: half an hour of quota) is done.
"""

from __future__ import annotations

import re
import statistics
import time

from bench.harness import API_LATENCY_MS, Harness
from bench.latency import VisibilityProbe
from bench.processes import Lines, Simulator, started, wait_for, write_stations
from bench.stats import percentile

STATIONS = 30000
QUICK_STATIONS = 3000
# (simulated hours, real seconds a simulated hour lasts), full and --quick
WORLD_RUN = (24, 180.0)
FIXED_RUN = (3, 180.0)
QUICK_WORLD_RUN = (3, 20.0)
QUICK_FIXED_RUN = (2, 60.0)
WAQI_QUOTA = 1000  # requests per minute
WAQI_BURST = 60
WARM_UP_HOURS = 1  # freshness "after the first hour" leaves this out
TAIL_MINUTES = 20  # readings that appeared this close to the end are not counted
START = "2026-11-23T00:00:00Z"
CYCLE_SECONDS = re.compile(rb"cycle \d+: .*, ([\d.]+) s$")
APPROACHES = {"world": None, "fixed_600": 600, "fixed_1800": 1800}  # -> --interval


def simulator_args(stations: int, hour_seconds: float) -> list[str]:
    return [
        "--seed", "11", "--stations", str(stations), "--realistic",
        "--quota", str(WAQI_QUOTA), "--burst", str(WAQI_BURST),
        "--latency-ms", str(API_LATENCY_MS), "--hour-seconds", f"{hour_seconds:g}",
        "--start", START,
    ]  # fmt: skip


def measure_approach(
    harness: Harness, name: str, stations: int, hours: int, hour_seconds: float
) -> dict:
    speed = 3600 / hour_seconds
    topic = harness.topics.topic(f"network-{name}")
    with Simulator(harness.workdir, *simulator_args(stations, hour_seconds)) as simulator:
        if name == "world":
            stations_file = harness.workdir / "stations-world.txt"
            stations_file.write_text("world\n")
            options = ("--time-scale", f"{speed:g}")
        else:
            listed = simulator.admin("GET", "stations?present=true&limit=1000000")["stations"]
            stations_file = write_stations(harness.workdir / "stations-all.txt", listed)
            options = ("--interval", f"{APPROACHES[name] / speed:.4f}")
        began = simulator.admin("GET", "clock")["epoch"]
        producer = harness.start_producer(
            stations_file, topic, simulator.url, *options,
            "--quota", str(WAQI_QUOTA * speed), "--burst", str(WAQI_BURST),
        )  # fmt: skip
        with started(producer), VisibilityProbe(harness, topic) as probe:
            log = Lines(producer.stderr)
            wait_for(
                lambda: simulator.admin("GET", "clock")["epoch"] >= began + hours * 3600,
                hours * hour_seconds * 1.5 + 120,
                f"the simulated day of {name}",
                every=1.0,
            )
            peak_rss = producer.peak_rss_mb()
            producer.stop()
            # The last commits reach the probe within a moment.
            time.sleep(2)
        ended = began + hours * 3600
        available = simulator.admin(
            "GET", f"available?from={iso(began)}&to={iso(ended)}&format=runs"
        )
        tokens = simulator.admin("GET", "served")["tokens"]
    usage = producer.usage
    harness.topics.delete(topic)
    if usage is None:
        raise RuntimeError(f"producer.py ({name}) did not stop:\n{log.text()[-3000:]}")
    token = next(iter(tokens.values()), {})
    result = analyse(available, probe.seen, probe.copies, began, ended)
    result |= {"simulated_hours": hours, "hour_seconds": hour_seconds, "speed": speed}
    published = sum(probe.copies.values())
    cycle_seconds = [float(m[1]) for _, line in log.lines if (m := CYCLE_SECONDS.search(line))]
    return result | {
        "stations_listed": None if name == "world" else len(listed),
        "cycle_minutes": statistics.median(cycle_seconds) * speed / 60
        if name != "world" and cycle_seconds
        else None,
        "requests": token.get("requests", 0),
        "over_quota": token.get("over_quota", 0),
        "published": published,
        "requests_per_reading": token.get("requests", 0) / max(1, published),
        "producer_cpu_seconds": usage.cpu_seconds,
        "producer_peak_rss_mb": max(peak_rss or 0.0, usage.peak_rss_mb),
        "producer_exit_code": usage.exit_code,
        "last_cycle_line": next(
            (line.decode() for _, line in reversed(log.lines) if b"cycle" in line), ""
        ),
    }


def analyse(available: dict, seen: dict, copies, began: float, ended: float) -> dict:
    """Coverage and freshness of one run, from the simulator's record of availability and
    the probe's record of when each reading became visible in Kafka (real time)."""
    wall, epoch, speed = available["wall"], available["epoch"], available["speed"]
    counted_until = ended - TAIL_MINUTES * 60
    warm_until = began + WARM_UP_HOURS * 3600
    made_available = 0
    covered = 0
    freshness_all: list[float] = []
    freshness_settled: list[float] = []
    for run in available["runs"]:
        for k, lag in enumerate(run["lags"]):
            appeared = run["observed_at"] + k * run["every"] + lag
            if appeared >= counted_until:
                continue
            made_available += 1
            reading = (run["idx"], iso(run["observed_at"] + k * run["every"]))
            if reading not in seen:
                continue
            covered += 1
            visible_real = seen[reading][0]
            appeared_real = wall + (appeared - epoch) / speed
            minutes = max(0.0, (visible_real - appeared_real) * speed / 60)
            freshness_all.append(minutes)
            if appeared >= warm_until:
                freshness_settled.append(minutes)
    duplicates = sum(count - 1 for count in copies.values() if count > 1)
    return {
        "readings_available": made_available,
        "readings_covered": covered,
        "coverage_percent": 100 * covered / max(1, made_available),
        "duplicates": duplicates,
        "freshness_minutes": quantiles(freshness_all),
        "freshness_after_first_hour_minutes": quantiles(freshness_settled),
    }


def quantiles(values: list[float]) -> dict | None:
    if not values:
        return None
    return {
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values),
        "readings": len(values),
    }


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def measure(harness: Harness) -> dict:
    stations = QUICK_STATIONS if harness.quick else STATIONS
    results = {}
    for name in APPROACHES:
        world = name == "world"
        if harness.quick:
            hours, hour_seconds = QUICK_WORLD_RUN if world else QUICK_FIXED_RUN
        else:
            hours, hour_seconds = WORLD_RUN if world else FIXED_RUN
        harness.log(f"network: {name}, {hours} simulated hours at {3600 / hour_seconds:g}x")
        result = measure_approach(harness, name, stations, hours, hour_seconds)
        results[name] = result
        settled = result["freshness_after_first_hour_minutes"] or {}
        harness.log(
            f"network, {name}: coverage {result['coverage_percent']:.2f} %, "
            f"freshness p50 {settled.get('p50', float('nan')):.1f} min "
            f"p99 {settled.get('p99', float('nan')):.1f} min, "
            f"{result['requests_per_reading']:.2f} requests a reading, "
            f"{result['over_quota']} over quota, peak RSS {result['producer_peak_rss_mb']:.0f} MB"
        )
    return {
        "stations": stations,
        "producer_quota": f"{WAQI_QUOTA} per simulated minute, burst {WAQI_BURST}",
        "simulator": " ".join(simulator_args(stations, 0)).replace(" --hour-seconds 0", ""),
        "approaches": results,
    }
