"""From a record to the rows the store writes: pure functions, no database.

A row holds only what both databases accept: text they cannot store (NUL characters, lone
surrogates, which JSON allows) is cleaned, numbers they cannot hold (non-finite, or
integers past 32 bits) are refused as an InvalidRecord, so one odd record is rejected
rather than failing its whole batch again and again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
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


# ------------------------------------------------------------ aggregator.py's three kinds
# Their decoders (aqistream/windows/outputs.py) check the top-level fields; what is nested
# (a figure, a date's text) is checked here, so a value that decodes but does not hold
# what its kind says is one InvalidRecord, never a crash nor a batch the database refuses.


def daily_row(record: Record, partition: int, offset: int) -> tuple:
    """The `daily_aqi` row of a `<topic>.daily` value read at (partition, offset)."""
    with _as_invalid("daily"):
        aqi = record["aqi"]
        figures = record["daily_aqi"]
        return (
            _station_idx(record),
            _day(record["date"]),
            _text(_string(record["station"]["name"], "station.name")),
            _instant(record["start"], "start"),
            _instant(record["end"], "end"),
            _local(record["start_local"], "start_local"),
            _local(record["end_local"], "end_local"),
            _required(_number(record["hours"]), "hours"),
            _integer(record["readings"], "readings"),
            _required(_number(record["coverage"]), "coverage"),
            _instant(record["first_observed_at"], "first_observed_at"),
            _instant(record["last_observed_at"], "last_observed_at"),
            _number(aqi["mean"]) if aqi is not None else None,
            _integer(aqi["min"], "aqi.min") if aqi is not None else None,
            _integer(aqi["max"], "aqi.max") if aqi is not None else None,
            *_figure(figures.get("pm25"), "daily_aqi.pm25"),
            *_figure(figures.get("pm10"), "daily_aqi.pm10"),
            _json(record["iaqi"]),
            partition,
            offset,
        )


def nowcast_row(record: Record, partition: int, offset: int) -> tuple:
    """The `nowcast` row of a `<topic>.nowcast` value read at (partition, offset)."""
    with _as_invalid("nowcast"):
        return (
            *_of_a_reading(record),
            _integer(record["aqi"], "aqi", nullable=True),
            _text(_string(record["category"], "category", nullable=True)),
            _text(_string(record.get("dominant"), "dominant", nullable=True)),
            *_figure(record["pm25"], "pm25"),
            *_figure(record["pm10"], "pm10"),
            partition,
            offset,
        )


def alert_row(record: Record, partition: int, offset: int) -> tuple:
    """The `alerts` row of a `<topic>.alerts` value read at (partition, offset)."""
    with _as_invalid("alert"):
        return (
            *_of_a_reading(record),
            _text(_string(record["previous"], "previous", nullable=True)),
            _text(_string(record["category"], "category")),
            _integer(record["aqi"], "aqi"),
            _text(_string(record.get("dominant"), "dominant")),
            partition,
            offset,
        )


def _of_a_reading(record: Record) -> tuple:
    """station_idx, observed_at, observed_local, station_name: what a NowCast and an alert
    say of the reading they are of."""
    return (
        _station_idx(record),
        _instant(record["observed_at"], "observed_at"),
        _local(record["observed_local"], "observed_local"),
        _text(_string(record["station"]["name"], "station.name")),
    )


@contextmanager
def _as_invalid(kind: str) -> Iterator[None]:
    """A field missing or of the wrong shape, deep in a value, as an InvalidRecord."""
    try:
        yield
    except (KeyError, TypeError, AttributeError) as problem:
        raise InvalidRecord(f"not a {kind} record of schema version 1 ({problem!r})") from None


def _station_idx(record: Record) -> int:
    return _integer(record["station"]["idx"], "station.idx")


def _figure(figure: dict | None, name: str) -> tuple:
    """(aqi, category, concentration, hours) of a pollutant's figure; nulls without one."""
    if figure is None:
        return (None, None, None, None)
    return (
        _integer(figure["aqi"], f"{name}.aqi", nullable=True),
        _text(_string(figure["category"], f"{name}.category", nullable=True)),
        _required(_number(figure["concentration"]), f"{name}.concentration"),
        _integer(figure["hours"], f"{name}.hours"),
    )


def _integer(value: Any, name: str, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if type(value) is not int or not -INT32 <= value < INT32:
        raise InvalidRecord(f"{name} is {value!r}, not an integer a database column holds")
    return value


def _required(value: Any, name: str) -> Any:
    if value is None:
        raise InvalidRecord(f"{name} is not a finite number")
    return value


def _string(value: Any, name: str, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if type(value) is not str:
        raise InvalidRecord(f"{name} is {value!r}, not text")
    return value


def _instant(value: Any, name: str) -> str:
    """An instant of the record format (UTC, Z), checked to exist (no 2026-02-30)."""
    text = _string(value, name)
    parsed = _time(text)
    if parsed is None or not text.endswith("Z"):
        raise InvalidRecord(f"{name} is {text!r}, not an instant YYYY-MM-DDTHH:MM:SSZ")
    return text


def _local(value: Any, name: str) -> str:
    text = _string(value, name)
    parsed = _time(text)
    if parsed is None or parsed.tzinfo is None:
        raise InvalidRecord(f"{name} is {text!r}, not a local time with its offset")
    return _text(text)


def _time(text: str) -> datetime | None:
    try:
        return fromisoformat(text)
    except ValueError:
        return None


def _day(value: Any) -> str:
    text = _string(value, "date")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise InvalidRecord(f"date is {text!r}, not a day YYYY-MM-DD") from None
    if len(text) != 10:
        raise InvalidRecord(f"date is {text!r}, not a day YYYY-MM-DD")
    return text
