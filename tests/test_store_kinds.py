"""Which table a topic's records go to."""

from __future__ import annotations

import pytest

from aqistream.config import ConfigError
from aqistream.store.kinds import READING, kind_for_topic


def test_readings_topics_hold_readings():
    assert kind_for_topic("air_quality_index") is READING
    assert kind_for_topic("air_quality_index_simulated") is READING
    assert READING.table.name == "readings"
    assert READING.table.column_names[READING.partition_column] == "kafka_partition"
    assert READING.table.column_names[READING.offset_column] == "kafka_offset"


@pytest.mark.parametrize("suffix", [".latest", ".daily", ".nowcast", ".alerts"])
def test_topics_of_other_records_are_refused_until_their_kind_exists(suffix):
    with pytest.raises(ConfigError, match=f"holds {suffix[1:]} records"):
        kind_for_topic(f"air_quality_index{suffix}")
