"""The US-EPA AQI scale: a pollutant concentration to its sub-index, as WAQI reports in `iaqi`.

Breakpoints are the EPA's (PM2.5 24 h in µg/m³, PM10 24 h in µg/m³, O3 8 h in ppb, NO2 1 h in
ppb, SO2 1 h in ppb, CO 8 h in ppm), read as one continuous piecewise-linear curve. Past the
top breakpoint the last segment is extended, which is how WAQI reports values above 500.
"""

from __future__ import annotations

# (concentration, index) corners of each curve, starting at (0, 0).
# fmt: off
_CURVES: dict[str, tuple[tuple[float, float], ...]] = {
    "pm25": ((0, 0), (12.0, 50), (35.4, 100), (55.4, 150), (150.4, 200), (250.4, 300),
             (350.4, 400), (500.4, 500)),
    "pm10": ((0, 0), (54, 50), (154, 100), (254, 150), (354, 200), (424, 300), (504, 400),
             (604, 500)),
    "o3": ((0, 0), (54, 50), (70, 100), (85, 150), (105, 200), (200, 300)),
    "no2": ((0, 0), (53, 50), (100, 100), (360, 150), (649, 200), (1249, 300), (2049, 500)),
    "so2": ((0, 0), (35, 50), (75, 100), (185, 150), (304, 200), (604, 300), (1004, 500)),
    "co": ((0, 0), (4.4, 50), (9.4, 100), (12.4, 150), (15.4, 200), (30.4, 300), (50.4, 500)),
}
# fmt: on

POLLUTANTS = tuple(_CURVES)


def sub_index(pollutant: str, concentration: float) -> float:
    """The AQI sub-index of `concentration` (not rounded)."""
    return _along_curve(_CURVES[pollutant], concentration, axis=0)


def concentration_for(pollutant: str, index: float) -> float:
    """The concentration whose sub-index is `index` (the inverse of sub_index)."""
    return _along_curve(_CURVES[pollutant], index, axis=1)


def _along_curve(corners: tuple[tuple[float, float], ...], value: float, axis: int) -> float:
    """The other coordinate of the point at `value` on `axis` (0: concentration, 1: index)."""
    value = max(0.0, value)
    low, high = _segment(corners, value, axis)
    other = 1 - axis
    slope = (high[other] - low[other]) / (high[axis] - low[axis])
    return low[other] + (value - low[axis]) * slope


def _segment(
    corners: tuple[tuple[float, float], ...], value: float, axis: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The corners around `value` on `axis`; the last two past the top."""
    for low, high in zip(corners, corners[1:], strict=False):
        if value <= high[axis]:
            return low, high
    return corners[-2], corners[-1]
