"""A token bucket shared by every request the producer makes, retries included.

WAQI allows 1,000 requests a minute with bursts of up to 60. The bucket is a GCRA (generic
cell rate algorithm): each request reserves the next free slot under a lock and waits for it
outside the lock, so concurrent workers never exceed the rate or the burst together.

Leaving on time is not enough: requests reach the API late and bunched up whenever a thread,
the network or the API's own process is held up (on a loaded machine, for hundreds of
milliseconds), and the API counts them when they arrive. What bounds the bunching is how many
requests can be on their way at once. So the limiter made `within_quota` also caps the
requests in flight (from their slot to their answer), and lets through at once only what the
API's burst holds beyond them: since the last moment the API's bucket was full, it has
received at most the requests then in flight plus what the limiter allowed since, which is
never more than the bucket held then plus its refill, however late each one arrived.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Of the quota's rate, the share used: room for the producer's and the API's clocks to differ.
RATE_SHARE = 0.95


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        in_flight: int | None = None,
    ):
        if per_minute <= 0 or burst < 1:
            raise ValueError("the quota must be positive and the burst at least 1")
        self.interval = 60.0 / per_minute
        # A full bucket lets `burst` requests through at once; GCRA calls this the tolerance.
        self.tolerance = (burst - 1) * self.interval
        self.clock = clock
        self.theoretical_arrival = clock()  # starts full
        self.lock = threading.Lock()
        self.in_flight = in_flight  # requests allowed between acquire() and release(); None: any
        self._flying = threading.BoundedSemaphore(in_flight) if in_flight else None

    @classmethod
    def within_quota(
        cls,
        per_minute: float,
        burst: int,
        in_flight: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> RateLimiter:
        """A limiter whose requests fit the API's bucket (`per_minute`, `burst`) however late
        and bunched they arrive: at most `in_flight` of them on their way at once (fewer
        than the burst, at most burst - 1), and bursts of what the API's burst holds beyond
        those, at 95 % of the rate."""
        flying = max(1, min(in_flight, burst - 1))
        return cls(per_minute * RATE_SHARE, max(1, burst - flying), clock, flying)

    def reserve(self) -> float:
        """Take the next free slot; return how long to wait for it (0 when it is now)."""
        with self.lock:
            now = self.clock()
            allowed_at = max(now, self.theoretical_arrival - self.tolerance)
            self.theoretical_arrival = max(self.theoretical_arrival, now) + self.interval
            return allowed_at - now

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a place in flight, then for a slot; False if `stop` was set meanwhile
        (the slot is then wasted). Every True must be followed by release()."""
        if self._flying is not None:
            while not self._flying.acquire(timeout=0.5):
                if stop is not None and stop.is_set():
                    return False
        wait = self.reserve()
        if wait <= 0:
            return True
        if stop is None:
            time.sleep(wait)
            return True
        if stop.wait(wait):
            self.release()
            return False
        return True

    def release(self, after: float = 0.0) -> None:
        """The request acquire() let through has its answer (or failed): no longer in flight,
        now or `after` seconds from now (a request sent but not answered may still arrive)."""
        if self._flying is None:
            return
        if after <= 0:
            self._flying.release()
            return
        timer = threading.Timer(after, self._flying.release)
        timer.daemon = True
        timer.start()

    def slow_down(self) -> None:
        """Pause everyone until the API's own bucket has refilled a whole burst.

        Called when the API answers Over quota after all (another client shares the token).
        """
        with self.lock:
            now = self.clock()
            refill = self.tolerance + self.interval
            self.theoretical_arrival = max(self.theoretical_arrival, now + refill + self.tolerance)
