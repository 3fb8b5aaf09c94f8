"""The US-EPA Air Quality Index: concentrations to AQI and back, categories, the NowCast.

Source: U.S. EPA, "Technical Assistance Document for the Reporting of Daily Air Quality -
the Air Quality Index (AQI)", EPA-454/B-18-007, September 2018: Table 5 (breakpoints),
the AQI equation and its truncation rules (section 3). The NowCast follows EPA/AirNow's
"The NowCast for PM2.5 and PM10" (weight factor min/max, at least 0.5; valid when 2 of the
3 most recent hours have data; raw hourly concentrations in, truncated result out).

WAQI reports every pollutant as its sub-index on this scale (`iaqi`), never as a
concentration, so the daily AQI and the NowCast convert each sub-index back through the
same table (`concentration_of`), average the concentrations, and convert forward (`aqi_of`).
The simulator uses `sub_index` to turn its concentrations into what WAQI would report.

Each band of Table 5 is a row (C_low, C_high, I_low, I_high); between rows EPA's table has
gaps (12.0 and 12.1 µg/m³) that truncated concentrations never fall into. Read as one
curve through every corner, the table is continuous and invertible; above the top row the
last row's slope goes on, which is how WAQI reports values above 500 (it served 844).
"""

from __future__ import annotations

import math
from functools import lru_cache

# Table 5 of EPA-454/B-18-007. Units: PM2.5 and PM10 µg/m³ (24 h), O3 ppb (8 h; the 8 h
# scale ends at 300), NO2 and SO2 ppb (1 h), CO ppm (8 h).
# fmt: off
BREAKPOINTS: dict[str, tuple[tuple[float, float, int, int], ...]] = {
    "pm25": ((0.0, 12.0, 0, 50), (12.1, 35.4, 51, 100), (35.5, 55.4, 101, 150),
             (55.5, 150.4, 151, 200), (150.5, 250.4, 201, 300), (250.5, 350.4, 301, 400),
             (350.5, 500.4, 401, 500)),
    "pm10": ((0, 54, 0, 50), (55, 154, 51, 100), (155, 254, 101, 150), (255, 354, 151, 200),
             (355, 424, 201, 300), (425, 504, 301, 400), (505, 604, 401, 500)),
    "o3": ((0, 54, 0, 50), (55, 70, 51, 100), (71, 85, 101, 150), (86, 105, 151, 200),
           (106, 200, 201, 300)),
    "no2": ((0, 53, 0, 50), (54, 100, 51, 100), (101, 360, 101, 150), (361, 649, 151, 200),
            (650, 1249, 201, 300), (1250, 1649, 301, 400), (1650, 2049, 401, 500)),
    "so2": ((0, 35, 0, 50), (36, 75, 51, 100), (76, 185, 101, 150), (186, 304, 151, 200),
            (305, 604, 201, 300), (605, 804, 301, 400), (805, 1004, 401, 500)),
    "co": ((0.0, 4.4, 0, 50), (4.5, 9.4, 51, 100), (9.5, 12.4, 101, 150),
           (12.5, 15.4, 151, 200), (15.5, 30.4, 201, 300), (30.5, 40.4, 301, 400),
           (40.5, 50.4, 401, 500)),
}
# fmt: on
POLLUTANTS = tuple(BREAKPOINTS)
# EPA truncates a concentration before the equation: PM2.5 to 0.1 µg/m³, PM10 to 1 µg/m³,
# O3 to 0.001 ppm (1 ppb), CO to 0.1 ppm, SO2 and NO2 to 1 ppb.
TRUNCATION_DECIMALS = {"pm25": 1, "pm10": 0, "o3": 0, "no2": 0, "so2": 0, "co": 1}

# (highest AQI in the band, its name); above the last: Hazardous.
CATEGORIES = (
    (50, "Good"),
    (100, "Moderate"),
    (150, "Unhealthy for Sensitive Groups"),
    (200, "Unhealthy"),
    (300, "Very Unhealthy"),
)
HAZARDOUS = "Hazardous"
CATEGORY_NAMES = tuple(name for _, name in CATEGORIES) + (HAZARDOUS,)

