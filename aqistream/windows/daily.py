"""What a station's day window holds, and the daily record it becomes when it closes.

The window sees each reading (aqistream/windows/reading.py) and keeps a small JSON-able
summary of the day (`add`); when the day closes, `daily_record` turns it into
the `<topic>.daily` value. PM2.5 and PM10 are kept as hourly mean *concentrations*
(WAQI's sub-indices converted back through the EPA table), because EPA's daily AQI is the
AQI of the 24-hour mean concentration, not the mean of hourly AQIs. Hours are clock hours
of true time, so the hour that repeats when daylight saving ends counts twice, as it lasts.
"""

from __future__ import annotations

from typing import Any

from aqistream.windows import epa
from aqistream.windows.localday import (
    HOUR_MS,
    day_bounds,
    instant_text,
    local_date,
    local_text,
)
from aqistream.windows.reading import Reading

DAILY_POLLUTANTS = ("pm25", "pm10")
# EPA: a 24-hour average needs at least 75% of the day's hours (18 of 24).
COMPLETE_SHARE = 0.75

Day = dict[str, Any]  # the window's summary; see new_day()


def new_day() -> Day:
    return {
        "readings": 0,
        "name": None,
        # [first instant, its offset, last instant, its offset]
        "span": None,
        "aqi": None,  # [sum, count, min, max]
        "iaqi": {},  # key -> [sum, count, max]
        "hourly": {pollutant: {} for pollutant in DAILY_POLLUTANTS},  # "hour" -> [sum, n]
    }


def add(day: Day, reading: Reading) -> Day:
    """The summary with one more reading (in place; returned for the window's convenience)."""
    utc, offset = reading["utc"], reading["offset"]
    day["readings"] += 1
    span = day["span"]
    if span is None:
        day["span"] = [utc, offset, utc, offset]
        day["name"] = reading["name"]
    else:
        if utc < span[0]:
            span[0], span[1] = utc, offset
        if utc >= span[2]:
            span[2], span[3] = utc, offset
            day["name"] = reading["name"]  # the newest name, should WAQI rename a station
    aqi = reading["aqi"]
    if aqi is not None:
        stats = day["aqi"]
        if stats is None:
            day["aqi"] = [aqi, 1, aqi, aqi]
        else:
            stats[0] += aqi
            stats[1] += 1
            stats[2] = min(stats[2], aqi)
            stats[3] = max(stats[3], aqi)
    sub_indices = day["iaqi"]
    hour = str(utc // HOUR_MS)
    for key, value in reading["iaqi"].items():
        stats = sub_indices.get(key)
        if stats is None:
            sub_indices[key] = [value, 1, value]
        else:
            stats[0] += value
            stats[1] += 1
            stats[2] = max(stats[2], value)
        if key in DAILY_POLLUTANTS:
            bins = day["hourly"][key]
            concentration = epa.concentration_of(key, value)
            if hour in bins:
                bins[hour][0] += concentration
                bins[hour][1] += 1
            else:
                bins[hour] = [concentration, 1]
    return day


def daily_record(idx: int, day: Day, start_wall_ms: int) -> dict:
    """The `<topic>.daily` value of a closed day (schemas/daily-v1.json)."""
    first_instant, first_offset, last_instant, last_offset = day["span"]
    start, end = day_bounds(start_wall_ms, first_offset, last_offset)
    hours = _whole((end - start) / HOUR_MS)
    aqi = day["aqi"]
    return {
        "kind": "daily",
        "schema_version": 1,
        "station": {"idx": idx, "name": day["name"]},
        "date": local_date(start_wall_ms),
        "start": instant_text(start),
        "end": instant_text(end),
        "start_local": local_text(start_wall_ms, first_offset),
        "end_local": local_text(start_wall_ms + 24 * HOUR_MS, last_offset),
        "hours": hours,
        "readings": day["readings"],
        "coverage": round(day["readings"] / hours, 3),
        "first_observed_at": instant_text(first_instant),
        "last_observed_at": instant_text(last_instant),
        "aqi": None
        if aqi is None
        else {"mean": round(aqi[0] / aqi[1], 2), "min": aqi[2], "max": aqi[3], "readings": aqi[1]},
        "iaqi": {
            key: {"mean": round(total / count, 2), "max": highest, "readings": count}
            for key, (total, count, highest) in sorted(day["iaqi"].items())
        },
        "daily_aqi": {
            pollutant: _daily_aqi(pollutant, day["hourly"][pollutant], hours)
            for pollutant in DAILY_POLLUTANTS
            if day["hourly"][pollutant]
        },
    }


def _daily_aqi(pollutant: str, bins: dict[str, list], day_hours: float) -> dict:
    """EPA's daily AQI: the mean of the hourly mean concentrations, truncated, as an AQI;
    null (with the concentration still given) when under 75% of the day's hours have data."""
    hourly = [total / count for _, (total, count) in sorted(bins.items(), key=_by_hour)]
    mean = sum(hourly) / len(hourly)
    complete = len(hourly) >= COMPLETE_SHARE * day_hours
    aqi = epa.aqi_of(pollutant, mean) if complete else None
    return {
        "concentration": epa.truncate(pollutant, mean),
        "hours": len(hourly),
        "complete": complete,
        "aqi": aqi,
        "category": epa.category(aqi),
    }


def _by_hour(item: tuple[str, list]) -> int:
    return int(item[0])


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
