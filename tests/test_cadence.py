"""aqistream/source/cadence.py: a station looked at only when its next reading is due.

Each test plays a station (readings observed every `period`, each appearing after a lag)
against a looker that asks exactly when Cadence says, and counts looks and delays.
"""

from __future__ import annotations

import random
from statistics import median

from aqistream.source.cadence import STALE_RECHECK, Cadence

T0 = 1_795_000_000 - 1_795_000_000 % 3600  # on the hour


class Station:
    """Readings observed every `period` from T0 + `offset`, each appearing after lag(k)."""

    def __init__(self, period=3600, offset=0, lag=lambda k: 900, stops_at=None):
        self.period, self.offset, self.lag, self.stops_at = period, offset, lag, stops_at

    def observed(self, k: int) -> int:
        return T0 + self.offset + k * self.period

    def appeared(self, k: int) -> float:
        return self.observed(k) + self.lag(k)

    def shown_at(self, now: float) -> int | None:
        """The newest reading that has appeared by `now`."""
        k = int((now - T0 - self.offset) // self.period) + 1
        while k >= 0 and (
            self.appeared(k) > now or (self.stops_at is not None and k > self.stops_at)
        ):
            k -= 1
        return self.observed(k) if k >= 0 else None


def follow(station: Station, hours: float, settle_hours: float = 8, start: float = T0 + 1800):
    """Look whenever Cadence says, for `hours`. Returns the cadence, and the looks per
    reading and the delays (seconds from appearance to the look that found it) once
    `settle_hours` have passed."""
    cadence = Cadence()
    now, looks, delays = start, 0, []
    settled = start + settle_hours * 3600
    while now < start + hours * 3600:
        observed = station.shown_at(now)
        new = cadence.looked(observed, now)
        if now >= settled:
            looks += 1
            if new:
                k = (observed - T0 - station.offset) // station.period
                delays.append(now - station.appeared(k))
        now = max(now + 1, cadence.next_look(now))
    return cadence, looks / max(1, len(delays)), sorted(delays)


def test_a_station_never_seen_is_looked_at_now():
    assert Cadence().next_look(12345.0) == 12345.0
    assert Cadence().expected() is None


def test_an_hourly_station_is_learned_and_then_costs_little_more_than_a_look_a_reading():
    cadence, looks, delays = follow(Station(lag=lambda k: 900), hours=48)
    assert cadence.period == 3600
    assert 850 <= cadence.lag <= 950
    assert len(delays) == 40  # every reading is found
    assert median(delays) <= 120 and max(delays) <= 180
    assert looks <= 1.35


def test_a_lag_that_varies_from_hour_to_hour_is_still_caught_within_minutes():
    rng = random.Random(4)
    lags = [2700 + rng.uniform(-240, 240) for _ in range(100)]
    _, looks, delays = follow(Station(lag=lambda k: lags[k]), hours=72)
    assert len(delays) >= 63
    assert median(delays) <= 300 and max(delays) <= 900, delays
    assert looks <= 1.55


def test_a_lag_longer_than_the_period_is_learned_too():
    cadence, looks, delays = follow(Station(lag=lambda k: 6300), hours=48)
    assert 6200 <= cadence.lag <= 6400
    assert median(delays) <= 120
    assert looks <= 1.35


def test_a_crowd_sensor_with_its_own_minute_and_period_is_learned():
    cadence, looks, delays = follow(Station(period=1200, offset=437, lag=lambda k: 95), hours=24)
    assert cadence.period == 1200
    assert len(delays) >= 48  # three an hour over 16 hours: none missed by looking hourly
    assert median(delays) <= 120
    assert looks <= 1.35


def test_a_change_of_lag_is_followed_within_a_few_readings():
    station = Station(lag=lambda k: 600 if k < 12 else 4200)
    cadence, _, delays = follow(station, hours=30, settle_hours=20)
    assert delays and max(delays) <= 300, delays
    assert 4000 <= cadence.lag <= 4400


def test_a_station_that_stops_reporting_is_looked_at_hourly_at_most():
    cadence, looks, delays = follow(Station(lag=lambda k: 600, stops_at=3), hours=48)
    assert delays == []  # nothing after the first hours
    assert looks <= 45  # 40 hours settled (no reading: looks is their count): hourly
    assert cadence.next_look(cadence.last_look) - cadence.last_look == STALE_RECHECK


def test_a_look_that_shows_an_older_reading_is_no_news():
    cadence = Cadence()
    assert cadence.looked(T0, T0 + 600)
    assert not cadence.looked(T0, T0 + 700)
    assert not cadence.looked(T0 - 3600, T0 + 800)  # a feed behind the map
    assert not cadence.looked(None, T0 + 900)  # no usable time
    assert cadence.last_observed == T0
