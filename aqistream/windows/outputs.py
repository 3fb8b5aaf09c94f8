"""The three kinds aggregator.py publishes, as readers see them: topics, keys, cheap checks.

`<topic>.daily`, `<topic>.nowcast` and `<topic>.alerts` hold one JSON object per value,
keyed by the station idx like the readings, each with `kind` and `schema_version` (full
contracts: schemas/daily-v1.json, nowcast-v1.json, alert-v1.json). The checks are the
consumer's (and the store's) gate against values that are not of the topic's kind, given
to kafka/values.py (which reads plain JSON and the registry's wire format alike): a few
type checks, InvalidRecord saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from aqistream.record import InvalidRecord, Record, check_fields, check_object, parse_value

SCHEMA_VERSION = 1
_NULL = type(None)
_NUMBER = (int, float)


@dataclass(frozen=True)
class OutputKind:
    kind: str  # the value's "kind"
    suffix: str  # the topic's suffix: "<topic>.daily"
    fields: tuple[tuple[str, tuple[type, ...]], ...]
    schema: str  # its contract in schemas/, registered with [schema_registry]

    def topic(self, readings_topic: str) -> str:
        return readings_topic + self.suffix

    def decode(self, value: bytes | None) -> Record:
        """A plain-JSON value of this kind (any form: kafka/values.py with `check`)."""
        return self.check(parse_value(value))

    def check(self, parsed: object) -> Record:
        """Parsed JSON that is a record of this kind, or InvalidRecord saying why not."""
        record = check_object(parsed)
        if record.get("kind") != self.kind:
            raise InvalidRecord(f"kind is {record.get('kind')!r}, expected {self.kind!r}")
        version = record.get("schema_version")
        if type(version) is not int or version != SCHEMA_VERSION:
            raise InvalidRecord(f"schema_version is {version!r}, expected {SCHEMA_VERSION}")
        check_fields(record, self.fields, "")
        check_fields(record["station"], _STATION_FIELDS, "station.")
        return record


_STATION_FIELDS = (("idx", (int,)), ("name", (str,)))

DAILY = OutputKind(
    "daily",
    ".daily",
    (
        ("station", (dict,)),
        ("date", (str,)),
        ("start", (str,)),
        ("end", (str,)),
        ("hours", _NUMBER),
        ("readings", (int,)),
        ("coverage", _NUMBER),
        ("aqi", (dict, _NULL)),
        ("iaqi", (dict,)),
        ("daily_aqi", (dict,)),
    ),
    "daily-v1.json",
)
NOWCAST = OutputKind(
    "nowcast",
    ".nowcast",
    (
        ("station", (dict,)),
        ("observed_at", (str,)),
        ("observed_local", (str,)),
        ("pm25", (dict, _NULL)),
        ("pm10", (dict, _NULL)),
        ("aqi", (int, _NULL)),
        ("category", (str, _NULL)),
    ),
    "nowcast-v1.json",
)
ALERT = OutputKind(
    "alert",
    ".alerts",
    (
        ("station", (dict,)),
        ("observed_at", (str,)),
        ("observed_local", (str,)),
        ("previous", (str, _NULL)),
        ("category", (str,)),
        ("aqi", (int,)),
    ),
    "alert-v1.json",
)
OUTPUT_KINDS = (DAILY, NOWCAST, ALERT)


def output_kind(topic: str) -> OutputKind | None:
    """The kind a topic holds by its name ('air_quality_index.daily'), None for readings."""
    for kind in OUTPUT_KINDS:
        if topic.endswith(kind.suffix):
            return kind
    return None
