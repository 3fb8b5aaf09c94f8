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

RESET = "\x1b[0m"
BOLD = "\x1b[1m"


class AqiCategory(NamedTuple):
    """A band of the US-EPA scale WAQI uses, with the ANSI colour that shows it."""

    label: str
    colour: str


# (highest aqi in the band, category); the last band has no upper bound.
_BANDS = (
    (50, AqiCategory("Good", "\x1b[38;5;40m")),  # green
    (100, AqiCategory("Moderate", "\x1b[38;5;226m")),  # yellow
    (150, AqiCategory("Unhealthy for Sensitive Groups", "\x1b[38;5;208m")),  # orange
    (200, AqiCategory("Unhealthy", "\x1b[38;5;196m")),  # red
    (300, AqiCategory("Very Unhealthy", "\x1b[38;5;129m")),  # purple
)
HAZARDOUS = AqiCategory("Hazardous", "\x1b[1;38;5;88m")  # maroon, bold to stay readable
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
_CATEGORY_WIDTH = max(len(category.label) for _, category in _BANDS)
_POLLUTANT_WIDTH = 8
_VALUE_WIDTH = 5


def aqi_category(aqi: int | None) -> AqiCategory:
    """The category of an aqi value: 0-50 Good ... 301 and above Hazardous; None is no data."""
    if aqi is None:
        return NO_DATA
    for highest, category in _BANDS:
        if aqi <= highest:
            return category
    return HAZARDOUS


def pretty_header(colour: bool = False) -> str:
    """Column titles lined up with format_pretty's lines."""
    header = (
        f"{'OBSERVED (LOCAL)':<{_TIME_WIDTH}}  {'STATION':<{_NAME_WIDTH}}  "
        f"{'AQI':>{_AQI_WIDTH}} {'CATEGORY':<{_CATEGORY_WIDTH}}  "
        f"{'DOMINANT':<{_POLLUTANT_WIDTH}}  {'PM2.5':>{_VALUE_WIDTH}}  {'PM10':>{_VALUE_WIDTH}}"
    )
    return f"{BOLD}{header}{RESET}" if colour else header


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
    aqi never passes a --min-aqi filter.
    """
    if min_aqi is not None:
        aqi = record["aqi"]
        if aqi is None or aqi < min_aqi:
            return False
    if not stations:
        return True
    station = record["station"]
    idx = str(station["idx"])
    name = _folded(station["name"])
    query = _folded(station["query"])
    for wanted in stations:
        folded = _folded(wanted)
        if folded and (folded in name or folded == query or _as_idx(folded) == idx):
            return True
    return False


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
