"""aqistream/source/ratelimit.py: never more than the quota, nor more than the burst at once."""

from __future__ import annotations

import heapq
import random
import threading
import time

import pytest

from aqistream.source.ratelimit import RateLimiter
from aqistream.waqi_sim.quota import Quota, QuotaSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_times(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    """When each of `count` back-to-back requests may leave."""
    return [clock.now + limiter.reserve() for _ in range(count)]


def test_a_full_bucket_lets_the_burst_through_at_once_then_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=5, clock=clock)
    times = send_times(limiter, clock, 8)
    assert times[:5] == [1000.0] * 5
    assert times[5:] == [1001.0, 1002.0, 1003.0]


def test_no_window_ever_holds_more_than_burst_plus_rate():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1000, burst=60, clock=clock)
    times = []
    for step in range(3000):
        clock.now = 1000.0 + step * 0.01  # callers arrive every 10 ms, faster than allowed
        times.append(clock.now + limiter.reserve())
    times.sort()
    rate = 1000 / 60
    for i, start in enumerate(times):
        for window in (0.001, 1.0, 10.0, 60.0):
            inside = sum(1 for t in times[i:] if t < start + window)
            assert inside <= 60 + rate * window + 1e-9, (window, inside)


def test_an_idle_bucket_refills_to_the_burst_and_no_further():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    send_times(limiter, clock, 3)
    clock.now += 3600
    assert send_times(limiter, clock, 4) == [clock.now] * 3 + [clock.now + 1]


def test_within_quota_keeps_headroom_below_the_quota():
    limiter = RateLimiter.within_quota(per_minute=6000, burst=60, in_flight=32)
    assert 60 / limiter.interval < 6000
    # What may leave at once and what may be on its way fit the API's burst together.
    assert limiter.tolerance / limiter.interval + 1 + limiter.in_flight <= 60


def test_within_quota_never_has_more_in_flight_than_the_burst_holds():
    assert RateLimiter.within_quota(1000, 60, in_flight=500).in_flight == 59
    assert RateLimiter.within_quota(1000, 1, in_flight=8).in_flight == 1


def arrivals_at_the_api(
    limiter: RateLimiter, clock: FakeClock, seconds: float, seed: int
) -> list[float]:
    """When requests reach the API over `seconds`, as many workers as the limiter lets fly
    always waiting to send: each takes a slot, its request arrives after a random delay
    (often none, sometimes long) or at the end of a stall of the whole API process (up to
    1.5 s, every few seconds), and the worker takes its next slot once answered."""
    rng = random.Random(seed)
    end = clock.now + seconds
    stalls, t = [], clock.now
    while t < end:
        t += rng.uniform(2, 10)
        stalls.append((t, t + rng.uniform(0.05, 1.5)))

    def arrival(sent: float) -> float:
        late = sent + (rng.expovariate(20) if rng.random() < 0.3 else 0.0)
        for begins, ends in stalls:
            if begins <= late < ends:
                return ends
        return late

    ready = [clock.now] * limiter.in_flight
    heapq.heapify(ready)
    arrived = []
    while ready[0] < end:
        clock.now = heapq.heappop(ready)
        at = arrival(clock.now + limiter.reserve())
        arrived.append(at)
        heapq.heappush(ready, at + 0.005)  # answered
    return sorted(arrived)


@pytest.mark.parametrize("per_minute", [1000, 6000, 60000])
@pytest.mark.parametrize("workers", [4, 32, 200])
def test_within_quota_fits_the_api_bucket_however_late_and_bunched_requests_arrive(
    per_minute, workers
):
    """The API's bucket (the simulator's, WAQI's rule) accepts every request the limiter lets
    through, whatever delays and stalls bunch them up on the way (with the old limiter,
    5 % under the API's burst and no bound on requests in flight, it refused some)."""
    for seed in range(3):
        clock = FakeClock()
        limiter = RateLimiter.within_quota(per_minute, 60, workers, clock)
        api = Quota(QuotaSettings(per_minute=per_minute, burst=60))
        arrived = arrivals_at_the_api(limiter, clock, 30, seed)
        assert len(arrived) > per_minute / 2 * 0.15  # the quota is used, not idled away
        refused = [at for at in arrived if not api.allow("token", at)]
        assert not refused, (seed, len(refused))


def test_acquire_holds_a_place_in_flight_until_release():
    limiter = RateLimiter.within_quota(60000, 60, in_flight=2)
    stop = threading.Event()
    assert limiter.acquire(stop) and limiter.acquire(stop)
    third = threading.Thread(target=lambda: results.append(limiter.acquire(stop)))
    results: list[bool] = []
    third.start()
    third.join(1.0)
    assert third.is_alive()  # both places taken
    limiter.release()
    third.join(10)
    assert results == [True]
    stop.set()
    assert limiter.acquire(stop) is False  # still full, and stopped


def test_slow_down_pauses_everyone_until_a_burst_has_refilled():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=10, clock=clock)
    limiter.slow_down()
    first = clock.now + limiter.reserve()
    assert first >= clock.now + 10  # a whole burst refills in 10 s at 1/s


def test_acquire_gives_up_when_stopped():
    limiter = RateLimiter(per_minute=1, burst=1)
    assert limiter.acquire() is True
    stop = threading.Event()
    stop.set()
    assert limiter.acquire(stop) is False


def test_concurrent_reservations_never_share_a_slot():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock)
    waits: list[float] = []

    def reserve_many() -> None:
        for _ in range(200):
            waits.append(limiter.reserve())

    threads = [threading.Thread(target=reserve_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [float(n) for n in range(1600)]


def test_a_place_released_later_stays_taken_until_then():
    limiter = RateLimiter.within_quota(60000, 60, in_flight=1)
    stop = threading.Event()
    assert limiter.acquire(stop)
    limiter.release(after=0.6)
    released = time.monotonic()
    second = threading.Thread(target=lambda: results.append(limiter.acquire(stop)))
    results: list[bool] = []
    second.start()
    second.join(0.2)
    assert second.is_alive()  # the place is still held
    second.join(10)
    assert results == [True] and time.monotonic() - released >= 0.6
    limiter.release()
