"""Which table a topic's records go to."""

from __future__ import annotations

import pytest

from aqistream.config import ConfigError
from aqistream.store.kinds import ALERT, DAILY, NOWCAST, READING, kind_for_topic


def test_readings_topics_hold_readings():
    assert kind_for_topic("air_quality_index") is READING
    assert kind_for_topic("air_quality_index_simulated") is READING
    assert READING.table.name == "readings"
    assert READING.table.column_names[READING.partition_column] == "kafka_partition"
    assert READING.table.column_names[READING.offset_column] == "kafka_offset"


@pytest.mark.parametrize(
    ("suffix", "kind", "table", "key"),
    [
        (".daily", DAILY, "daily_aqi", ("station_idx", "day")),
        (".nowcast", NOWCAST, "nowcast", ("station_idx", "observed_at")),
        (".alerts", ALERT, "alerts", ("station_idx", "observed_at")),
    ],
)
def test_aggregator_topics_go_to_tables_of_their_own(suffix, kind, table, key):
    assert kind_for_topic(f"air_quality_index{suffix}") is kind
    assert kind.table.name == table and kind.table.primary_key == key
    # station_idx first: the sink counts a batch's stations by it.
    assert kind.table.column_names[0] == "station_idx"
    assert kind.table.column_names[kind.partition_column] == "kafka_partition"
    assert kind.table.column_names[kind.offset_column] == "kafka_offset"
    assert not kind.follows_stations


def test_the_latest_topic_is_refused_for_the_topic_itself():
    with pytest.raises(
        ConfigError, match="holds latest records; store the topic air_quality_index"
    ):
        kind_for_topic("air_quality_index.latest")
