"""When a station's next reading is worth looking for, learned from what it has served (pure).

A station reports on its own cadence (official stations hourly, mostly on the hour; crowd
sensors at their own minute), and each reading appears in the API some time after it was
observed (its publication lag: minutes to about two hours, a little different every hour).
So the next reading should appear near

    last observation + period + lag

and looking much earlier wastes a request, much later wastes freshness. Both are learned
per station from every look at it, a feed or a map answer: the period from successive
observation times, the lag from when each new reading was first seen, bounded below by the
last look that did not have it yet. Past the expected moment, looks back off (2, 4, 8 ...
minutes, up to half an hour; hourly for a station many periods late), so a stale station
costs little and a late one is still caught soon. A reading found at the very first look
moves the next first look a little earlier, so an estimate that is too late corrects itself.

All times are the API's, in epoch seconds (observed_at, map station.time, and "now" from
the API's clock), never the producer's own clock.
"""

from __future__ import annotations

from collections import deque
from statistics import median

DEFAULT_PERIOD = 900.0  # until a second reading shows the real one: look early, learn fast
MIN_PERIOD = 60.0
MAX_PERIOD = 86400.0
# Looks after the expected moment came up empty: every FIRST_RECHECK while within the lag's
# usual variation, then twice as far apart each time up to MAX_RECHECK, and STALE_RECHECK
# for a station STALE_PERIODS periods late or more.
FIRST_RECHECK = 120.0
MAX_RECHECK = 1800.0
STALE_RECHECK = 3600.0
STALE_PERIODS = 6
# A reading found at the first look only says it appeared "by then", so the next first look
# comes a step earlier, the step doubling while first looks keep finding readings: a late
# estimate moves back until a look comes too early, and the looks that follow then pin the
# appearance down to within FIRST_RECHECK.
FIRST_STEP = 15.0
MAX_STEP = 480.0
# The first look comes this long after the lag says: twice the lag's usual variation,
# within these bounds.
MIN_MARGIN = 60.0
MAX_MARGIN = 300.0
HISTORY = 5  # periods and lags remembered: a few hours, so a change is followed soon


class Cadence:
    """One station's rhythm as far as seen: its period, its publication lag, its last look."""

    __slots__ = ("last_observed", "last_look", "misses", "_step", "_earlier", "_periods", "_lags")

    def __init__(self) -> None:
        self.last_observed: int | None = None  # epoch of the newest reading seen
        self.last_look: float | None = None  # API time of the last look at the station
        self.misses = 0  # looks since the expected moment that found nothing new
        self._step = FIRST_STEP
        self._earlier = 0.0  # how much earlier than the lag says the next first look comes
        self._periods: deque[float] = deque(maxlen=HISTORY)
        self._lags: deque[float] = deque(maxlen=HISTORY)

    @property
    def period(self) -> float:
        if not self._periods:
            return DEFAULT_PERIOD
        return min(MAX_PERIOD, max(MIN_PERIOD, median(self._periods)))

    @property
    def lag(self) -> float:
        """Typical seconds from observation to appearance, as pinned down by looks that came
        too early (0 until one has)."""
        return median(self._lags) if self._lags else 0.0

    @property
    def spread(self) -> float:
        """How much the lag varies (median absolute deviation), to look a little later."""
        if len(self._lags) < 3:
            return 0.0
        typical = median(self._lags)
        return median(abs(lag - typical) for lag in self._lags)

    def expected(self) -> float | None:
        """API time the next reading should have appeared by; None before any reading."""
        if self.last_observed is None:
            return None
        return self.last_observed + self.period + self.lag + self._margin()

    def _margin(self) -> float:
        return min(MAX_MARGIN, max(MIN_MARGIN, 2 * self.spread))

    def looked(self, observed: int | None, at: float) -> bool:
        """A look at API time `at` showed the reading observed at `observed` (None: none
        usable). True when it is newer than any seen before."""
        previous_look, self.last_look = self.last_look, at
        if observed is None or (self.last_observed is not None and observed <= self.last_observed):
            expected = self.expected()
            if expected is None or at >= expected - self._earlier:
                self.misses += 1
            return False
        if self.last_observed is not None:
            self._periods.append(float(observed - self.last_observed))
            if self.misses:
                # Not there at the previous look, there now: it appeared in between.
                lowest = max(0.0, (previous_look or at) - observed)
                self._lags.append((lowest + max(lowest, at - observed)) / 2)
                self._earlier, self._step = 0.0, FIRST_STEP
            else:
                self._earlier += self._step
                self._step = min(MAX_STEP, 2 * self._step)
        self.last_observed = observed
        self.misses = 0
        return True

    def next_look(self, now: float) -> float:
        """API time at which looking again is worth a request (now, for a station never seen)."""
        if self.last_look is None:
            return now
        expected = self.expected()
        if expected is None:
            return self.last_look + min(MAX_RECHECK, FIRST_RECHECK * 2**self.misses)
        first_look = max(float(self.last_observed), expected - self._earlier)
        if self.last_look < first_look:
            return first_look
        if expected + STALE_PERIODS * self.period <= self.last_look:
            return self.last_look + STALE_RECHECK
        if self.last_look < expected + 2 * self._margin():
            # Within the lag's usual variation: keep looking at a steady pace.
            return self.last_look + FIRST_RECHECK
        return self.last_look + min(MAX_RECHECK, FIRST_RECHECK * 2 ** max(0, self.misses - 1))
