"""One batch, one transaction, on both real databases: offsets move on only from where the
writer believes they are, the primary key keeps a reading to one row, the stations table
follows, and a database's refusals are told apart."""

from __future__ import annotations

import pytest

from aqistream.store import open_store
from aqistream.store.database import Batch, DataRefused, StaleOffsets
from aqistream.store.kinds import READING
from aqistream.store.rows import reading_row, rejected_row
from aqistream.store.url import parse_store_url
from tests.databases import history, query, stored_offsets

GROUP, TOPIC = "g", "t"


@pytest.fixture
def store(store_url):
    store = open_store(parse_store_url(store_url))
    store.open()
    yield store
    store.close()


def batch_of(records: list[dict], partition: int, start: int) -> Batch:
    batch = Batch()
    for offset, record in enumerate(records, start):
        batch.rows.append(reading_row(record, partition, offset))
        batch.urls[record["station"]["idx"]] = record["station"]["url"]
        batch.advance(partition, start, offset)
    return batch


def test_rows_and_offsets_are_written_together(store, store_url):
    records = history(3, 4)
    assert store.claim(GROUP, TOPIC, {0: 0}) == {0: 0}
    written = store.write(GROUP, TOPIC, READING, batch_of(records, 0, 0))
    assert (written.inserted, written.already) == (12, 0)
    assert stored_offsets(store_url, GROUP, TOPIC) == {0: 12}
    assert len(query(store_url, "SELECT * FROM readings")) == 12
    stations = query(store_url, "SELECT * FROM stations ORDER BY station_idx")
    assert len(stations) == 3
    for station in stations:
        mine = [r for r in records if r["station"]["idx"] == station["station_idx"]]
        assert station["first_observed_at"] == mine[0]["observed_at"]
        assert station["last_observed_at"] == mine[-1]["observed_at"]
        assert station["last_aqi"] == mine[-1]["aqi"]


def test_a_stale_writer_stores_nothing_and_never_moves_an_offset_back(store, store_url):
    """Instance A was at offset 0 when it lost the partition; B stored up to 8 meanwhile."""
    records = history(2, 6)
    store.claim(GROUP, TOPIC, {1: 0})
    store.write(GROUP, TOPIC, READING, batch_of(records[:8], 1, 0))  # B
    with pytest.raises(StaleOffsets) as stale:
        store.write(GROUP, TOPIC, READING, batch_of(records[:10], 1, 0))  # A, late
    assert stale.value.partitions == {1: 8}
    assert stored_offsets(store_url, GROUP, TOPIC) == {1: 8}
    assert len(query(store_url, "SELECT * FROM readings")) == 8  # rolled back whole


def test_a_partition_the_database_has_no_offset_for_is_stale_too(store):
    with pytest.raises(StaleOffsets) as stale:
        store.write(GROUP, TOPIC, READING, batch_of(history(1, 1), 5, 0))
    assert stale.value.partitions == {5: None}


def test_the_primary_key_keeps_a_reading_to_one_row(store, store_url):
    """The second guard: the same readings at other offsets (published twice)."""
    records = history(2, 3)
    store.claim(GROUP, TOPIC, {0: 0})
    store.write(GROUP, TOPIC, READING, batch_of(records, 0, 0))
    again = store.write(GROUP, TOPIC, READING, batch_of(records + records[:1], 0, 6))
    assert (again.inserted, again.already) == (0, 7)
    assert len(query(store_url, "SELECT * FROM readings")) == 6
    assert stored_offsets(store_url, GROUP, TOPIC) == {0: 13}


def test_claim_keeps_an_offset_another_instance_recorded_first(store):
    assert store.claim(GROUP, TOPIC, {0: 5, 1: 7}) == {0: 5, 1: 7}
    assert store.claim(GROUP, TOPIC, {0: 0, 2: 3}) == {0: 5, 1: 7, 2: 3}
    assert store.offsets(GROUP, TOPIC) == {0: 5, 1: 7, 2: 3}
    assert store.offsets("other", TOPIC) == {}


def test_rejected_messages_are_rows_of_their_own(store, store_url):
    store.claim(GROUP, TOPIC, {0: 0})
    batch = Batch()
    batch.rejected.append(rejected_row(TOPIC, 0, 0, "value is not JSON", b"\xffnot json"))
    batch.advance(0, 0, 0)
    assert store.write(GROUP, TOPIC, READING, batch).rejected == 1
    (row,) = query(store_url, "SELECT * FROM rejected")
    assert (row["topic"], row["kafka_partition"], row["kafka_offset"]) == (TOPIC, 0, 0)
    assert row["reason"] == "value is not JSON" and bytes(row["first_bytes"]) == b"\xffnot json"


def test_data_the_database_refuses_is_told_apart_from_an_outage(store):
    """A row that bypassed rows.py's checks: the database's own refusal is DataRefused."""
    store.claim(GROUP, TOPIC, {0: 0})
    batch = batch_of(history(1, 1), 0, 0)
    batch.rows[0] = (*batch.rows[0][:6], 2**64, *batch.rows[0][7:])  # aqi past 64 bits
    with pytest.raises(DataRefused):
        store.write(GROUP, TOPIC, READING, batch)


def test_batches_split_and_join_by_partition():
    records = history(1, 6)
    first = batch_of(records[:3], 0, 10)
    later = batch_of(records[3:], 0, 13)
    joined = first.followed_by(later)
    assert joined.offsets == {0: [10, 16]} and len(joined.rows) == 6 and joined.messages == 6
    other = batch_of(records[:2], 1, 0)
    both = first.followed_by(other)
    assert both.offsets == {0: [10, 13], 1: [0, 2]}
    assert both.without({0}, READING).offsets == {1: [0, 2]}
    assert [row[-2] for row in both.without({0}, READING).rows] == [1, 1]
    assert not Batch()
