"""The published record (contract v1): built from a WAQI feed, encoded for Kafka, checked on read.

``normalise`` turns the ``data`` object of a ``/feed/`` response into a record;
``encode_record`` and ``record_key`` give Kafka its value and key; ``check_record`` is
the readers' cheap gate against messages that are not v1 records (``decode_record`` for a
plain-JSON value). The full contract is ``schemas/record-v1.json``; docs/ARCHITECTURE.md
explains it.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

SCHEMA_VERSION = 1
SOURCE = "waqi"

Record = dict[str, Any]

# Outside these years a timestamp is garbage (and near 1 or 9999 it cannot even be shifted).
MIN_YEAR, MAX_YEAR = 1970, 9000

_UTC_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_OBSERVED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_OBSERVED_LOCAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
_FETCHED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class UnusableReading(ValueError):
    """A WAQI feed that cannot become a record: no station idx, no observation time, bad aqi."""


class InvalidRecord(ValueError):
    """A Kafka message that is not a schema v1 record (poison for the consumer)."""


def normalise(data: dict[str, Any], query: str, fetched_at: datetime) -> Record:
    """Build the v1 record from a feed's ``data``, asked for by the stations line ``query``.

    Raises UnusableReading when the station or the observation time cannot be told, and
    ValueError when ``fetched_at`` has no time zone (a bug in the caller, not in WAQI).
    Decorations that are malformed (an odd ``iaqi`` entry, unreadable ``geo``) are
    dropped rather than losing the whole reading.
    """
    if not isinstance(data, dict):
        raise UnusableReading(f"response for {query!r} is not a station feed: {_shorten(data)}")
    idx = data.get("idx")
    if type(idx) is not int or idx == 0:
        raise UnusableReading(f"response for {query!r} has no station idx: idx = {idx!r}")
    city = data.get("city")
    if not isinstance(city, dict):
        city = {}
    name = _clean_text(city.get("name"))
    if not name:
        raise UnusableReading(f"station {idx}: response for {query!r} has no station name")
    station_label = f"station {idx} ({name})"
    observed = _observation_time(data.get("time"), station_label)
    fetched_at_text = _utc_milliseconds(fetched_at)
    return {
        "schema_version": SCHEMA_VERSION,
        "source": SOURCE,
        "station": {
            "idx": idx,
            "name": name,
            "geo": _coordinates(city.get("geo")),
            "url": _clean_text(city.get("url")),
            "query": query,
        },
        "observed_at": observed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "observed_local": observed.isoformat(timespec="seconds"),
        "aqi": _air_quality_index(data.get("aqi"), station_label),
        "dominant_pollutant": _clean_text(data.get("dominentpol")),  # sic: WAQI's spelling
        "iaqi": _sub_indices(data.get("iaqi")),
        "attributions": _attributions(data.get("attributions")),
        "fetched_at": fetched_at_text,
    }


def encode_record(record: Record) -> bytes:
    """The Kafka value: compact UTF-8 JSON, keys in the order the record was built."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def record_key(record: Record) -> bytes:
    """The Kafka key: the station idx in decimal, so a station's readings share a partition."""
    return str(record["station"]["idx"]).encode("ascii")


_NULL = type(None)
_MISSING = object()
_JSON_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    _NULL: "null",
}
# (field, types allowed) in the order decode_record checks them. Exact types, so that
# true/false cannot pass for an integer.
_RECORD_FIELDS = (
    ("station", (dict,)),
    ("observed_at", (str,)),
    ("observed_local", (str,)),
    ("aqi", (int, _NULL)),
    ("dominant_pollutant", (str, _NULL)),
    ("iaqi", (dict,)),
    ("attributions", (list,)),
    ("fetched_at", (str,)),
)
_STATION_FIELDS = (
    ("idx", (int,)),
    ("name", (str,)),
    ("geo", (list, _NULL)),
    ("url", (str, _NULL)),
    ("query", (str,)),
)


def decode_record(value: bytes | None) -> Record:
    """Parse a plain-JSON Kafka value into a record, or raise InvalidRecord saying why it is
    not one. (Values in the schema registry's wire format: aqistream.kafka.values.)"""
    return check_record(parse_value(value))


def parse_value(value: bytes | None) -> Any:
    """A plain-JSON Kafka value as Python values; InvalidRecord when it is none."""
    if not value:
        raise InvalidRecord("empty message (no value)")
    return parse_json(value)


