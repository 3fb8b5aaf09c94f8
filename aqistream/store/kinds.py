"""The record kinds the store keeps: which table a topic's values go to, and how.

The one place to extend when a new kind of record is stored: a Kind with its table
(created by a migration in schema.py), its gate (what a decoded value must be to be one of
its records; the value itself is decoded, plain JSON or the registry's wire format, by
kafka/values.py like every reader's) and its row function, registered in KINDS under its
topic suffix. Readings go to `readings`; aggregator.py's `<topic>.daily`, `<topic>.nowcast`
and `<topic>.alerts` to daily_aqi, nowcast and alerts, checked by the same functions
consumer.py prints them with (aqistream/windows/outputs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aqistream.config import ConfigError
from aqistream.record import Record, check_record
from aqistream.store.rows import alert_row, daily_row, nowcast_row, reading_row
from aqistream.store.schema import ALERTS, DAILY_AQI, NOWCASTS, READINGS, Table
from aqistream.windows import outputs


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
DAILY = Kind("days", DAILY_AQI, outputs.DAILY.check, daily_row, follows_stations=False)
NOWCAST = Kind("NowCasts", NOWCASTS, outputs.NOWCAST.check, nowcast_row, follows_stations=False)
ALERT = Kind("alerts", ALERTS, outputs.ALERT.check, alert_row, follows_stations=False)

# topic suffix -> kind; "" is the topic of readings itself.
KINDS: dict[str, Kind] = {
    "": READING,
    outputs.DAILY.suffix: DAILY,
    outputs.NOWCAST.suffix: NOWCAST,
    outputs.ALERT.suffix: ALERT,
}
# Each station's newest reading only: its topic is stored instead, the whole history.
LATEST_SUFFIX = ".latest"


def kind_for_topic(topic: str) -> Kind:
    for suffix, kind in sorted(KINDS.items(), key=lambda item: -len(item[0])):
        if suffix and topic.endswith(suffix):
            return kind
    if topic.endswith(LATEST_SUFFIX):
        raise ConfigError(
            f"--store: topic {topic} holds latest records; store the topic "
            f"{topic.removesuffix(LATEST_SUFFIX)} itself: the whole history"
        )
    return KINDS[""]
