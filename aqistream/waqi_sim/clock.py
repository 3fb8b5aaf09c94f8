"""The simulated clock: real time, sped up, that tests can move forward instead of sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REAL_HOUR = 3600.0


class SimulatedClock:
    """True-UTC epoch seconds of the simulated world.

    It starts at `start` and runs `3600 / hour_seconds` times faster than real time, so with
    hour_seconds=5 a simulated hour lasts 5 real seconds. advance() and set() jump it.
    """

    def __init__(
        self,
        start: float,
        hour_seconds: float = REAL_HOUR,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if hour_seconds <= 0:
            raise ValueError("hour_seconds must be positive")
        self.start = start
        self.hour_seconds = hour_seconds
        self.speed = REAL_HOUR / hour_seconds  # simulated seconds per real second
        self._monotonic = monotonic
        self._began = monotonic()
        self._jumped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.start + (self._monotonic() - self._began) * self.speed + self._jumped

    def advance(self, seconds: float) -> None:
        """Jump forward (or back, for a negative value)."""
        with self._lock:
            self._jumped += seconds

    def set(self, epoch: float) -> None:
        """Jump to `epoch` (true UTC); the clock keeps running from there."""
        with self._lock:
            self._jumped += epoch - self.now()
