"""Figure 4, cost: CPU time and peak memory of a publishing cycle, from figure 1's runs.

Each cycle-throughput run is a whole process (`--once`), measured by the kernel when it
exits (wait4): user + system CPU seconds and the peak resident set. Per 1,000 published
readings: CPU seconds / published x 1,000, start-up included. Peak RSS is given for the
1,000- and 10,000-station cycles, and as the growth from one to the other per 1,000
readings (what holding one more thousand readings in a cycle costs).
"""

from __future__ import annotations

from bench.stats import Summary

PROGRAMS = ("aqi_stream", "baseline")


def derive(cycle: dict) -> dict:
    sizes = cycle["sizes"]
    cost: dict = {"sizes": {}}
    for size in ("1000", "10000"):
        if size not in sizes:
            continue
        cost["sizes"][size] = {}
        for program in PROGRAMS:
            runs = sizes[size][program]["runs"]
            cost["sizes"][size][program] = {
                "cpu_seconds_per_1000": Summary.of(
                    [run["usage"]["cpu_seconds"] / run["published"] * 1000 for run in runs]
                ).to_json(),
                "peak_rss_mb": Summary.of([run["usage"]["peak_rss_mb"] for run in runs]).to_json(),
                "published": Summary.of([run["published"] for run in runs]).to_json(),
                "time_boxed": any(run.get("time_boxed") for run in runs),
            }
    if {"1000", "10000"} <= set(cost["sizes"]):
        one, ten = cost["sizes"]["1000"]["aqi_stream"], cost["sizes"]["10000"]["aqi_stream"]
        readings = ten["published"]["median"] - one["published"]["median"]
        cost["aqi_stream_rss_mb_per_1000_more"] = (
            (ten["peak_rss_mb"]["median"] - one["peak_rss_mb"]["median"]) / readings * 1000
        )
    return cost
