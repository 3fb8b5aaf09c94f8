"""A reading's place in its station's own day."""

from __future__ import annotations

from aqistream.windows.localday import (
    HOUR_MS,
    day_bounds,
    day_start_ms,
    instant_text,
    local_date,
    local_text,
    offset_minutes,
    utc_ms,
    wall_clock_ms,
)


def test_offsets_of_observed_local():
    assert offset_minutes("2026-11-24T02:00:00+01:00") == 60
    assert offset_minutes("2026-11-24T02:00:00-03:30") == -210
    assert offset_minutes("2026-11-24T02:00:00+05:45") == 345
    assert offset_minutes("2026-11-24T02:00:00+00:00") == 0


def test_the_wall_clock_puts_a_reading_in_its_local_day():
    # 23:30 UTC on the 23rd is already the 24th in Zürich, still the 23rd in New York.
    instant = utc_ms("2026-11-23T23:30:00Z")
    assert local_date(wall_clock_ms(instant, 60)) == "2026-11-24"
    assert local_date(wall_clock_ms(instant, -300)) == "2026-11-23"
    start = day_start_ms(wall_clock_ms(instant, 60))
    assert local_text(start, 60) == "2026-11-24T00:00:00+01:00"
    assert local_text(start + 90 * 60_000, -210) == "2026-11-24T01:30:00-03:30"


def test_day_bounds_follow_the_offsets_of_the_first_and_last_readings():
    start = day_start_ms(wall_clock_ms(utc_ms("2026-03-29T00:00:00Z"), 60))
    begin, end = day_bounds(start, 60, 120)
    assert (instant_text(begin), instant_text(end)) == (
        "2026-03-28T23:00:00Z",
        "2026-03-29T22:00:00Z",
    )
    assert (end - begin) == 23 * HOUR_MS
