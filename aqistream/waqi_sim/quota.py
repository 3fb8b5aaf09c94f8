"""WAQI's quota as token buckets: per token, `per_minute` requests a simulated minute, bursts of
`burst`. Refill follows the simulated clock, so advancing the clock refills the buckets."""

from __future__ import annotations

import threading
from dataclasses import dataclass

DEFAULT_PER_MINUTE = 1000  # the stricter of WAQI's published limits (API.md section 8)
DEFAULT_BURST = 60


@dataclass(frozen=True)
class QuotaSettings:
    per_minute: float = DEFAULT_PER_MINUTE  # 0 turns the quota off
    burst: int = DEFAULT_BURST

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def to_json(self) -> dict:
        return {"per_minute": self.per_minute, "burst": self.burst, "enabled": self.enabled}


class Quota:
    def __init__(self, settings: QuotaSettings) -> None:
        self._settings = settings
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (requests left, as of)
        self._lock = threading.Lock()

    @property
    def settings(self) -> QuotaSettings:
        return self._settings

    def configure(self, settings: QuotaSettings) -> None:
        """New limits; every bucket starts full again."""
        with self._lock:
            self._settings = settings
            self._buckets.clear()

    def refill_all(self) -> None:
        with self._lock:
            self._buckets.clear()

    def allow(self, token: str, now: float) -> bool:
        """Take one request from `token`'s bucket at simulated time `now`; False if empty."""
        settings = self._settings
        if not settings.enabled:
            return True
        with self._lock:
            left, as_of = self._buckets.get(token, (float(settings.burst), now))
            # A clock set backwards refills nothing.
            left = min(settings.burst, left + max(0.0, now - as_of) * settings.per_minute / 60)
            allowed = left >= 1
            self._buckets[token] = (left - 1 if allowed else left, max(now, as_of))
            return allowed
