"""Which stations a crowded map/bounds answer keeps, and about how many (pure).

WAQI does not document it, but large boxes come back thinned: a whole-world request listed
1,231 stations in 2022 and 1,259 in 2023, while 4-degree tiles found 9,558 (API.md section
10). So a box holding more stations than the cap lists only about the cap: the number
varies by up to 2 % (at least 1) with the box and the simulated hour, so no client can learn
one number, and the stations listed are those of highest priority. A station's priority is
fixed, so what survives is stable, and a station kept in a box is kept in every smaller box
that holds it. It is a weighted draw (priority u ** (1 / weight)): official stations weigh 2.5
times what crowd ones do, and stations without a current aqi a quarter of what reporting
ones do, which gives whole-world answers of about a fifth crowd stations and a few "-", as
real ones have (287 crowd and 30 "-" of 1,231 in 2022; 343 crowd of 1,259 in 2023).
"""

from __future__ import annotations

import threading

from aqistream.waqi_sim.catalogue import REPORTING, Station
from aqistream.waqi_sim.noise import unit

HOUR = 3600
DEFAULT_MAP_CAP = 1250  # real whole-world answers listed 1,231 (2022) and 1,259 (2023)
VARIATION = 0.02
OFFICIAL_WEIGHT = 2.5
CROWD_WEIGHT = 1.0
NOT_REPORTING_WEIGHT = 0.25  # stale, unrated and time-less stations: aqi "-" on the map


def map_priority(seed: int, station: Station) -> float:
    """In (0, 1): the higher, the longer a station survives thinning."""
    weight = CROWD_WEIGHT if station.is_crowd else OFFICIAL_WEIGHT
    if station.status != REPORTING:
        weight *= NOT_REPORTING_WEIGHT
    return (1.0 - unit(seed, station.idx, "map-priority")) ** (1.0 / weight)


def cap_for(seed: int, cap: int, box: tuple[float, float, float, float], now: float) -> int:
    """How many stations this box lists at simulated time `now` (when it holds more)."""
    spread = max(1, round(cap * VARIATION))
    draw = unit(seed, 0, "map-cap", f"{box!r}:{int(now // HOUR)}")
    return max(1, cap - spread + int(draw * (2 * spread + 1)))


class MapCap:
    """The cap of map answers; the admin endpoint can change it (0: no thinning)."""

    def __init__(self, seed: int, cap: int) -> None:
        self.seed = seed
        self._cap = cap
        self._lock = threading.Lock()

    @property
    def cap(self) -> int:
        return self._cap

    def set(self, cap: int) -> None:
        if cap < 0:
            raise ValueError("the map cap must be >= 0")
        with self._lock:
            self._cap = cap

    def limit(self, box: tuple[float, float, float, float], now: float) -> int | None:
        """The most stations an answer for `box` lists; None: all of them."""
        cap = self._cap
        return None if cap == 0 else cap_for(self.seed, cap, box, now)

    def to_json(self) -> dict:
        return {"cap": self._cap, "variation": VARIATION, "thinning": self._cap > 0}
