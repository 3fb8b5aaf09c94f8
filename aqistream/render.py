"""How the consumer shows records: one aligned line per reading, and which records to show.

Columns: local observation time, station name, aqi and its US-EPA category (coloured on
a terminal), dominant pollutant, and the PM2.5 and PM10 sub-indices. Names are padded or
cut by their width on screen (so "北京" counts as four columns), and control characters
in WAQI's text are never sent to the terminal.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any, NamedTuple

from aqistream.windows import epa

RESET = "\x1b[0m"
BOLD = "\x1b[1m"


class AqiCategory(NamedTuple):
    """A band of the US-EPA scale WAQI uses, with the ANSI colour that shows it."""

    label: str
    colour: str


# The bands and their names are EPA's (aqistream/windows/epa.py); the colours are EPA's too.
_COLOURS = {
    "Good": "\x1b[38;5;40m",  # green
    "Moderate": "\x1b[38;5;226m",  # yellow
    "Unhealthy for Sensitive Groups": "\x1b[38;5;208m",  # orange
    "Unhealthy": "\x1b[38;5;196m",  # red
    "Very Unhealthy": "\x1b[38;5;129m",  # purple
    "Hazardous": "\x1b[1;38;5;88m",  # maroon, bold to stay readable
}
_CATEGORIES = {name: AqiCategory(name, _COLOURS[name]) for name in epa.CATEGORY_NAMES}
HAZARDOUS = _CATEGORIES[epa.HAZARDOUS]
NO_DATA = AqiCategory("no data", "\x1b[2m")  # dim

# Short names for the pollutant keys WAQI uses; anything else is shown as sent.
_POLLUTANT_NAMES = {
    "pm25": "PM2.5",
    "pm10": "PM10",
    "o3": "O3",
    "no2": "NO2",
    "so2": "SO2",
    "co": "CO",
}

_TIME_WIDTH = len("2026-11-23 14:00 +01:00")
_NAME_WIDTH = 30
_AQI_WIDTH = 4
_CATEGORY_WIDTH = max(len(name) for name in epa.CATEGORY_NAMES)
_POLLUTANT_WIDTH = 8
_VALUE_WIDTH = 5


def aqi_category(aqi: int | None) -> AqiCategory:
    """The category of an aqi value: 0-50 Good ... 301 and above Hazardous; None is no data."""
    return named_category(epa.category(aqi))


def named_category(name: str | None) -> AqiCategory:
    """The category of an EPA category name; None is no data."""
    return NO_DATA if name is None else _CATEGORIES[name]


def pretty_header(colour: bool = False) -> str:
    """Column titles lined up with format_pretty's lines."""
    header = (
        f"{'OBSERVED (LOCAL)':<{_TIME_WIDTH}}  {'STATION':<{_NAME_WIDTH}}  "
        f"{'AQI':>{_AQI_WIDTH}} {'CATEGORY':<{_CATEGORY_WIDTH}}  "
        f"{'DOMINANT':<{_POLLUTANT_WIDTH}}  {'PM2.5':>{_VALUE_WIDTH}}  {'PM10':>{_VALUE_WIDTH}}"
    )
    return _titles(header, colour)


def format_pretty(record: dict[str, Any], colour: bool) -> str:
    """One line for a record: local time, station, aqi and category, dominant, PM2.5, PM10.

    PM2.5 and PM10 are WAQI's sub-indices (same scale as the aqi), not concentrations.
    With colour=False the line holds no escape codes at all.
    """
    local = record["observed_local"]
    observed = f"{local[:10]} {local[11:16]} {local[19:]}"
    aqi = record["aqi"]
    category = aqi_category(aqi)
    aqi_text = "-" if aqi is None else str(aqi)
    rating = f"{aqi_text:>{_AQI_WIDTH}} {category.label}"
    padding = " " * (_CATEGORY_WIDTH - len(category.label))
    if colour:
        rating = f"{category.colour}{rating}{RESET}"
    pollutant = record["dominant_pollutant"]
    iaqi = record["iaqi"]
    return (
        f"{observed}  {_fit(record['station']['name'], _NAME_WIDTH)}  {rating}{padding}  "
        f"{_fit(_POLLUTANT_NAMES.get(pollutant, pollutant or '-'), _POLLUTANT_WIDTH)}  "
        f"{_value_text(iaqi.get('pm25')):>{_VALUE_WIDTH}}  "
        f"{_value_text(iaqi.get('pm10')):>{_VALUE_WIDTH}}"
    )