def parse_json(text: bytes) -> Any:
    """UTF-8 JSON text as Python values; InvalidRecord when it is not.

    orjson first (several times faster, and readers parse every message); what it refuses
    (malformed text, but also NaN, integers beyond 64 bits, lone surrogates) goes through
    the standard library, which gives the same values as before and says what is wrong.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRecord("value is not UTF-8 text") from None
    except ValueError as problem:
        raise InvalidRecord(f"value is not JSON ({problem})") from None
    except RecursionError:  # json.loads, given thousands of nested arrays
        raise InvalidRecord("value is nested too deeply to be a record") from None


def check_object(parsed: Any) -> dict[str, Any]:
    """Parsed JSON that is one object, or InvalidRecord saying what it is instead."""
    if type(parsed) is not dict:
        raise InvalidRecord(f"value is a JSON {_json_type(parsed)}, not an object")
    return parsed


def check_record(parsed: Any) -> Record:
    """The record, if parsed JSON is a v1 record; else InvalidRecord saying why not.

    Deliberately cheap (a few type checks, not the JSON Schema): readers run it on every
    message. Unknown extra fields are tolerated.
    """
    record = check_object(parsed)
    version = record.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise InvalidRecord(f"schema_version is {version!r}, expected {SCHEMA_VERSION}")
    if record.get("source") != SOURCE:
        raise InvalidRecord(f"source is {record.get('source')!r}, expected {SOURCE!r}")
    check_fields(record, _RECORD_FIELDS, "")
    check_fields(record["station"], _STATION_FIELDS, "station.")
    for field, pattern in (
        ("observed_at", _OBSERVED_AT),
        ("observed_local", _OBSERVED_LOCAL),
        ("fetched_at", _FETCHED_AT),
    ):
        if not pattern.fullmatch(record[field]):
            raise InvalidRecord(f"{field} {record[field]!r} is not in the record's time format")
    return record


def observed_instant(record: Record) -> datetime:
    """The observation time of a record as an aware UTC datetime."""
    return datetime.fromisoformat(record["observed_at"])


def check_fields(
    record: Record, fields: tuple[tuple[str, tuple[type, ...]], ...], prefix: str
) -> None:
    """InvalidRecord unless each (field, types) is present with one of exactly those types."""
    for field, allowed in fields:
        value = record.get(field, _MISSING)
        if type(value) not in allowed:
            if value is _MISSING:
                raise InvalidRecord(f"{prefix}{field} is missing")
            expected = " or ".join(_JSON_TYPE_NAMES[kind] for kind in allowed)
            raise InvalidRecord(f"{prefix}{field} is {_json_type(value)}, expected {expected}")


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _observation_time(time: Any, station_label: str) -> datetime:
    """When the reading was taken, as an aware datetime in the station's own offset."""
    if not isinstance(time, dict):
        time = {}
    offset = _station_offset(time.get("tz"))
    # Never time.v: for official stations it is the local wall clock encoded as if it were
    # UTC, for crowd stations the true epoch (waqi/API.md section 4); iso and s+tz are exact.
    observed = _parse_iso_time(time.get("iso")) or _parse_local_time(time.get("s"), offset)
    if observed is None:
        raise UnusableReading(
            f"{station_label}: no observation time in the response (time = {_shorten(time)})"
        )
    if not MIN_YEAR <= observed.year <= MAX_YEAR:
        raise UnusableReading(f"{station_label}: observation time {observed} is not plausible")
    # Crowd stations give iso in UTC ("...Z"); show them in the station's offset like the rest.
    return observed.astimezone(offset) if offset is not None else observed


def _station_offset(tz: Any) -> timezone | None:
    """WAQI's tz, "+02:00" or the older "+0200", as a fixed offset; None if unreadable."""
    if not isinstance(tz, str):
        return None
    match = _UTC_OFFSET.fullmatch(tz.strip())
    if not match:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset >= timedelta(hours=24) or int(minutes) >= 60:
        return None
    return timezone(-offset if sign == "-" else offset)


def _parse_iso_time(iso: Any) -> datetime | None:
    if not isinstance(iso, str):
        return None
    try:
        parsed = datetime.fromisoformat(iso.strip())
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


def _parse_local_time(local: Any, offset: timezone | None) -> datetime | None:
    if not isinstance(local, str) or offset is None:
        return None
    try:
        parsed = datetime.fromisoformat(local.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=offset) if parsed.tzinfo is None else parsed


def _air_quality_index(aqi: Any, station_label: str) -> int | None:
    # WAQI says "-" when the station has no current index (often with sub-indices still set).
    if aqi is None or (isinstance(aqi, str) and aqi.strip() in ("-", "")):
        return None
    number = _as_number(aqi)
    if number is None or number < 0:
        raise UnusableReading(f"{station_label}: aqi is {aqi!r}, expected a number or '-'")
    return number if isinstance(number, int) else math.floor(number + 0.5)


def _sub_indices(iaqi: Any) -> dict[str, int | float]:
    """{"pm25": {"v": 23}} -> {"pm25": 23}; an entry without a numeric value is dropped."""
    if not isinstance(iaqi, dict):
        return {}
    sub_indices = {}
    for key, entry in iaqi.items():
        value = _as_number(entry.get("v")) if isinstance(entry, dict) else None
        if value is not None:
            sub_indices[key] = value
    return sub_indices


def _attributions(attributions: Any) -> list[dict[str, str | None]]:
    """Name and url of each data source (attribution is mandatory under WAQI's terms)."""
    if not isinstance(attributions, list):
        return []
    kept = []
    for attribution in attributions:
        if not isinstance(attribution, dict):
            continue
        name = _clean_text(attribution.get("name"))
        if name:
            kept.append({"name": name, "url": _clean_text(attribution.get("url"))})
    return kept


def _coordinates(geo: Any) -> list[float] | None:
    """[lat, lng] as floats (the documentation example has strings), or None if unusable."""
    if not isinstance(geo, list) or len(geo) != 2:
        return None
    latitude, longitude = (_as_number(value) for value in geo)
    if latitude is None or longitude is None:
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return [float(latitude), float(longitude)]


def _as_number(value: Any) -> int | float | None:
    """An int or finite float from a JSON number or numeric string; None for anything else."""
    if type(value) is int:
        return value
    if type(value) is float:
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        if _DECIMAL.fullmatch(text):
            number = float(text)
            return number if math.isfinite(number) else None
    return None


def _clean_text(value: Any) -> str | None:
    """A string with stray and repeated whitespace removed; None if absent or empty.

    Lone surrogates (JSON allows "\ud800") are dropped: they cannot be encoded as UTF-8,
    and one in a station name would fail every transaction that carries it.
    """
    if not isinstance(value, str):
        return None
    if any("\ud800" <= char <= "\udfff" for char in value):
        value = "".join(char for char in value if not "\ud800" <= char <= "\udfff")
    return " ".join(value.split()) or None


def _utc_milliseconds(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError("fetched_at must be timezone-aware, e.g. datetime.now(UTC)")
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _shorten(value: Any, limit: int = 120) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
