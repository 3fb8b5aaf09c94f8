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
        "10 readings of 1 stations stored; 2 already stored, 3 rejected; 4.0 s in all"
    )


def test_the_summary_rate_leaves_out_start_up_and_idle_time():
    progress = Progress("readings", 0.0, stored=5000, stations={1, 2})
    progress.working(1.5)  # the first message, after start-up
    progress.wrote(2.0)
    progress.wrote(3.5)  # the last batch; then idle until --idle-timeout
    assert progress.summary(8.5) == (
        "5,000 readings of 2 stations stored in 2.0 s (2,500/s); 0 already stored, "
        "0 rejected; 8.5 s in all"
    )


def test_backlog_share_is_what_was_read_of_what_was_there():
    assert backlog_share({0: 0, 1: 100}, {0: 50, 1: 100}, {0: 100, 1: 200}) == 0.25
    assert backlog_share({0: 10}, {0: 10}, {0: 10}) is None  # nothing to read
    assert backlog_share({0: 0}, {0: 500}, {0: 100}) == 1.0
