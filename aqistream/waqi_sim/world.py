"""What every station measures over simulated time: pure and deterministic.

Given the seed, a station and a true-UTC instant, the world says which reading is the latest
one (its observation time) and what it holds. Nothing here reads a clock: `now` is passed in.

- Official stations observe on the local hour (so :00 UTC, or :30 UTC in +05:30 / +03:30
  zones); crowd sensors once an hour at their own second offset. When a reading appears
  (at once, or after a publication lag) is publication.py's business.
- Values follow a daily pattern: particles peak in the morning and evening rush, ozone in the
  afternoon, NO2 with traffic; a slowly varying day-to-day level makes some days dirtier.
  Pollutants are computed as concentrations and reported as US-EPA sub-indices, like WAQI;
  `aqi` is the rounded sub-index of the dominant pollutant.
- Hotspot stations now and then report above 500 (about 3 hours in 100).
- Stale stations freeze for days: their time is fixed at a moment 2 to 6 days before the
  current staleness period began, and jumps forward when a new period begins.
- Randomness comes from noise.py: blake2b over (seed, station, what, when), never hash().
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aqistream.waqi_sim import epa_scale
from aqistream.waqi_sim.catalogue import NO_TIME, REPORTING, STALE, Station
from aqistream.waqi_sim.localtime import (
    day_text,
    local_day_number,
    utc_offset_minutes,
)
from aqistream.waqi_sim.noise import unit
from aqistream.waqi_sim.publication import (
    Publication,
    observed_at_or_before,
    slot_at_or_before,
)

HOUR = 3600
DAY = 86400
# WAQI still serves this single uvi forecast day in 2023 responses (here.json, Beijing).
STALE_UVI_DAY = "2022-10-24"
_GAS_DECIMALS = {"o3", "no2", "so2", "co"}


@dataclass(frozen=True, slots=True)
class Reading:
    """One station's latest reading as of some instant."""

    observed_at: int | None  # true UTC epoch seconds; None when WAQI sends time {tz, v: 0}
    utc_offset_minutes: int  # the station's offset at observed_at (at `now` when None)
    iaqi: tuple[tuple[str, float], ...]  # sorted by key, as WAQI sends them
    aqi: int | None  # None where WAQI says "-"
    dominant_pollutant: str  # "" when WAQI sends ""


