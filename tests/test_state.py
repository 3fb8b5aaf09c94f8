"""aqistream/state.py: what is new, what waits, and what a restored state already holds."""

from __future__ import annotations

import pytest

from aqistream.state import PublishState


def reading(idx: int, observed_at: str) -> dict:
    return {"station": {"idx": idx}, "observed_at": observed_at}


@pytest.fixture
def state() -> PublishState:
    state = PublishState()
    state.restore({5419: "2026-11-23T12:00:00Z"})
    return state


def test_only_a_reading_later_than_the_last_published_is_new(state):
    assert not state.offer(reading(5419, "2026-11-23T12:00:00Z"))
    assert not state.offer(reading(5419, "2026-11-23T11:00:00Z"))
    assert state.offer(reading(5419, "2026-11-23T13:00:00Z"))
    assert state.offer(reading(-123946, "2026-11-23T13:07:12Z"))  # never seen
    assert state.waiting == 2


def test_the_same_reading_fetched_twice_waits_once(state):
    assert state.offer(reading(5419, "2026-11-23T13:00:00Z"))
    assert not state.offer(reading(5419, "2026-11-23T13:00:00Z"))
    assert state.batch() == [reading(5419, "2026-11-23T13:00:00Z")]


def test_readings_wait_in_observation_order_until_committed(state):
    state.offer(reading(5419, "2026-11-23T13:00:00Z"))
    state.offer(reading(5419, "2026-11-23T14:00:00Z"))
    batch = state.batch()
    assert [r["observed_at"] for r in batch] == ["2026-11-23T13:00:00Z", "2026-11-23T14:00:00Z"]
    state.committed_batch(batch)
    assert state.waiting == 0
    assert state.committed[5419] == "2026-11-23T14:00:00Z"
    assert not state.offer(reading(5419, "2026-11-23T14:00:00Z"))


def test_a_failed_transaction_leaves_the_batch_waiting(state):
    state.offer(reading(5419, "2026-11-23T13:00:00Z"))
    first_try = state.batch()
    # publishing raised: nothing is marked committed, the next cycle offers more
    state.offer(reading(5419, "2026-11-23T14:00:00Z"))
    assert state.batch() == first_try + [reading(5419, "2026-11-23T14:00:00Z")]


def test_readings_fetched_before_kafka_answered_are_checked_against_the_restored_state():
    state = PublishState()
    assert not state.known
    assert state.offer(reading(5419, "2026-11-23T12:00:00Z"))  # already published, unknown yet
    assert state.offer(reading(5419, "2026-11-23T13:00:00Z"))
    assert state.offer(reading(77, "2026-11-23T13:00:00Z"))
    state.restore({5419: "2026-11-23T12:00:00Z"})
    assert state.known
    assert state.batch() == [
        reading(5419, "2026-11-23T13:00:00Z"),
        reading(77, "2026-11-23T13:00:00Z"),
    ]


def test_restoring_after_an_ambiguous_commit_drops_what_kafka_says_was_committed(state):
    state.offer(reading(5419, "2026-11-23T13:00:00Z"))
    state.offer(reading(8, "2026-11-23T13:00:00Z"))
    # the commit's answer was lost; Kafka says it did commit 5419's reading
    state.restore({5419: "2026-11-23T13:00:00Z", 8: "2026-11-23T10:00:00Z"})
    assert state.batch() == [reading(8, "2026-11-23T13:00:00Z")]
