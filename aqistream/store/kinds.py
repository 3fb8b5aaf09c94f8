"""The record kinds the store keeps: which table a topic's values go to, and how.

The one place to extend when a new kind of record is stored (issue 12 stores
`<topic>.daily`, `<topic>.nowcast` and `<topic>.alerts` into daily_aqi, nowcast and
alerts): a Kind with its table (created by a migration in schema.py), its gate (what a
decoded value must be to be one of its records; the value itself is decoded, plain JSON or
the registry's wire format, by kafka/values.py like every reader's) and its row function,
registered in KINDS under its topic suffix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aqistream.config import ConfigError
from aqistream.record import Record, check_record
from aqistream.store.rows import reading_row
from aqistream.store.schema import READINGS, Table


@dataclass(frozen=True)
class Kind:
    noun: str  # what the progress lines call them
    table: Table
    check: Callable[[Any], Record]  # parsed JSON -> the record; raises InvalidRecord
    row: Callable[[Record, int, int], tuple]  # (record, partition, offset); InvalidRecord
    follows_stations: bool  # its rows keep the `stations` table up to date

    @property
    def partition_column(self) -> int:
        return self.table.column_names.index("kafka_partition")

    @property
    def offset_column(self) -> int:
        return self.table.column_names.index("kafka_offset")


READING = Kind("readings", READINGS, check_record, reading_row, follows_stations=True)

# topic suffix -> kind; "" is the topic of readings itself.
KINDS: dict[str, Kind] = {"": READING}
# Topics that hold other records: refused until their kind is registered above.
OTHER_SUFFIXES = (".latest", ".daily", ".nowcast", ".alerts")


def kind_for_topic(topic: str) -> Kind:
    for suffix, kind in sorted(KINDS.items(), key=lambda item: -len(item[0])):
        if suffix and topic.endswith(suffix):
            return kind
    for suffix in OTHER_SUFFIXES:
        if topic.endswith(suffix):
            hint = (
                f"store the topic {topic.removesuffix(suffix)} itself: the whole history"
                if suffix == ".latest"
                else "this version of aqi-stream does not store them yet"
            )
            raise ConfigError(f"--store: topic {topic} holds {suffix[1:]} records; {hint}")
    return KINDS[""]
