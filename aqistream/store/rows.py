"""From a record to the rows the store writes: pure functions, no database.

A row holds only what both databases accept: text they cannot store (NUL characters, lone
surrogates, which JSON allows) is cleaned, numbers they cannot hold (non-finite, or
integers past 32 bits) are refused as an InvalidRecord, so one odd record is rejected
rather than failing its whole batch again and again.
"""

from __future__ import annotations

import json
from datetime import datetime
from math import isfinite
from typing import Any

from aqistream.record import InvalidRecord, Record
from aqistream.store.schema import IAQI_COLUMNS, READINGS

fromisoformat = datetime.fromisoformat

INT32 = 2**31
# The first bytes of a rejected message kept in `rejected.first_bytes`.
REJECTED_PREFIX = 200

_POSITION = {name: number for number, name in enumerate(READINGS.column_names)}
STATION_IDX, OBSERVED_AT = _POSITION["station_idx"], _POSITION["observed_at"]
STATION_NAME, LAT, LNG = _POSITION["station_name"], _POSITION["lat"], _POSITION["lng"]
AQI, PARTITION = _POSITION["aqi"], _POSITION["kafka_partition"]


def reading_row(record: Record, partition: int, offset: int) -> tuple:
    """The `readings` row of a v1 record read at (partition, offset), in column order.

    Raises InvalidRecord for a record that decodes but that no database could store.
    (It runs once per message of a backfill: kept lean.)
    """
    station = record["station"]
    idx = station["idx"]
    if not -INT32 <= idx < INT32:
        raise InvalidRecord(f"station.idx {idx} does not fit a database integer")
    aqi = record["aqi"]
    if aqi is not None and not -INT32 <= aqi < INT32:
        raise InvalidRecord(f"aqi {aqi} does not fit a database integer")
    observed_at, observed_local, fetched_at = (
        record["observed_at"],
        record["observed_local"],
        record["fetched_at"],
    )
    try:
        # decode_record checked the format; this checks the dates exist (no 2026-02-30).
        fromisoformat(observed_at), fromisoformat(observed_local), fromisoformat(fetched_at)
    except ValueError:
        raise InvalidRecord(
            f"a time of the record is not a real date and time: {observed_at!r}, "
            f"{observed_local!r}, {fetched_at!r}"
        ) from None
    geo = station["geo"]
    if geo is not None and len(geo) == 2:
        lat, lng = _number(geo[0]), _number(geo[1])
    else:
        lat = lng = None
    iaqi = record["iaqi"]
    return (
        idx,
        observed_at,
        observed_local,
        _text(station["name"]),
        lat,
        lng,
        aqi,
        _text(record["dominant_pollutant"]),
        *[value if type(value) is float and isfinite(value) else _number(value)
          for value in map(iaqi.get, IAQI_COLUMNS)],
        _json(iaqi),
        _attributions_json(record["attributions"]),
        fetched_at,
        partition,
        offset,
    )  # fmt: skip


def station_rows(readings: list[tuple], urls: dict[int, str | None]) -> list[tuple]:
    """One `stations` row per station of a batch of reading rows: its first and last
    observation, and the name, place and AQI of its newest reading (the database keeps
    the earliest first and the newest last across batches)."""
    first: dict[int, str] = {}
    newest: dict[int, tuple] = {}
    for row in readings:
        idx, observed_at = row[STATION_IDX], row[OBSERVED_AT]
        if idx not in newest:
            first[idx] = observed_at
            newest[idx] = row
            continue
        # Times in one text format (UTC, Z) compare as they sort.
        if observed_at < first[idx]:
            first[idx] = observed_at
        if observed_at >= newest[idx][OBSERVED_AT]:
            newest[idx] = row
    return [
        (idx, row[STATION_NAME], row[LAT], row[LNG], urls.get(idx), first[idx],
         row[OBSERVED_AT], row[AQI])
        for idx, row in newest.items()
    ]  # fmt: skip


def rejected_row(topic: str, partition: int, offset: int, reason: str, value: bytes | None):
    """The `rejected` row of a message that is not a valid record."""
    first_bytes = value[:REJECTED_PREFIX] if value is not None else None
    return (topic, partition, offset, _text(reason) or "invalid", first_bytes)


# ------------------------------------------------------------ what a database accepts


def _number(value: Any) -> int | float | None:
    """A finite number a REAL / double precision column holds, else None (JSON allows
    1e999, which Python reads as infinity, and integers of any size)."""
    if type(value) is int:
        return value if -(2**53) <= value <= 2**53 else None
    if type(value) is float and isfinite(value):
        return value
    return None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            value = value.encode("utf-8", "ignore").decode("utf-8")
    return value


# One encoder, made once: json.dumps with options builds a new one for every call.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _json(value: Any) -> str:
    """Compact JSON text both databases store (PostgreSQL's jsonb refuses \\u0000)."""
    try:
        text = _dumps(value)
    except ValueError:  # infinity or NaN inside
        return _dumps(_storable(value))
    if "\\u0000" in text or _text(text) is not text:
        return _dumps(_storable(value))
    return text


# A station's attributions rarely change: their JSON is kept, by content.
_ATTRIBUTIONS: dict[tuple, str] = {}
_ATTRIBUTIONS_KEPT = 10_000


def _attributions_json(attributions: list) -> str:
    try:
        key = tuple((item["name"], item["url"]) for item in attributions if len(item) == 2)
    except (TypeError, KeyError):  # not the {"name", "url"} objects of the contract
        return _json(attributions)
    if len(key) != len(attributions) or not all(
        type(name) is str and (url is None or type(url) is str) for name, url in key
    ):
        return _json(attributions)
    text = _ATTRIBUTIONS.get(key)
    if text is None:
        if len(_ATTRIBUTIONS) >= _ATTRIBUTIONS_KEPT:
            _ATTRIBUTIONS.clear()
        text = _ATTRIBUTIONS[key] = _json(attributions)
    return text


def _storable(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not isfinite(value):
        return None
    return value
