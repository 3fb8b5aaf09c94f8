"""A station's last 12 hours, its NowCast on every reading, and the alert when its category moves.

The history is a small JSON-able dict kept per station (in the application's state):
hourly mean PM2.5 and PM10 concentrations of its last 36 clock hours, and the NowCast
category last announced. `observe` adds a reading and gives the `<topic>.nowcast` value,
and the `<topic>.alerts` value when the category is not the one announced before.
"""

from __future__ import annotations

from typing import Any

from aqistream.windows import epa
from aqistream.windows.localday import HOUR_MS
from aqistream.windows.reading import Reading

NOWCAST_POLLUTANTS = ("pm25", "pm10")
# Hours kept before the station's newest: the NowCast needs 12, and a reading that arrives
# late (after newer ones) still finds the 12 hours before it.
KEPT_HOURS = 36

History = dict[str, Any]  # {"hourly": {pollutant: {"hour": [sum, n]}}, "category": str|None}


def new_history() -> History:
    return {"hourly": {pollutant: {} for pollutant in NOWCAST_POLLUTANTS}, "category": None}


def observe(history: History, reading: Reading) -> tuple[History, dict, dict | None]:
    """Add a reading to the history; the NowCast record, and an alert record or None.

    The history is changed in place and returned. Hours more than KEPT_HOURS before the
    newest reading are forgotten.
    """
    hour = reading["utc"] // HOUR_MS
    this_hour = str(hour)
    iaqi = reading["iaqi"]
    figures: dict[str, dict | None] = {}
    for pollutant in NOWCAST_POLLUTANTS:
        bins = history["hourly"][pollutant]
        value = iaqi.get(pollutant)
        if value is not None:
            concentration = epa.concentration_of(pollutant, value)
            known = bins.get(this_hour)
            if known is None:
                bins[this_hour] = [concentration, 1]
                # Only a new hour can move the newest one, and so the oldest kept.
                oldest_kept = max(map(int, bins)) - KEPT_HOURS + 1
                for old in [key for key in bins if int(key) < oldest_kept]:
                    del bins[old]
            else:
                known[0] += concentration
                known[1] += 1
        figures[pollutant] = _figure(pollutant, bins, hour)
    present = [(figure["aqi"], pollutant) for pollutant, figure in figures.items() if figure]
    aqi, dominant = max(present) if present else (None, None)
    category = epa.category(aqi)
    station = {"idx": reading["idx"], "name": reading["name"]}
    nowcast = {
        "kind": "nowcast",
        "schema_version": 1,
        "station": station,
        "observed_at": reading["observed_at"],
        "observed_local": reading["observed_local"],
        **figures,
        "aqi": aqi,
        "category": category,
        "dominant": dominant,
    }
    alert = None
    if category is not None and category != history["category"]:
        alert = {
            "kind": "alert",
            "schema_version": 1,
            "station": station,
            "observed_at": reading["observed_at"],
            "observed_local": reading["observed_local"],
            "previous": history["category"],
            "category": category,
            "aqi": aqi,
            "dominant": dominant,
        }
        history["category"] = category
    return history, nowcast, alert


def _figure(pollutant: str, bins: dict[str, list], hour: int) -> dict | None:
    hourly = {}
    for past in range(hour - epa.NOWCAST_HOURS + 1, hour + 1):  # the only hours that count
        known = bins.get(str(past))
        if known is not None:
            hourly[past] = known[0] / known[1]
    concentration = epa.nowcast(hourly, hour)
    if concentration is None:
        return None
    aqi = epa.aqi_of(pollutant, concentration)
    return {
        "concentration": epa.truncate(pollutant, concentration),
        "aqi": aqi,
        "category": epa.category(aqi),
        "hours": sum(1 for key in hourly if 0 <= hour - key < epa.NOWCAST_HOURS),
    }
