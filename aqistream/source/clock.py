"""What time it is for the API: the clock that cadences, lags and freshness are measured on.

Observation times (observed_at, map station.time) are the API's. Comparing them with this
machine's clock would be wrong twice over: a machine's clock can be off by minutes, and a
simulator's clock can run fast (the benchmarks run a simulated hour in seconds). So "now"
is what the API's own answers say: the HTTP Date header of the latest answer (nginx sets it
on every answer from WAQI, the simulator to its simulated time), moved on since by this
machine's monotonic clock times `scale` (how many API seconds pass per real second: 1 for
the real API; the simulator's speed when it runs fast). Before any answer, or from an API
that sends no Date, it is this machine's clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

# The Date header counts whole seconds; an answer within this much (plus the time the
# request took, scaled) of what the clock says does not move it, so it does not jitter.
TOLERANCE = 1.5


class ApiClock:
    def __init__(
        self,
        scale: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if scale <= 0:
            raise ValueError("the API clock's scale must be positive")
        self.scale = scale
        self._monotonic = monotonic
        self._wall = wall
        self._anchor: tuple[float, float] | None = None  # (API epoch, monotonic) at one answer
        self._last_header: tuple[str, float] | None = None  # (Date text, its epoch)
        self._lock = threading.Lock()

    def now(self) -> float:
        """API time now, in epoch seconds."""
        anchor = self._anchor
        if anchor is None:
            return self._wall()
        api, local = anchor
        return api + (self._monotonic() - local) * self.scale

    def real_seconds(self, api_seconds: float) -> float:
        """How long `api_seconds` of API time last on this machine's clock."""
        return api_seconds / self.scale

    def heard(self, date: str | None, sent: float, received: float) -> None:
        """An answer to a request sent at monotonic `sent`, received at `received`, carried
        this Date header (None: it had none)."""
        epoch = self._parse(date)
        if epoch is None:
            return
        # The server stamped the answer somewhere between sending and receiving, at a whole
        # second: take the middle of both.
        local = (sent + received) / 2
        stamped = epoch + 0.5
        with self._lock:
            if self._anchor is not None:
                api, anchor_local = self._anchor
                predicted = api + (local - anchor_local) * self.scale
                allowed = TOLERANCE + (received - sent) * self.scale
                if abs(stamped - predicted) <= allowed:
                    return
            self._anchor = (stamped, local)

    def _parse(self, date: str | None) -> float | None:
        if not date:
            return None
        last = self._last_header
        if last is not None and last[0] == date:
            return last[1]
        try:
            moment = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        epoch = moment.timestamp()
        self._last_header = (date, epoch)
        return epoch