# The NowCast's weight factor is never below this (it then approximates a 3-hour average).
NOWCAST_MIN_WEIGHT = 0.5
NOWCAST_HOURS = 12


def _corners(pollutant: str) -> tuple[tuple[float, float], ...]:
    corners: list[tuple[float, float]] = []
    for c_low, c_high, i_low, i_high in BREAKPOINTS[pollutant]:
        corners += [(c_low, i_low), (c_high, i_high)]
    return tuple(corners)


_CURVES = {pollutant: _corners(pollutant) for pollutant in POLLUTANTS}


def sub_index(pollutant: str, concentration: float) -> float:
    """The AQI of `concentration`, not rounded: EPA's equation within a band, a straight
    line across the gap between two bands, the top band's slope above it."""
    return _along_curve(_CURVES[pollutant], concentration, axis=0)


@lru_cache(maxsize=65536)
def concentration_of(pollutant: str, index: float) -> float:
    """The concentration whose sub-index is `index`: what a WAQI `iaqi` value stands for."""
    # Cached: WAQI's sub-indices are whole numbers or tenths, so the same few recur.
    return _along_curve(_CURVES[pollutant], index, axis=1)


def truncate(pollutant: str, concentration: float) -> float:
    """EPA's truncation of an average concentration before it becomes an AQI."""
    scale = 10 ** TRUNCATION_DECIMALS[pollutant]
    # The small nudge keeps 35.4 from becoming 35.3 through binary floating point.
    return math.floor(concentration * scale + 1e-9) / scale


def aqi_of(pollutant: str, concentration: float) -> int:
    """EPA's AQI of an average concentration: truncated, through the equation, rounded to
    the nearest integer (halves up)."""
    return _aqi_of_truncated(pollutant, truncate(pollutant, concentration))


@lru_cache(maxsize=65536)
def _aqi_of_truncated(pollutant: str, concentration: float) -> int:
    return math.floor(sub_index(pollutant, concentration) + 0.5)


def category(aqi: float | None) -> str | None:
    """The EPA category name of an AQI value (None: no data)."""
    if aqi is None:
        return None
    for highest, name in CATEGORIES:
        if aqi <= highest:
            return name
    return HAZARDOUS


def nowcast(hourly: dict[int, float], current_hour: int) -> float | None:
    """EPA's NowCast concentration at `current_hour` from hourly mean concentrations
    (hour number -> µg/m³, any hours; only the 12 up to `current_hour` count).

    None when fewer than 2 of the 3 most recent hours have data. Not truncated: aqi_of()
    truncates it.
    """
    # Most recent first, so that the sums are always added up in the same order.
    recent = sorted(
        (current_hour - hour, value)
        for hour, value in hourly.items()
        if 0 <= current_hour - hour < NOWCAST_HOURS
    )
    if sum(1 for hours_ago, _ in recent if hours_ago <= 2) < 2:
        return None
    values = [value for _, value in recent]
    highest, lowest = max(values), min(values)
    weight = 1.0 if highest <= 0 else max(NOWCAST_MIN_WEIGHT, lowest / highest)
    weighted = sum(value * weight**hours_ago for hours_ago, value in recent)
    return weighted / sum(weight**hours_ago for hours_ago, _ in recent)


def _along_curve(corners: tuple[tuple[float, float], ...], value: float, axis: int) -> float:
    """The other coordinate of the point at `value` on `axis` (0: concentration, 1: index)."""
    value = max(0.0, value)
    low, high = corners[-2], corners[-1]
    for left, right in zip(corners, corners[1:], strict=False):
        if value <= right[axis]:
            low, high = left, right
            break
    other = 1 - axis
    slope = (high[other] - low[other]) / (high[axis] - low[axis])
    return low[other] + (value - low[axis]) * slope