def record_matches(record: dict[str, Any], stations: list[str], min_aqi: int | None) -> bool:
    """Whether a record passes the consumer's --station and --min-aqi filters.

    A station filter matches the idx ("5419", "@5419", "-123946", "A123946"), the
    stations.txt line that asked for it, or part of the name, ignoring case and accents
    ("zurich" finds "Zürich-Kaserne"). Several filters mean any of them. A record with no
    aqi never passes a --min-aqi filter (shown_aqi says which aqi a record has).
    """
    if min_aqi is not None:
        aqi = shown_aqi(record)
        if aqi is None or aqi < min_aqi:
            return False
    if not stations:
        return True
    station = record["station"]
    idx = str(station["idx"])
    name = _folded(station["name"])
    query = _folded(station.get("query", ""))  # aggregator.py's records have none
    for wanted in stations:
        folded = _folded(wanted)
        if folded and (folded in name or folded == query or _as_idx(folded) == idx):
            return True
    return False


def shown_aqi(record: dict[str, Any]) -> int | None:
    """The aqi a record is filtered by: a reading's or a NowCast's, and the higher of a
    day's PM2.5 and PM10 daily AQIs."""
    if record.get("kind") == "daily":
        figures = [figure["aqi"] for figure in record["daily_aqi"].values()]
        return max((aqi for aqi in figures if aqi is not None), default=None)
    return record["aqi"]


# --------------------------------------------------------------- aggregator.py's kinds

_DATE_WIDTH = len("2026-11-24")
_HOURS_WIDTH = len("24/25 h")
_RANGE_WIDTH = len("101-150")
_CONCENTRATION_WIDTH = 6


def daily_header(colour: bool = False) -> str:
    header = (
        f"{'DATE':<{_DATE_WIDTH}}  {'STATION':<{_NAME_WIDTH}}  {'HOURS':>{_HOURS_WIDTH}}  "
        f"{'AQI':>{_RANGE_WIDTH}}  {'PM2.5 DAILY AQI':<{_AQI_WIDTH + 1 + _CATEGORY_WIDTH}}  "
        f"PM10 DAILY AQI"
    )
    return _titles(header, colour)


def format_daily(record: dict[str, Any], colour: bool) -> str:
    """A closed day: date, station, readings of its hours, the aqi range, the EPA daily
    AQI of PM2.5 and PM10 (with the hours it rests on when under 75%, and no AQI)."""
    aqi = record["aqi"]
    spread = "-" if aqi is None else f"{aqi['min']}-{aqi['max']}"
    hours = record["hours"]
    hours_text = f"{record['readings']}/{hours if isinstance(hours, int) else f'{hours:g}'} h"
    return (
        f"{record['date']}  {_fit(record['station']['name'], _NAME_WIDTH)}  "
        f"{hours_text:>{_HOURS_WIDTH}}  {spread:>{_RANGE_WIDTH}}  "
        f"{_daily_figure(record['daily_aqi'].get('pm25'), colour)}  "
        f"{_daily_figure(record['daily_aqi'].get('pm10'), colour).rstrip()}"
    )


def _daily_figure(figure: dict[str, Any] | None, colour: bool) -> str:
    if figure is None:
        return _rating(None, "-", colour)
    if figure["aqi"] is None:
        text = f"{'-':>{_AQI_WIDTH}} only {figure['hours']} h"
        return f"{text:<{_AQI_WIDTH + 1 + _CATEGORY_WIDTH}}"
    return _rating(figure["category"], str(figure["aqi"]), colour)


def nowcast_header(colour: bool = False) -> str:
    header = (
        f"{'OBSERVED (LOCAL)':<{_TIME_WIDTH}}  {'STATION':<{_NAME_WIDTH}}  "
        f"{'NOWCAST':>{_AQI_WIDTH}} {'CATEGORY':<{_CATEGORY_WIDTH - 4}}  "
        f"{'PM2.5':>{_CONCENTRATION_WIDTH}}  {'PM10':>{_CONCENTRATION_WIDTH}}  µg/m³"
    )
    return _titles(header, colour)


