"""A reading's place in its station's own day: the wall clock, the local date, the day's length.

A station's day is its local calendar day, with the offset WAQI gives each reading
(`observed_local`), so daylight saving is included: the window of a day runs on the
station's wall clock (the true instant plus the reading's offset, written as if it were
UTC), where every day is 24 hours from midnight to midnight; in true time the day that
springs forward lasts 23 hours and the day that falls back 25.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MINUTE_MS = 60_000


def utc_ms(observed_at: str) -> int:
    """Milliseconds since the epoch of a record's `observed_at` ('2026-11-24T01:00:00Z')."""
    return int(datetime.fromisoformat(observed_at).timestamp()) * 1000


def offset_minutes(observed_local: str) -> int:
    """The UTC offset of a record's `observed_local` ('...+01:00' -> 60, '...-03:30' -> -210)."""
    sign = -1 if observed_local[-6] == "-" else 1
    return sign * (int(observed_local[-5:-3]) * 60 + int(observed_local[-2:]))


def wall_clock_ms(instant_ms: int, offset: int) -> int:
    """The station's wall-clock time, as milliseconds of a clock that ignores offsets."""
    return instant_ms + offset * MINUTE_MS


def day_start_ms(wall_ms: int) -> int:
    """The wall-clock midnight that starts the local day of `wall_ms`."""
    return wall_ms - wall_ms % DAY_MS


def local_date(wall_ms: int) -> str:
    """'2026-11-24' for a wall-clock time."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=wall_ms)).date().isoformat()


def instant_text(instant_ms: int) -> str:
    """'2026-11-23T23:00:00Z'."""
    moment = datetime.fromtimestamp(instant_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(wall_ms: int, offset: int) -> str:
    """'2026-11-24T00:00:00+01:00': a wall-clock time with its offset."""
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=wall_ms)
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    return f"{moment:%Y-%m-%dT%H:%M:%S}{sign}{hours:02d}:{minutes:02d}"


def day_bounds(start_wall_ms: int, first_offset: int, last_offset: int) -> tuple[int, int]:
    """The true instants (ms) a local day starts and ends: its midnights at the offsets of
    its first and last readings (which differ on the days daylight saving begins or ends).
    """
    start = start_wall_ms - first_offset * MINUTE_MS
    end = start_wall_ms + DAY_MS - last_offset * MINUTE_MS
    return start, end