class World:
    def __init__(self, seed: int, publication: Publication | None = None) -> None:
        self.seed = seed
        self.publication = publication if publication is not None else Publication(seed, False)
        self._staleness: dict[int, tuple[int, int, int]] = {}

    # --- when --------------------------------------------------------------------------------

    def observed_at(self, station: Station, now: float) -> int | None:
        """Observation time (true UTC) of the latest reading `station` has published by `now`."""
        if station.status == NO_TIME:
            return None
        if station.status == STALE:
            return self.frozen_at(station, now)
        return self.publication.latest_observed(station, now)

    def frozen_at(self, station: Station, now: float) -> int:
        """For stale (and time-less) stations: the last reading before they stopped."""
        _, lag, _ = self._staleness_of(station)
        return observed_at_or_before(station, self.stale_period_began(station, now) - lag)

    def stale_period_began(self, station: Station, now: float) -> int:
        """Stale stations freeze in periods; each new period shows a newer frozen reading."""
        period, _, phase = self._staleness_of(station)
        return (math.floor(now) - phase) // period * period + phase

    def stale_period(self, station: Station) -> int:
        return self._staleness_of(station)[0]

    def _staleness_of(self, station: Station) -> tuple[int, int, int]:
        """(period, how far back the frozen reading lies, phase), fixed per station."""
        cached = self._staleness.get(station.idx)
        if cached is None:
            period = DAY * (8 + int(12 * self._unit(station, "stale-period")))
            phase = int(period * self._unit(station, "stale-phase"))
            lag = 2 * DAY + int(4 * DAY * self._unit(station, "stale-lag"))
            cached = self._staleness[station.idx] = (period, lag, phase)
        return cached

    def synced_at(self, station: Station, now: float) -> int:
        """debug.sync: when the reading appeared under a publication lag; otherwise the last
        hourly sync at or before `now`, never before the reading."""
        observed = self.observed_at(station, now)
        if self.publication.lagged and station.status not in (STALE, NO_TIME):
            return self.publication.appears_at(station, observed)
        last_sync = slot_at_or_before(now, station.sync_delay)
        return last_sync if observed is None else max(last_sync, observed)

    # --- what --------------------------------------------------------------------------------

    def reading(self, station: Station, now: float) -> Reading:
        """The latest reading of `station` as of `now`."""
        observed = self.observed_at(station, now)
        # Time-less stations still show values; they change with each hourly sync.
        moment = observed if observed is not None else self.synced_at(station, now)
        return self.reading_at(station, moment, observed)

    def reading_at(self, station: Station, moment: int, observed: int | None) -> Reading:
        offset = utc_offset_minutes(station.std_offset_minutes, station.dst_rule, moment)
        values = self._values(station, moment, offset)
        if station.status == NO_TIME:
            weather_only = tuple((k, v) for k, v in values if k in station.weather)
            return Reading(None, offset, weather_only, None, "")
        pollutants = [(value, key) for key, value in values if key in station.pollutants]
        top_value, top_key = max(pollutants, key=lambda pair: pair[0])
        if station.status == REPORTING:
            return Reading(observed, offset, values, round(top_value), top_key)
        # Stale and unrated stations keep their iaqi values but WAQI shows aqi "-",
        # sometimes with dominentpol "".
        dominant = top_key if self._unit(station, "dominant-kept") < 0.5 else ""
        return Reading(observed, offset, values, None, dominant)

    def _values(self, station: Station, moment: int, offset: int) -> tuple[tuple[str, float], ...]:
        local_hours = ((moment + offset * 60) % DAY) / HOUR
        day = local_day_number(moment, offset)
        level = self._day_level(station, day, local_hours)
        hour = moment // HOUR
        concentrations: dict[str, float] = {}
        pm25 = station.pm25_level * level * _particles_by_hour(local_hours)
        concentrations["pm25"] = pm25 * self._jitter(station, "pm25", hour)
        concentrations["pm10"] = pm25 * station.coarse_ratio * self._jitter(station, "pm10", hour)
        if station.hotspot and self._unit(station, "spike", hour) < 0.03:
            # A dust storm or crop fire: PM10 far past the top of the scale (WAQI served 844).
            target = 510 + 400 * self._unit(station, "spike-size", hour)
            concentrations["pm10"] = epa_scale.concentration_for("pm10", target)
        concentrations["o3"] = (
            station.o3_level
            * (0.6 + 0.5 * level)
            * _ozone_by_hour(local_hours)
            * self._jitter(station, "o3", hour)
        )
        traffic = _traffic_by_hour(local_hours)
        concentrations["no2"] = (
            station.no2_level * level * traffic * self._jitter(station, "no2", hour)
        )
        concentrations["so2"] = 2 + 6 * level * self._jitter(station, "so2", hour)
        concentrations["co"] = (0.2 + 0.5 * level * traffic) * self._jitter(station, "co", hour)
        values = {
            key: _reported(key, epa_scale.sub_index(key, concentrations[key]))
            for key in station.pollutants
        }
        values.update(self._weather(station, hour, local_hours, day))
        return tuple(sorted(values.items()))

    def _weather(
        self, station: Station, hour: int, local_hours: float, day: int
    ) -> dict[str, float]:
        if not station.weather:
            return {}
        lat = station.geo[0]
        season = math.cos(2 * math.pi * ((day % 365) - 196) / 365) * (1 if lat >= 0 else -1)
        daily_mean = 27 - 0.4 * abs(lat) + 0.22 * abs(lat) * season
        daily_mean += 4 * (self._unit(station, "warm-day", day) - 0.5)
        temperature = daily_mean + 4.5 * math.sin(2 * math.pi * (local_hours - 9) / 24)
        temperature += self._unit(station, "t", hour) - 0.5
        humidity = (
            72 - 2.2 * (temperature - daily_mean) + 16 * (self._unit(station, "h", hour) - 0.5)
        )
        humidity = min(100.0, max(12.0, humidity))
        pressure = 1013 + 24 * (self._unit(station, "pressure", day) - 0.5)
        pressure += 2 * (self._unit(station, "p", hour) - 0.5)
        wind = 0.2 + 7 * self._unit(station, "w", hour) ** 2
        weather = {
            "t": round(temperature, 1),
            "h": round(humidity, 1) if station.is_crowd else round(humidity),
            "p": round(pressure, 1),
            "w": round(wind, 1),
            "wg": round(wind * (1.4 + 0.8 * self._unit(station, "wg", hour)), 1),
            "dew": round(temperature - (100 - humidity) / 5),
        }
        return {key: _whole_if_integral(weather[key]) for key in station.weather}

    # --- forecast ----------------------------------------------------------------------------

    def forecast(self, station: Station, now: float) -> dict[str, list[dict]] | None:
        """forecast.daily: from two days before today, for official stations only."""
        if station.is_crowd:
            return None
        synced = self.synced_at(station, now)
        offset = utc_offset_minutes(station.std_offset_minutes, station.dst_rule, synced)
        first_day = local_day_number(synced, offset) - 2
        days = range(first_day, first_day + station.forecast_days)
        daily = {
            "o3": [self._forecast_day(station, "o3", day) for day in days[: len(days) - 1]],
            "pm10": [self._forecast_day(station, "pm10", day) for day in days],
            "pm25": [self._forecast_day(station, "pm25", day) for day in days],
        }
        if station.uvi_forecast == "current":
            daily["uvi"] = [self._uvi_day(station, day) for day in range(days[0], days[-1] + 2)]
        elif station.uvi_forecast == "stale":
            daily["uvi"] = [{"avg": 0, "day": STALE_UVI_DAY, "max": 0, "min": 0}]
        return daily

    def _forecast_day(self, station: Station, pollutant: str, day: int) -> dict:
        level = self._day_level(station, day, 12.0)
        if pollutant == "o3":
            concentration = station.o3_level * (0.6 + 0.5 * level) * 0.75
        else:
            concentration = station.pm25_level * level
            if pollutant == "pm10":
                concentration *= station.coarse_ratio
        average = round(epa_scale.sub_index(pollutant, concentration))
        low = round(average * (0.35 + 0.4 * self._unit(station, f"{pollutant}-min", day)))
        high = round(average * (1.15 + 0.6 * self._unit(station, f"{pollutant}-max", day)))
        return {"avg": average, "day": day_text(day), "max": high, "min": low}

    def _uvi_day(self, station: Station, day: int) -> dict:
        season = math.cos(2 * math.pi * ((day % 365) - 172) / 365)
        peak = max(1.0, 11 - 0.12 * abs(station.geo[0]) + 3 * season)
        high = round(peak * (0.5 + 0.5 * self._unit(station, "uvi", day)))
        return {"avg": high // 3, "day": day_text(day), "max": high, "min": 0}

    # --- deterministic noise -----------------------------------------------------------------

    def _unit(self, station: Station, what: str, when: int = 0) -> float:
        return unit(self.seed, station.idx, what, when)

    def _jitter(self, station: Station, what: str, hour: int) -> float:
        return 0.85 + 0.3 * self._unit(station, what, hour)

    def _day_level(self, station: Station, day: int, local_hours: float) -> float:
        """How dirty the air is today (0.55 to 1.45), blending into tomorrow over the day."""
        today = self._unit(station, "day", day)
        tomorrow = self._unit(station, "day", day + 1)
        return 0.55 + 0.9 * (today + (tomorrow - today) * local_hours / 24)


def _particles_by_hour(hours: float) -> float:
    """Morning and evening rush peaks, an afternoon dip (mixing layer)."""
    return (
        0.8
        + 0.45 * math.exp(-((hours - 8.5) ** 2) / 6)
        + 0.6 * math.exp(-((hours - 20.5) ** 2) / 8)
        - 0.2 * math.exp(-((hours - 15) ** 2) / 10)
    )


def _ozone_by_hour(hours: float) -> float:
    """Sunlight makes ozone: low at night, highest mid-afternoon."""
    return 0.35 + 0.9 * math.exp(-((hours - 15) ** 2) / 14)


def _traffic_by_hour(hours: float) -> float:
    return (
        0.55 + 0.7 * math.exp(-((hours - 8) ** 2) / 4) + 0.6 * math.exp(-((hours - 18.5) ** 2) / 5)
    )


def _reported(pollutant: str, index: float) -> float:
    """Particles as whole numbers, gases with one decimal (as WAQI shows them)."""
    if pollutant in _GAS_DECIMALS:
        return _whole_if_integral(round(index, 1))
    return round(index)


def _whole_if_integral(value: float) -> float:
    """5.0 -> 5, so the JSON says 5 as WAQI does."""
    return int(value) if float(value).is_integer() else value
