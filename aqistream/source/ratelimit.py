"""A token bucket shared by every request the producer makes, retries included.

WAQI allows 1,000 requests a minute with bursts of up to 60. The bucket is a GCRA (generic
cell rate algorithm): each request reserves the next free slot under a lock and waits for it
outside the lock, so concurrent workers never exceed the rate or the burst together.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        if per_minute <= 0 or burst < 1:
            raise ValueError("the quota must be positive and the burst at least 1")
        self.interval = 60.0 / per_minute
        # A full bucket lets `burst` requests through at once; GCRA calls this the tolerance.
        self.tolerance = (burst - 1) * self.interval
        self.clock = clock
        self.theoretical_arrival = clock()  # starts full
        self.lock = threading.Lock()

    @classmethod
    def within_quota(cls, per_minute: float, burst: int) -> RateLimiter:
        """A limiter a little under the quota, so that requests that leave on time but
        arrive bunched up (network and scheduling jitter, up to ~50 ms) still fit it."""
        jitter_requests = math.ceil(per_minute / 60 * 0.05)
        return cls(per_minute * 0.95, max(1, burst - jitter_requests))

    def reserve(self) -> float:
        """Take the next free slot; return how long to wait for it (0 when it is now)."""
        with self.lock:
            now = self.clock()
            allowed_at = max(now, self.theoretical_arrival - self.tolerance)
            self.theoretical_arrival = max(self.theoretical_arrival, now) + self.interval
            return allowed_at - now

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a slot; False if `stop` was set meanwhile (the slot is then wasted)."""
        wait = self.reserve()
        if wait <= 0:
            return True
        if stop is None:
            time.sleep(wait)
            return True
        return not stop.wait(wait)

    def slow_down(self) -> None:
        """Pause everyone until the API's own bucket has refilled a whole burst.

        Called when the API answers Over quota after all (another client shares the token).
        """
        with self.lock:
            now = self.clock()
            refill = self.tolerance + self.interval
            self.theoretical_arrival = max(self.theoretical_arrival, now + refill + self.tolerance)
