"""From a record to the rows the store writes: pure functions, no database.

A row holds only what both databases accept: text they cannot store (NUL characters, lone
surrogates, which JSON allows) is cleaned, numbers they cannot hold (non-finite, or
integers past 32 bits) are refused as an InvalidRecord, so one odd record is rejected
rather than failing its whole batch again and again.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from aqistream.record import InvalidRecord, Record
from aqistream.store.schema import IAQI_COLUMNS, READINGS

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
    """
    station = record["station"]
    idx = _int32(station["idx"], "station.idx")
    aqi = record["aqi"]
    if aqi is not None:
        aqi = _int32(aqi, "aqi")
    for field in ("observed_at", "observed_local", "fetched_at"):
        _check_time(record[field], field)
    geo = station["geo"]
    lat, lng = _coordinates(geo) if geo is not None else (None, None)
    iaqi = record["iaqi"]
    return (
        idx,
        record["observed_at"],
        record["observed_local"],
        _text(station["name"]),
        lat,
        lng,
        aqi,
        _text(record["dominant_pollutant"]),
        *(_number(iaqi.get(name)) for name in IAQI_COLUMNS),
        _json(iaqi),
        _json(record["attributions"]),
        record["fetched_at"],
        partition,
        offset,
    )


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


def _int32(value: int, field: str) -> int:
    if not -INT32 <= value < INT32:
        raise InvalidRecord(f"{field} {value} does not fit a database integer")
    return value


def _check_time(text: str, field: str) -> None:
    # decode_record checked the format; this checks the date exists (no 2026-02-30).
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecord(f"{field} {text!r} is not a real date and time") from None


def _coordinates(geo: list) -> tuple[float | None, float | None]:
    if len(geo) != 2:
        return None, None
    lat, lng = (_number(value) for value in geo)
    return lat, lng


def _number(value: Any) -> int | float | None:
    """A finite number, else None (JSON allows 1e999, which Python reads as infinity)."""
    if type(value) is int:
        return float(value) if -(2**53) <= value <= 2**53 else None
    if type(value) is float and math.isfinite(value):
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


def _json(value: Any) -> str:
    """Compact JSON text both databases store (PostgreSQL's jsonb refuses \\u0000)."""
    try:
        text = _dumps(value)
    except ValueError:  # infinity or NaN inside
        return _dumps(_storable(value))
    if "\\u0000" in text or _text(text) is not text:
        return _dumps(_storable(value))
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _storable(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
