"""A station's local wall-clock time: UTC offsets with daylight saving, and WAQI's time strings.

Daylight saving follows the three rules the simulated regions need (EU, North America,
south-east Australia) instead of the system's tz database, so results never depend on the
machine the simulator runs on.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from functools import lru_cache

NO_DST = "none"
EU_DST = "eu"
US_DST = "us"
AU_DST = "au"

# WAQI's servers stamp map times and debug.sync in Japan time.
SERVER_OFFSET_MINUTES = 9 * 60


def _sunday(year: int, month: int, nth: int) -> int:
    """Day of the month of the nth Sunday (nth=-1: the last one)."""
    weeks = calendar.monthcalendar(year, month)
    sundays = [week[calendar.SUNDAY] for week in weeks if week[calendar.SUNDAY]]
    return sundays[nth] if nth < 0 else sundays[nth - 1]


def _utc(year: int, month: int, day: int, hour: int) -> int:
    return calendar.timegm((year, month, day, hour, 0, 0))


@lru_cache(maxsize=1024)
def _daylight_window(rule: str, std_offset_minutes: int, year: int) -> tuple[int, int]:
    """True-UTC epochs at which daylight time starts and ends in `year`."""
    std = std_offset_minutes * 60
    if rule == EU_DST:  # 01:00 UTC on the last Sundays of March and October
        return _utc(year, 3, _sunday(year, 3, -1), 1), _utc(year, 10, _sunday(year, 10, -1), 1)
    if rule == US_DST:  # 02:00 local standard time; ends at 02:00 daylight = 01:00 standard
        start = _utc(year, 3, _sunday(year, 3, 2), 2) - std
        return start, _utc(year, 11, _sunday(year, 11, 1), 1) - std
    if rule == AU_DST:  # southern hemisphere: starts in October, ends the next April
        start = _utc(year, 10, _sunday(year, 10, 1), 2) - std
        return start, _utc(year, 4, _sunday(year, 4, 1), 2) - std
    raise ValueError(f"unknown daylight-saving rule {rule!r}")


def utc_offset_minutes(std_offset_minutes: int, rule: str, epoch: float) -> int:
    """The offset from UTC in force at the true instant `epoch`."""
    if rule == NO_DST:
        return std_offset_minutes
    start, end = _daylight_window(rule, std_offset_minutes, time.gmtime(epoch).tm_year)
    in_daylight = (epoch >= start or epoch < end) if start > end else start <= epoch < end
    return std_offset_minutes + 60 if in_daylight else std_offset_minutes


def offset_text(offset_minutes: int) -> str:
    """'+02:00', '-10:00', '+05:30' (WAQI's `tz` field)."""
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def local_text(epoch: int, offset_minutes: int) -> str:
    """'2023-08-07 17:00:00' (WAQI's `time.s`)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch + offset_minutes * 60))


def local_iso(epoch: int, offset_minutes: int) -> str:
    """'2023-08-07T17:00:00+02:00': the local time with its offset."""
    wall = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch + offset_minutes * 60))
    return wall + offset_text(offset_minutes)


def utc_iso(epoch: float) -> str:
    """'2023-09-29T14:44:13Z'."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def server_iso(epoch: int) -> str:
    """The instant written in the server's +09:00, as in map times and debug.sync."""
    return local_iso(epoch, SERVER_OFFSET_MINUTES)


def local_day_number(epoch: float, offset_minutes: int) -> int:
    """Days since 1970-01-01 in local time."""
    return int((epoch + offset_minutes * 60) // 86400)


def day_text(day_number: int) -> str:
    """'2023-08-07' for a day number from local_day_number."""
    return time.strftime("%Y-%m-%d", time.gmtime(day_number * 86400))


def parse_instant(text: str) -> float:
    """Epoch seconds of an ISO 8601 time ('2026-11-23T13:20:00Z'); no offset means UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
