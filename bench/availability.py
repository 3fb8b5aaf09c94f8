"""The readings the API made available, from the simulator's own record (/admin/available).

Coverage is measured against this record, not against what a producer happened to fetch:
the simulator knows when every reading appeared, whether anyone asked for it or not, so a
reading that came and went between two requests counts as missed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator


def iso(epoch: float) -> str:
    """An epoch as the records write observed_at (and /admin/available reads from, to)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def appearances(available: dict) -> Iterator[tuple[int, int, int]]:
    """(idx, observed epoch, appeared epoch) of every reading of an /admin/available answer
    in its runs form."""
    for run in available["runs"]:
        for k, lag in enumerate(run["lags"]):
            observed = run["observed_at"] + k * run["every"]
            yield run["idx"], observed, observed + lag


def coverage(
    available: dict, published: Counter, until: float, stations: set[int] | None = None
) -> dict:
    """How many of the readings that appeared before `until` (of `stations`, or all) the
    topic holds, and how many it holds twice. `published` counts (idx, observed_at)."""
    made_available = covered = 0
    for idx, observed, appeared in appearances(available):
        if appeared >= until or (stations is not None and idx not in stations):
            continue
        made_available += 1
        covered += (idx, iso(observed)) in published
    return {
        "readings_available": made_available,
        "readings_covered": covered,
        "coverage_percent": 100 * covered / max(1, made_available),
        "duplicates": sum(count - 1 for count in published.values() if count > 1),
    }
