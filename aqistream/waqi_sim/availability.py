"""The record of when every reading appeared in the API, computed from the model (pure).

The world knows, for each station and instant, which reading is the newest one (observation
time plus publication lag, presence, staleness), so the moment each reading first became
available is exact: no client has to have asked. Freshness (available -> in Kafka) and
coverage (readings published / readings made available) are measured against it.

A reading appears:
- for a reporting (or unrated) station: at its observation time plus its publication lag;
- for a station that appears (churn): its current reading, at the moment it appears;
- for a stale station: when its frozen time jumps to a newer one (a new staleness period).
Time-less stations ({tz, v: 0}) have no reading to appear. A vanished station's readings
stop appearing.

Readings come as runs, a compact form for a simulated day of 30,000 stations: one station's
consecutive hourly readings, first observation time and the lag of each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from aqistream.waqi_sim.catalogue import NO_TIME, STALE, Station
from aqistream.waqi_sim.churn import Churn
from aqistream.waqi_sim.world import World

HOUR = 3600


@dataclass
class Run:
    """Readings observed at observed_at + k * every, each appearing lags[k] seconds later."""

    idx: int
    observed_at: int
    every: int = HOUR
    lags: list[int] = field(default_factory=list)

    def readings(self) -> Iterator[tuple[int, int]]:
        """(observed_at, appeared_at) of each reading."""
        for k, lag in enumerate(self.lags):
            observed = self.observed_at + k * self.every
            yield observed, observed + lag

    def to_json(self) -> dict:
        return {
            "idx": self.idx,
            "observed_at": self.observed_at,
            "every": self.every,
            "lags": self.lags,
        }


def available_runs(
    world: World, churn: Churn, stations: Iterable[Station], begin: float, end: float
) -> list[Run]:
    """Runs of the readings of `stations` that appeared at a simulated time in [begin, end)."""
    runs: list[Run] = []
    for station in sorted(stations, key=lambda s: s.idx):
        if station.status == NO_TIME or end <= begin:
            continue
        seen: set[int] = set()  # a station that comes back shows its old reading once
        for appeared, vanished in churn.life(station.idx):
            start = begin if appeared is None else max(begin, appeared)
            stop = end if vanished is None else min(end, vanished)
            if start >= stop:
                continue
            for observed, at in _appearances(world, station, appeared, start, stop):
                if observed in seen:
                    continue
                seen.add(observed)
                _append(runs, station.idx, observed, at)
    return runs


def _appearances(
    world: World, station: Station, appeared: float | None, start: float, stop: float
) -> Iterator[tuple[int, int]]:
    """(observed_at, appeared_at) of the readings appearing in [start, stop) while the
    station is present from `appeared` (None: always)."""
    if appeared is not None and start == appeared:
        # The reading current when the station appears appears with it (in whole seconds,
        # rounded down like the served record's times).
        yield world.observed_at(station, start), math.floor(start)
    for observed, at in _scheduled(world, station, start):
        if at >= stop:
            return
        yield observed, at


def _scheduled(world: World, station: Station, start: float) -> Iterator[tuple[int, int]]:
    """The station's readings that appear at or after `start` by the model, in order."""
    if station.status == STALE:
        # A stale station shows a newer frozen reading when a new staleness period begins.
        period = world.stale_period(station)
        began = world.stale_period_began(station, start)
        if began < start:
            began += period
        while True:
            yield world.frozen_at(station, began), began
            began += period
    publication = world.publication
    observed = world.observed_at(station, start)
    if publication.appears_at(station, observed) < start:
        observed += HOUR
    while True:
        yield observed, publication.appears_at(station, observed)
        observed += HOUR


def _append(runs: list[Run], idx: int, observed: int, appeared: int) -> None:
    last = runs[-1] if runs else None
    if (
        last is not None
        and last.idx == idx
        and observed == last.observed_at + len(last.lags) * last.every
    ):
        last.lags.append(appeared - observed)
    else:
        runs.append(Run(idx, observed, HOUR, [appeared - observed]))
