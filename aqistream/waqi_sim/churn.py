"""Stations appearing and vanishing during a run (--churn), and the admin's overrides.

WAQI's network changes: new stations come online and others are withdrawn (a 2021 crawl found
idx up to 13,326; a 2023 capture up to 14,877). The plan is pure and fixed by the seed, the
start and the window: a share of the generated stations vanishes at moments spread over the
window, and as many new stations (generated after the last one, so with higher idx) appear in
it. A station's life is a list of (appeared, vanished) intervals, None meaning unbounded; the
admin endpoint can end or begin one now. Stations without a plan are always present.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from aqistream.waqi_sim.catalogue import Station
from aqistream.waqi_sim.noise import unit

Interval = tuple[float | None, float | None]  # [appeared, vanished); None: unbounded
ALWAYS: tuple[Interval, ...] = ((None, None),)


def newcomer_count(generated: int, share: float) -> int:
    """How many stations vanish, and how many new ones appear, for `generated` stations."""
    return round(generated * share)


def plan_churn(
    seed: int,
    incumbents: Sequence[Station],
    newcomers: Sequence[Station],
    start: float,
    window_seconds: float,
) -> dict[int, tuple[Interval, ...]]:
    """Lives of the churning stations: len(newcomers) incumbents vanish, the newcomers appear."""
    leaving = sorted(incumbents, key=lambda station: unit(seed, station.idx, "vanish"))
    lives: dict[int, tuple[Interval, ...]] = {}
    for station in leaving[: len(newcomers)]:
        moment = start + round(window_seconds * unit(seed, station.idx, "vanish-at"))
        lives[station.idx] = ((None, moment),)
    for station in newcomers:
        moment = start + round(window_seconds * unit(seed, station.idx, "appear-at"))
        lives[station.idx] = ((moment, None),)
    return lives


def present_in(life: Iterable[Interval], now: float) -> bool:
    return any(
        (began is None or began <= now) and (ended is None or now < ended) for began, ended in life
    )


class Churn:
    """Who is present when: the plan, then whatever the admin endpoint changed."""

    def __init__(self, lives: dict[int, tuple[Interval, ...]] | None = None) -> None:
        self._lives = dict(lives or {})
        self._lock = threading.Lock()

    def life(self, idx: int) -> tuple[Interval, ...]:
        return self._lives.get(idx, ALWAYS)

    def present(self, station: Station, now: float) -> bool:
        life = self._lives.get(station.idx)
        return life is None or present_in(life, now)

    def vanish(self, idx: int, now: float) -> None:
        """Absent from `now` on: a planned appearance is cancelled."""
        with self._lock:
            kept = tuple(
                (began, now if ended is None or ended > now else ended)
                for began, ended in self.life(idx)
                if began is None or began <= now
            )
            self._lives[idx] = kept or ((now, now),)  # never present

    def appear(self, idx: int, now: float) -> None:
        """Present from `now` on (or still, if it is): a planned vanishing is cancelled."""
        with self._lock:
            life = self.life(idx)
            past = [(b, e) for b, e in life if e is not None and e <= now]
            current = [b for b, e in life if (b is None or b <= now) and (e is None or now < e)]
            self._lives[idx] = (*past, (current[0] if current else now, None))
