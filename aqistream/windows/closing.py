"""The window of a station's local day, and how it closes even when the station goes quiet.

Quix Streams closes a time window in one of two ways, and neither fits local days:

- `closing_strategy="key"`: a window closes when a newer message *of the same key* passes
  its end + grace. A station that goes quiet never has its last day closed, and an active
  station's day appears only with its next reading (quix-streams #790, ksqlDB #9688).
- `closing_strategy="partition"`: one event-time clock for the whole partition, but on the
  time axis of the windows. Local days need each station's wall clock as that axis (so a
  day is midnight to midnight, daylight saving included), and then a station east of
  another, sharing its partition, moves the clock hours ahead of the other's day and
  closes it early. (3.28.1 also drops, silently, a message that arrives for a window the
  partition has just closed, when it is less than one grace period older than the
  clock; `key` reports it as late.)

`LocalDayWindow` is Quix's own tumbling window, 24 hours on each station's wall clock,
closed per key; it adds one thing: the partition's event time in true UTC (the newest
`observed_at` of any station in the partition, kept in the window's state, so it is
changelogged and recovered with it). A day closes when that clock passes the day's end
(local midnight, in UTC) + grace. For the station whose reading moves the clock, Quix's
key strategy does it; for every other station whose day is due, the window is handed a
tick, a message of that station at the partition's time on its own wall clock, which
Quix's key strategy then closes like any newer reading would (and which later readings of
that day are late against). A reading is late when the partition's clock had passed its
day's end + grace before it arrived.

So one final result per (station, local day), when the day plus grace has passed in the
partition's event time, without waiting for that station's next reading. When a whole
partition goes quiet its clock stops: its stations' last days close with the partition's
next reading, not on the wall clock (which would make results depend on when the
aggregator happens to run, and replays disagree). Where the due days are is remembered as
one number (the earliest deadline), so a reading costs O(1) until a day is due; finding
and ticking the due stations is a pass over the partition's open windows.
"""

from __future__ import annotations

from typing import Any

from aqistream.windows import daily
from aqistream.windows.localday import DAY_MS, MINUTE_MS, day_start_ms
from aqistream.windows.quix import (
    BaseAggregator,
    FixedTimeWindowMultiAggregation,
    WindowedPartitionTransaction,
    WindowKeyResult,
    WindowOnLateCallback,
)

# A message that only carries the partition's clock to a quiet station's windows.
TICK: dict[str, Any] = {"tick": True}
# The checkpoint when no day is open: no clock reaches it.
NOTHING_DUE = 2**63 - 1
DAY_COLUMN = "day"


def is_tick(value: Any) -> bool:
    return value is TICK or (type(value) is dict and value.get("tick") is True)


class DayAggregator(BaseAggregator):
    """A day's summary (aqistream/windows/daily.py); ticks add nothing."""

    @property
    def state_suffix(self) -> str:
        return "local-day-v1"

    def initialize(self) -> daily.Day:
        return daily.new_day()

    def agg(self, old: daily.Day, new: Any, timestamp: int) -> daily.Day:
        return old if is_tick(new) else daily.add(old, new)

    def result(self, value: daily.Day) -> daily.Day:
        return value


class LocalDayWindow(FixedTimeWindowMultiAggregation):
    """Quix's tumbling window of 24 h on each station's wall clock, closed per key, and
    by the partition's UTC clock for stations that have gone quiet (see the module).

    Its messages are readings (aqistream/windows/reading.py) stamped with the station's
    wall-clock time; each closed day carries `closed_by`, the Kafka timestamp of the
    reading that closed it.
    """

    def __init__(
        self,
        grace_ms: int,
        dataframe: Any,
        on_late: WindowOnLateCallback,
        name: str = "local_day",
    ):
        aggregator = DayAggregator()
        super().__init__(
            duration_ms=DAY_MS,
            grace_ms=grace_ms,
            name=name,
            dataframe=dataframe,
            aggregators={DAY_COLUMN: aggregator},
            collectors={},
            on_late=on_late,
        )
        self._summary_key = f"{DAY_COLUMN}/{aggregator.state_suffix}"

    def process_window(
        self,
        value: Any,
        key: Any,
        timestamp_ms: int,
        headers: Any,
        transaction: WindowedPartitionTransaction,
    ) -> tuple[list[WindowKeyResult], list[WindowKeyResult]]:
        clock = transaction.get_partition_timestamp()
        start = day_start_ms(timestamp_ms)
        deadline = start + DAY_MS - value["offset"] * MINUTE_MS + self._grace_ms
        if clock >= deadline:
            self._on_expired_window(
                value=value,
                key=key,
                start=start,
                end=start + DAY_MS,
                timestamp_ms=timestamp_ms,
                late_by_ms=clock - deadline,
            )
            return [], []
        updated, expired = super().process_window(value, key, timestamp_ms, headers, transaction)
        closed = list(expired)
        clock = transaction.advance_partition_timestamp(value["utc"])
        due = transaction.get_expiry_checkpoint()
        if due is None or deadline < due:
            transaction.set_expiry_checkpoint(deadline)
            due = deadline
        if clock >= due:
            closed += self._close_due_days(clock, key, transaction)
        for _, result in closed:
            result["closed_by"] = value["published"]
        return updated, closed

    def _close_due_days(
        self, clock: int, message_key: Any, transaction: WindowedPartitionTransaction
    ) -> list[WindowKeyResult]:
        """Tick every station with a day due by `clock`; remember the next deadline."""
        closed: list[WindowKeyResult] = []
        next_due = NOTHING_DUE
        for prefix in list(transaction.iter_prefixes()):
            state = transaction.as_state(prefix=prefix)
            due_offset = None
            for window_end, offset in self._open_days(state):
                if window_end - offset * MINUTE_MS + self._grace_ms <= clock:
                    due_offset = offset
                    break
            if due_offset is not None:
                station = transaction.key_from_prefix(prefix, message_key)
                tick_time = clock + due_offset * MINUTE_MS
                _, expired = super().process_window(TICK, station, tick_time, None, transaction)
                closed += expired
            for window_end, offset in self._open_days(state):
                next_due = min(next_due, window_end - offset * MINUTE_MS + self._grace_ms)
        transaction.set_expiry_checkpoint(next_due)
        return closed

    def _open_days(self, state: Any) -> list[tuple[int, int]]:
        """(wall-clock end, offset of the newest reading) of a station's open days that hold
        readings; a day only a tick opened has nothing to close."""
        days = []
        for (_, end), value, _ in state.iter_windows():
            summary = value.get(self._summary_key) if value else None
            if summary and summary["readings"]:
                days.append((end, summary["span"][3]))
        return days
