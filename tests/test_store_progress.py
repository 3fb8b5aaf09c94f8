"""The storing consumer's progress lines."""

from __future__ import annotations

from aqistream.store.progress import PROGRESS_SECONDS, Progress, backlog_share


def test_a_line_at_most_every_few_seconds_and_only_when_something_was_stored():
    progress = Progress("readings", started=100.0)
    assert not progress.due(101.0)  # nothing stored yet
    progress.stored = 1000
    assert progress.due(101.0)
    progress.line(101.0, None, None)
    progress.stored = 2000
    assert not progress.due(101.0 + PROGRESS_SECONDS - 0.1)
    assert progress.due(101.0 + PROGRESS_SECONDS)


def test_the_line_says_how_many_of_how_many_stations_how_fast_and_how_far_behind():
    progress = Progress("readings", started=0.0, stored=50_000, stations={1, 2, 3})
    line = progress.line(2.0, 150_000, 0.25)
    assert line == (
        "stored 50,000 readings of 3 stations (25,000/s), 150,000 behind the end of the "
        "topic (25% of the backlog read)"
    )
    progress.stored = 60_000
    line = progress.line(7.0, 0, None)
    assert line == "stored 60,000 readings of 3 stations (2,000/s), up to date"


def test_the_summary_counts_what_was_already_there_and_what_was_rejected():
    progress = Progress("readings", 0.0, stored=10, already=2, rejected=3, stations={7})
    assert progress.summary(4.0) == (
        "10 readings stored in 4.0 s (2/s), 1 stations; 2 already stored, 3 rejected"
    )


def test_backlog_share_is_what_was_read_of_what_was_there():
    assert backlog_share({0: 0, 1: 100}, {0: 50, 1: 100}, {0: 100, 1: 200}) == 0.25
    assert backlog_share({0: 10}, {0: 10}, {0: 10}) is None  # nothing to read
    assert backlog_share({0: 0}, {0: 500}, {0: 100}) == 1.0
