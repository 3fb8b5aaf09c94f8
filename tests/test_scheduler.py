"""aqistream/source/scheduler.py: each station fetched once, unknown ones left alone for a while."""

from __future__ import annotations

from aqistream.source.scheduler import Scheduler
from aqistream.source.stations import StationQuery

ZURICH = StationQuery("zurich", 1, "zurich")
ZURICH_IDX = StationQuery("@5419", 2, "@5419")
BASEL = StationQuery("basel", 3, "basel")
NOWHERE = StationQuery("nowhere", 4, "nowhere")


def test_unresolved_lines_are_all_due():
    assert Scheduler().due([ZURICH, ZURICH_IDX, BASEL], now=0) == [ZURICH, ZURICH_IDX, BASEL]


def test_lines_that_are_the_same_station_are_fetched_once_under_the_first():
    scheduler = Scheduler()
    assert scheduler.resolved(ZURICH, 5419) == []
    assert scheduler.resolved(ZURICH_IDX, 5419) == ["zurich"]
    assert scheduler.resolved(ZURICH_IDX, 5419) == []  # said once
    scheduler.resolved(BASEL, 372)
    assert scheduler.due([ZURICH, ZURICH_IDX, BASEL], now=0) == [ZURICH, BASEL]


def test_an_unknown_station_is_asked_again_only_after_the_pause():
    scheduler = Scheduler(unknown_station_pause=3600)
    scheduler.unknown(NOWHERE, now=100)
    assert scheduler.due([NOWHERE, BASEL], now=200) == [BASEL]
    assert scheduler.due([NOWHERE, BASEL], now=3700) == [NOWHERE, BASEL]


def test_a_removed_line_is_forgotten_so_its_twin_is_fetched_again():
    scheduler = Scheduler()
    scheduler.resolved(ZURICH, 5419)
    scheduler.resolved(ZURICH_IDX, 5419)
    scheduler.forget_missing([ZURICH_IDX])
    assert scheduler.due([ZURICH_IDX], now=0) == [ZURICH_IDX]
