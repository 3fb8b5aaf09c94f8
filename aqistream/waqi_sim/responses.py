"""WAQI's bodies, byte for byte in shape: feed data, search and map items, errors, nginx pages.

Pure functions from stations and readings to JSON-ready dicts and bytes. Key order follows the
recordings (aqi, idx, attributions, city, dominentpol, iaqi, time, forecast, debug).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aqistream.waqi_sim.catalogue import Station
from aqistream.waqi_sim.localtime import (
    local_iso,
    local_text,
    offset_text,
    server_iso,
    utc_iso,
)
from aqistream.waqi_sim.world import Reading

# The error texts of API.md section 7.
INVALID_KEY = "Invalid key"
UNKNOWN_STATION = "Unknown station"
OVER_QUOTA = "Over quota"
NO_SUCH_STATION = "no such station"
UNKNOWN_ID = "Unknown ID"


def compact_json(value: Any) -> bytes:
    """WAQI sends compact UTF-8 JSON (non-ASCII names unescaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def ok_body(data: Any) -> bytes:
    return compact_json({"status": "ok", "data": data})


@lru_cache(maxsize=256)
def error_body(message: str) -> bytes:
    return compact_json({"status": "error", "data": message})


def unknown_id_body() -> bytes:
    """`/feed/@N/` for an unknown N: status ok with the error nested inside data."""
    return ok_body({"status": "error", "msg": UNKNOWN_ID})


def empty_city_body() -> bytes:
    """`/feed/` with no city: the error is in `message`, not `data`."""
    return compact_json({"status": "error", "message": "404"})


def bad_geo_body(text: str) -> bytes:
    return error_body(f"Invalid geo position - Can not parse '{text}'")


def bad_bounds_body(text: str | None) -> bytes:
    """Go's strconv error for the first coordinate that is not a number."""
    if text is None:
        return error_body("invalid bounds")
    quoted = json.dumps(text, ensure_ascii=False)
    return error_body(f"invalid bounds: strconv.ParseFloat: parsing {quoted}: invalid syntax")


def feed_data(
    station: Station,
    reading: Reading,
    forecast: dict[str, list[dict]] | None,
    synced_at: int | None,
) -> dict[str, Any]:
    """The `data` object of a /feed/ answer."""
    data: dict[str, Any] = {
        "aqi": "-" if reading.aqi is None else reading.aqi,
        "idx": station.idx,
        "attributions": [dict(attribution) for attribution in station.attributions],
        "city": {
            "geo": list(station.geo),
            "name": station.name,
            "url": station.url,
            "location": station.location,
        },
        "dominentpol": reading.dominant_pollutant,
        "iaqi": {key: {"v": value} for key, value in reading.iaqi},
        "time": feed_time(station, reading),
    }
    # Crowd stations have neither forecast nor debug.
    if forecast is not None:
        data["forecast"] = {"daily": forecast}
    if synced_at is not None:
        data["debug"] = {"sync": server_iso(synced_at)}
    return data


def feed_time(station: Station, reading: Reading) -> dict[str, Any]:
    offset = reading.utc_offset_minutes
    observed = reading.observed_at
    if observed is None:
        return {"tz": offset_text(offset), "v": 0}
    if station.is_crowd:
        # Crowd stations: v is the true epoch and iso is UTC.
        v, iso = observed, utc_iso(observed)
    else:
        # Official stations: v is local wall-clock time encoded as if it were UTC.
        v, iso = observed + offset * 60, local_iso(observed, offset)
    return {"s": local_text(observed, offset), "tz": offset_text(offset), "v": v, "iso": iso}


def search_item(station: Station, reading: Reading, shown_at: int) -> dict[str, Any]:
    """One /search/ result: aqi is a string, vtime the true epoch."""
    return {
        "uid": station.idx,
        "aqi": "-" if reading.aqi is None else str(reading.aqi),
        "time": {
            "tz": offset_text(reading.utc_offset_minutes),
            "stime": local_text(shown_at, reading.utc_offset_minutes),
            "vtime": shown_at,
        },
        "station": {
            "name": station.name,
            "geo": list(station.geo),
            "url": station.search_url,
            "country": station.country,
        },
    }


def map_item(station: Station, reading: Reading, shown_at: int) -> dict[str, Any]:
    """One /map/bounds/ item: aqi is a string, time is written in +09:00."""
    return {
        "lat": station.geo[0],
        "lon": station.geo[1],
        "uid": station.idx,
        "aqi": "-" if reading.aqi is None else str(reading.aqi),
        "station": {"name": station.name, "time": server_iso(shown_at)},
    }


_REASONS = {
    404: "Not Found",
    405: "Not Allowed",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def nginx_page(status: int) -> bytes:
    """The HTML error page nginx serves for `status`."""
    title = f"{status} {_REASONS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def maintenance_page() -> bytes:
    """A 200 answer that is not JSON, as a proxy or captive portal might send."""
    return (
        b"<!DOCTYPE html><html><head><title>World Air Quality Index</title></head>"
        b"<body><h1>Service temporarily under maintenance</h1>"
        b"<p>Please try again in a few minutes.</p></body></html>"
    )
