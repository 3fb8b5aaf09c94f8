"""aqistream/source/ratelimit.py: never more than the quota, nor more than the burst at once."""

from __future__ import annotations

import threading

from aqistream.source.ratelimit import RateLimiter


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
    limiter = RateLimiter.within_quota(per_minute=6000, burst=60)
    assert 60 / limiter.interval < 6000
    assert limiter.tolerance / limiter.interval + 1 < 60


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
