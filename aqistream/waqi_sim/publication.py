"""When a reading is observed and when it appears in the API: schedules and publication lag (pure).

Every station observes once an hour, `report_second` seconds after each UTC hour (on the local
hour for official stations, at its own second for crowd sensors). Without lag a reading
appears the moment it is observed. With lag (--publication-lag) it appears later, as WAQI's
do: an agency publishes its hourly values some time after the hour and WAQI picks them up
(one recorded 16:00 reading carried debug.sync 17:39, API.md section 10), while crowd
sensors upload within minutes.

- Official stations: a typical lag of 5 minutes to about 2 hours (median about 50 minutes),
  varying by up to 1 minute plus 8 % of it from hour to hour.
- Crowd sensors: 30 s to 8 minutes, varying by up to 20 s.
The variation is far below an hour, so readings always appear in the order observed.
Randomness comes from blake2b over (seed, station, what, when), as in world.py.
"""

from __future__ import annotations

import math

from aqistream.waqi_sim.catalogue import Station
from aqistream.waqi_sim.noise import unit

HOUR = 3600

OFFICIAL_MIN_LAG = 300
OFFICIAL_LAG_RANGE = 6600  # typical lags from 5 to 115 minutes
CROWD_MIN_LAG = 30
CROWD_LAG_RANGE = 450
CROWD_LAG_VARIATION = 20


def slot_at_or_before(now: float, second_in_hour: int) -> int:
    """The latest instant <= now that lies `second_in_hour` seconds after a UTC hour."""
    whole = math.floor(now)
    return whole - (whole - second_in_hour) % HOUR


def observed_at_or_before(station: Station, now: float) -> int:
    """The station's latest observation slot at or before `now` (true UTC)."""
    return slot_at_or_before(now, station.report_second)


class Publication:
    """Each station's publication lag, and so which reading is the latest one at an instant.

    `lagged=False` is the ideal API: every reading appears when it is observed.
    """

    def __init__(self, seed: int, lagged: bool) -> None:
        self.seed = seed
        self.lagged = lagged
        self._typical: dict[int, int] = {}
        # idx -> (slot, appeared at, next slot appears at): the latest reading over an interval.
        self._latest: dict[int, tuple[int, int, int]] = {}

    def typical_lag(self, station: Station) -> int:
        """Seconds from observation to publication in a typical hour (0 without lag)."""
        if not self.lagged:
            return 0
        lag = self._typical.get(station.idx)
        if lag is None:
            draw = unit(self.seed, station.idx, "lag")
            if station.is_crowd:
                lag = CROWD_MIN_LAG + round(CROWD_LAG_RANGE * draw)
            else:
                # Skewed: most agencies publish within the hour, a few take nearly two.
                lag = OFFICIAL_MIN_LAG + round(OFFICIAL_LAG_RANGE * draw**1.2)
            self._typical[station.idx] = lag
        return lag

    def lag(self, station: Station, observed_at: int) -> int:
        """Seconds from observation to publication of the reading observed at `observed_at`."""
        typical = self.typical_lag(station)
        if not typical:
            return 0
        spread = CROWD_LAG_VARIATION if station.is_crowd else 60 + typical * 0.08
        wobble = round(spread * (2 * unit(self.seed, station.idx, "lag-hour", observed_at) - 1))
        return max(10, typical + wobble)

    def appears_at(self, station: Station, observed_at: int) -> int:
        return observed_at + self.lag(station, observed_at)

    def latest_observed(self, station: Station, now: float) -> int:
        """Observation time of the newest reading that has appeared by `now`."""
        if not self.lagged:
            return observed_at_or_before(station, now)
        cached = self._latest.get(station.idx)
        if cached is not None and cached[1] <= now < cached[2]:
            return cached[0]
        slot = observed_at_or_before(station, now)
        while self.appears_at(station, slot) > now:
            slot -= HOUR
        self._latest[station.idx] = (
            slot,
            self.appears_at(station, slot),
            self.appears_at(station, slot + HOUR),
        )
        return slot