def format_nowcast(record: dict[str, Any], colour: bool) -> str:
    """A reading's NowCast: local time, station, NowCast AQI and category, and the NowCast
    concentrations of PM2.5 and PM10 (µg/m³, '-' when EPA's rule gives none)."""
    concentrations = "  ".join(
        f"{_value_text(figure['concentration']) if figure else '-':>{_CONCENTRATION_WIDTH}}"
        for figure in (record["pm25"], record["pm10"])
    )
    aqi = "-" if record["aqi"] is None else str(record["aqi"])
    return (
        f"{_local_time(record['observed_local'])}  "
        f"{_fit(record['station']['name'], _NAME_WIDTH)}  "
        f"{_rating(record['category'], aqi, colour)}  {concentrations}"
    )


def alert_header(colour: bool = False) -> str:
    header = (
        f"{'OBSERVED (LOCAL)':<{_TIME_WIDTH}}  {'STATION':<{_NAME_WIDTH}}  NOWCAST CATEGORY CHANGE"
    )
    return _titles(header, colour)


def format_alert(record: dict[str, Any], colour: bool) -> str:
    """A NowCast category change: 'Good -> Moderate (NowCast AQI 62, PM2.5)'."""
    previous = record["previous"] or "(first)"
    category = named_category(record["category"])
    change = f"{previous} → {category.label}"
    if colour:
        change = f"{named_category(record['previous']).colour}{previous}{RESET} → " + (
            f"{category.colour}{category.label}{RESET}"
        )
    pollutant = _POLLUTANT_NAMES.get(record["dominant"], record["dominant"])
    return (
        f"{_local_time(record['observed_local'])}  "
        f"{_fit(record['station']['name'], _NAME_WIDTH)}  "
        f"ALERT {change} (NowCast AQI {record['aqi']}, {pollutant})"
    )


def _rating(category_name: str | None, aqi_text: str, colour: bool) -> str:
    """'  62 Moderate' padded to the category column, coloured on a terminal."""
    category = named_category(category_name)
    label = "" if category_name is None else category.label
    rating = f"{aqi_text:>{_AQI_WIDTH}} {label}"
    padding = " " * (_CATEGORY_WIDTH - len(label))
    return f"{category.colour}{rating}{RESET}{padding}" if colour else rating + padding


def _local_time(local: str) -> str:
    return f"{local[:10]} {local[11:16]} {local[19:]}"


def _titles(header: str, colour: bool) -> str:
    return f"{BOLD}{header}{RESET}" if colour else header


def _value_text(value: Any) -> str:
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return str(round(value)) if value.is_integer() else f"{value:.1f}"
    return "-"


@lru_cache(maxsize=4096)
def _fit(text: str, width: int) -> str:
    """Text padded or cut (with an ellipsis) to exactly ``width`` columns on screen."""
    # Names repeat on every reading of a station, hence the cache: this stays off the hot path.
    shown = []
    used = 0
    for character in unicodedata.normalize("NFC", text):
        # Never let an escape sequence (Cc, Cf) reach the terminal, nor a lone surrogate
        # (Cs, from a "\ud800" in the JSON), which cannot even be encoded as UTF-8.
        if unicodedata.category(character) in ("Cc", "Cf", "Cs"):
            character = " "
        columns = _columns(character)
        if used + columns > width:
            while used > width - 1:
                used -= _columns(shown.pop())
            shown.append("…")
            used += 1
            break
        shown.append(character)
        used += columns
    return "".join(shown) + " " * (width - used)


def _columns(character: str) -> int:
    if unicodedata.combining(character):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


@lru_cache(maxsize=4096)
def _folded(text: str) -> str:
    """Lower case without accents, for matching: "Zürich" -> "zurich"."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _as_idx(station: str) -> str | None:
    """The idx a filter names, in the record key's form: "@5419" -> "5419", "a12" -> "-12"."""
    if station.startswith("@"):
        station = station[1:]
    elif station.startswith("a") and station[1:].isdigit():
        station = "-" + station[1:]
    digits = station[1:] if station.startswith("-") else station
    return station if digits.isdigit() else None


# kind -> (column titles, one line); None: the readings themselves.
KIND_LINES = {
    None: (pretty_header, format_pretty),
    "daily": (daily_header, format_daily),
    "nowcast": (nowcast_header, format_nowcast),
    "alert": (alert_header, format_alert),
}
