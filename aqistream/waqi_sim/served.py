"""The record of what the simulator served, so tests can tell exactly what a client received.

Two tallies: every distinct feed reading served (station idx and true-UTC observation time,
when it was first served and how often), and what each token's requests got. Thread-safe.

"When first served" is kept twice: in simulated time, which tests reason about, and on the real
(wall) clock, which benchmarks compare with the moment a consumer printed the reading.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from aqistream.waqi_sim.localtime import utc_iso

NO_TOKEN = "(no token)"

# What a request got; each is a counter per token.
ANSWERED = "answered"  # by the WAQI app: data or one of its error bodies
INVALID_KEY = "invalid_key"
OVER_QUOTA = "over_quota"
FAULT = "faults"  # a 5xx, an empty or non-JSON body, or an outage
NGINX = "nginx_replies"  # 301 for '//', the HTML 404, the empty-city "message: 404"
OUTCOMES = (ANSWERED, INVALID_KEY, OVER_QUOTA, FAULT, NGINX)


class ServedRecord:
    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._wall_clock = wall_clock
        # One int key and one int value per reading: benchmarks serve millions of readings.
        # (idx, observed) -> (first served at in simulated time, on the wall clock, count)
        self._readings: dict[int, int] = {}
        self._requests: dict[str, Counter[str]] = {}

    def request(self, token: str | None, outcome: str) -> None:
        key = NO_TOKEN if token is None else token
        with self._lock:
            self._requests.setdefault(key, Counter())[outcome] += 1

    def reading(self, idx: int, observed_at: int, now: float) -> None:
        key = _reading_key(idx, observed_at)
        wall_ms = round(self._wall_clock() * 1000)
        with self._lock:
            served = self._readings.get(key)
            self._readings[key] = _served(int(now), wall_ms, 1) if served is None else served + 1

    def reset(self) -> None:
        with self._lock:
            self._readings.clear()
            self._requests.clear()

    def readings_json(self, idx: int | None = None) -> list[dict]:
        with self._lock:
            entries = list(self._readings.items())
        readings = []
        for key, served in entries:
            station, observed = _unpack_key(key)
            if idx is None or station == idx:
                readings.append((station, observed, served))
        return [
            {
                "idx": station,
                "observed_at": utc_iso(observed),
                "first_served_at": utc_iso(served >> _TIME_SHIFT),
                "first_served_wall": (served >> _COUNT_BITS & _WALL_MASK) / 1000,
                "times_served": served & _COUNT_MASK,
            }
            for station, observed, served in sorted(readings)
        ]

    def tokens_json(self) -> dict[str, dict[str, int]]:
        with self._lock:
            tallies = {token: Counter(counts) for token, counts in self._requests.items()}
        return {
            token: {"requests": sum(counts.values())} | {name: counts[name] for name in OUTCOMES}
            for token, counts in sorted(tallies.items())
        }


_IDX_BITS = 21
_IDX_OFFSET = 1 << (_IDX_BITS - 1)  # idx from -1,048,576 to 1,048,575
_COUNT_BITS = 32
_COUNT_MASK = (1 << _COUNT_BITS) - 1
_WALL_BITS = 42  # real Unix time in milliseconds, up to 2109
_WALL_MASK = (1 << _WALL_BITS) - 1
_TIME_SHIFT = _COUNT_BITS + _WALL_BITS  # simulated epoch seconds above: any value


def _reading_key(idx: int, observed_at: int) -> int:
    return observed_at << _IDX_BITS | (idx + _IDX_OFFSET)


def _unpack_key(key: int) -> tuple[int, int]:
    return (key & ((1 << _IDX_BITS) - 1)) - _IDX_OFFSET, key >> _IDX_BITS


def _served(first_served_at: int, first_served_wall_ms: int, count: int) -> int:
    return first_served_at << _TIME_SHIFT | first_served_wall_ms << _COUNT_BITS | count
