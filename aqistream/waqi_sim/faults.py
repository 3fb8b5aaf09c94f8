"""Faults on demand: latency, HTTP 5xx, empty bodies, non-JSON bodies and outages.

Settings change at run time (admin endpoint), so they live in one object behind a lock; every
roll uses one RNG seeded from --seed, so a run with the same requests in the same order fails
the same way.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, replace

ERROR_STATUSES = (500, 502, 503, 504)
OUTAGE_503 = "503"
OUTAGE_CLOSE = "close"  # the connection is closed without a response

# What a request gets instead of its answer.
NO_FAULT = "none"
SERVER_ERROR = "server_error"
EMPTY_BODY = "empty_body"
NOT_JSON = "not_json"


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0  # latency varies uniformly by +- this much
    error_rate: float = 0.0  # share of requests answered 500/502/503/504
    empty_rate: float = 0.0  # share answered 200 with an empty body
    nonjson_rate: float = 0.0  # share answered 200 with an HTML page
    outage_until: float | None = None  # simulated epoch; None: no outage
    outage_mode: str = OUTAGE_503

    def validate(self) -> FaultSettings:
        for name in ("error_rate", "empty_rate", "nonjson_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.error_rate + self.empty_rate + self.nonjson_rate > 1:
            raise ValueError("error_rate + empty_rate + nonjson_rate must not exceed 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must not be negative")
        if self.outage_mode not in (OUTAGE_503, OUTAGE_CLOSE):
            raise ValueError(f"outage_mode must be {OUTAGE_503!r} or {OUTAGE_CLOSE!r}")
        return self


@dataclass(frozen=True)
class Verdict:
    fault: str = NO_FAULT
    status: int = 200  # for SERVER_ERROR
    delay_seconds: float = 0.0


class Faults:
    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self._settings = settings.validate()
        self._rng = random.Random(f"waqi-sim:{seed}:faults")
        self._lock = threading.Lock()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def update(self, **changes: object) -> None:
        with self._lock:
            self._settings = replace(self._settings, **changes).validate()

    def clear(self) -> None:
        with self._lock:
            self._settings = FaultSettings()

    def in_outage(self, now: float) -> str | None:
        """The outage mode if an outage covers simulated time `now`."""
        settings = self._settings
        if settings.outage_until is not None and now < settings.outage_until:
            return settings.outage_mode
        return None

    def roll(self) -> Verdict:
        """Decide the fate of one request that reached the WAQI app."""
        settings = self._settings
        with self._lock:
            delay = settings.latency_ms
            if settings.jitter_ms:
                delay += self._rng.uniform(-settings.jitter_ms, settings.jitter_ms)
            draw = self._rng.random()
            status = self._rng.choice(ERROR_STATUSES)
        delay_seconds = max(0.0, delay) / 1000
        if draw < settings.error_rate:
            return Verdict(SERVER_ERROR, status, delay_seconds)
        if draw < settings.error_rate + settings.empty_rate:
            return Verdict(EMPTY_BODY, 200, delay_seconds)
        if draw < settings.error_rate + settings.empty_rate + settings.nonjson_rate:
            return Verdict(NOT_JSON, 200, delay_seconds)
        return Verdict(NO_FAULT, 200, delay_seconds)


def settings_json(settings: FaultSettings, now: float) -> dict:
    """The admin view: outage as remaining simulated seconds rather than an epoch."""
    view = asdict(settings)
    until = view.pop("outage_until")
    view["outage_seconds_left"] = max(0.0, until - now) if until is not None else 0.0
    return view
