"""aqistream/source/scheduler.py: each station fetched once, unknown ones left alone for a
while; and, cadence-aware, each request handed out when it is worth making."""

from __future__ import annotations

from aqistream.source.discovery import MapStation
from aqistream.source.scheduler import (
    FEED,
    MAP,
    MAX_SWEEP_GAP,
    MIN_SWEEP_GAP,
    Request,
    Scheduler,
)
from aqistream.source.stations import AreaQuery, Box, StationQuery

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


# ================================================================ cadence-aware


T0 = 1_795_000_000 - 1_795_000_000 % 3600  # on the hour, API time
SWISS_BOX = AreaQuery("bounds:45,5,48,11", 5, Box(45, 5, 48, 11))


def stations_in(box: Box, stations: dict[int, tuple[float, float, int]], cap: int = 10**6):
    """A map answer: the stations in the box, thinned to `cap` (the lowest uids kept)."""
    inside = [
        MapStation(uid, observed)
        for uid, (lat, lng, observed) in sorted(stations.items())
        if box.south <= lat <= box.north and box.west <= lng <= box.east
    ]
    return inside[:cap]


def settle(scheduler, stations, now, limit=1000, lines=None, cap=10**6) -> list:
    """Answer whatever is due at `now` (map tiles from `stations`, feeds with the reading
    the map shows; `lines` maps unresolved lines to their idx) until nothing is; the
    requests made."""
    made = []
    while requests := scheduler.plan(now, limit):
        for request in requests:
            if request.kind == MAP:
                answer = stations_in(request.tile.box, stations, cap)
                scheduler.map_answered(request, answer, now)
            else:
                idx = (lines or {}).get(request.key, request.key)
                scheduler.feed_answered(request, idx, stations[idx][2], now)
        made += requests
    return made


def test_listed_lines_are_asked_once_then_when_their_next_reading_is_due():
    scheduler = Scheduler()
    scheduler.update_lines([ZURICH, BASEL])
    first = scheduler.plan(T0 + 600, 10)
    assert [(r.kind, r.query) for r in first] == [(FEED, "zurich"), (FEED, "basel")]
    assert scheduler.plan(T0 + 600, 10) == []  # in flight: not handed out twice
    scheduler.feed_answered(first[0], 5419, T0, T0 + 600)
    scheduler.feed_answered(first[1], 372, T0, T0 + 600)
    assert scheduler.plan(T0 + 700, 10) == []
    # Nothing is due until the next reading may have appeared.
    assert T0 + 700 < scheduler.next_due(T0 + 700) <= T0 + 3600
    due = scheduler.plan(T0 + 3600 + 60, 10)
    assert {r.key for r in due} == {5419, 372}
    assert all(r.query in ("zurich", "basel") and not r.discovered for r in due)


def test_lines_that_are_one_station_are_followed_once_under_the_first_line():
    scheduler = Scheduler()
    scheduler.update_lines([ZURICH, ZURICH_IDX])
    first = scheduler.plan(T0, 10)
    assert scheduler.feed_answered(first[0], 5419, T0, T0 + 60) == []
    assert scheduler.feed_answered(first[1], 5419, T0, T0 + 60) == ["zurich"]
    later = scheduler.plan(T0 + 7200, 10)
    assert [(r.key, r.query) for r in later] == [(5419, "zurich")]


def test_an_unknown_line_waits_the_pause_and_a_failed_one_a_minute():
    scheduler = Scheduler(unknown_station_pause=3600)
    scheduler.update_lines([NOWHERE, BASEL])
    nowhere, basel = scheduler.plan(T0, 10)
    scheduler.feed_failed(nowhere, T0, unknown=True)
    scheduler.feed_failed(basel, T0, unknown=False)
    assert scheduler.plan(T0 + 30, 10) == []
    assert [r.query for r in scheduler.plan(T0 + 61, 10)] == ["basel"]
    assert [r.query for r in scheduler.plan(T0 + 3601, 10)] == ["nowhere"]


def test_an_area_is_covered_and_only_stations_with_news_are_fetched():
    stations = {uid: (46 + uid / 100, 6 + uid / 20, T0) for uid in range(1, 41)}
    stations[7] = (46.07, 6.35, T0 - 3600)  # its newest reading is already published
    scheduler = Scheduler()
    scheduler.update_lines([SWISS_BOX])
    scheduler.restore({7: T0 - 3600})
    made = settle(scheduler, stations, T0 + 900)
    feeds = [r for r in made if r.kind == FEED]
    assert sorted(r.key for r in feeds) == sorted(set(stations) - {7})
    assert all(r.discovered and r.query == SWISS_BOX.text for r in feeds)
    assert {r.feed_path for r in feeds if r.key == 1} == {"@1"}
    assert not scheduler.discovering
    # An hour later, half of them have a new reading: the map shows which.
    for uid in range(1, 21):
        stations[uid] = (*stations[uid][:2], T0 + 3600)
    made = settle(scheduler, stations, T0 + 3600 + 900)
    assert sorted(r.key for r in made if r.kind == FEED) == list(range(1, 21))
    assert 1 <= sum(1 for r in made if r.kind == MAP) <= 2


def discovered_only(stations) -> Scheduler:
    """A scheduler that has discovered SWISS_BOX's stations and answered no feed yet."""
    scheduler = Scheduler()
    scheduler.update_lines([SWISS_BOX])
    while scheduler.discovering:
        for request in scheduler.plan(T0 + 900, 1000):
            if request.kind == MAP:
                scheduler.map_answered(request, stations_in(request.tile.box, stations), T0 + 900)
            else:
                scheduler.feed_failed(request, T0 - 120, unknown=False)
    return scheduler


def test_news_goes_oldest_first_and_leaves_room_for_map_requests():
    stations = {uid: (46 + uid / 100, 6 + uid / 20, T0 + uid) for uid in range(1, 41)}
    scheduler = discovered_only(stations)
    for sweep in scheduler.sweeps.values():
        sweep.due = T0  # the map is due again too
    requests = scheduler.plan(T0 + 900, 10)
    feeds = [r.key for r in requests if r.kind == FEED]
    maps = [r for r in requests if r.kind == MAP]
    assert feeds == list(range(1, 1 + len(feeds)))  # the oldest readings first
    assert len(feeds) == 10 - len(maps) and 1 <= len(maps) <= 2  # 20 % of the room at most


def test_a_change_seen_after_the_first_look_goes_before_the_backlog_of_the_first_look():
    # At start every station has a reading not yet published: the first look's backlog.
    stations = {uid: (46 + uid / 100, 6 + uid / 20, T0 + uid) for uid in range(1, 41)}
    scheduler = discovered_only(stations)
    # Then a new reading appears at two of them, and a look at the map shows it.
    for uid in (33, 40):
        stations[uid] = (*stations[uid][:2], T0 + 3600)
    for tile in list(scheduler.sweeps):
        scheduler.map_answered(
            Request(MAP, tile, tile=tile, area=SWISS_BOX.key),
            stations_in(tile.box, stations),
            T0 + 3700,
        )
    requests = scheduler.plan(T0 + 3700, 5)
    feeds = [r.key for r in requests if r.kind == FEED]
    # What is new first (oldest first among them), then the backlog, oldest first.
    assert feeds[:2] == [33, 40]
    assert feeds[2:] == [1, 2, 3][: len(feeds) - 2] and len(feeds) >= 3
    # The backlog is still fetched, every station once, with the quota left over.
    rest = [r.key for r in scheduler.plan(T0 + 3700, 1000) if r.kind == FEED]
    assert sorted(feeds + rest) == list(range(1, 41))


def test_a_station_gone_from_its_tile_is_forgotten_and_a_new_one_picked_up():
    stations = {uid: (46 + uid / 100, 6 + uid / 20, T0) for uid in range(1, 11)}
    scheduler = Scheduler()
    scheduler.update_lines([SWISS_BOX])
    settle(scheduler, stations, T0 + 900)
    del stations[3]
    stations[99] = (46.5, 7.5, T0)
    for sweep in scheduler.sweeps.values():
        sweep.due = T0
    made = settle(scheduler, stations, T0 + 960)
    assert 3 not in scheduler.watched and 99 in scheduler.watched
    assert [r.key for r in made if r.kind == FEED] == [99]


def test_a_listed_station_on_the_map_is_fetched_when_the_map_says_so():
    stations = {5419: (47.37, 8.54, T0)}
    scheduler = Scheduler()
    scheduler.update_lines([ZURICH, SWISS_BOX])
    settle(scheduler, stations, T0 + 600, lines={"zurich": 5419})
    assert scheduler.watched[5419].tile is not None
    # No cadence look for it: the map shows when its next reading is there.
    assert [r.kind for r in settle(scheduler, stations, T0 + 6600)] == [MAP]
    stations[5419] = (47.37, 8.54, T0 + 3600)
    made = settle(scheduler, stations, T0 + 7300)
    [again] = [r for r in made if r.kind == FEED]
    assert (again.key, again.query, again.discovered) == (5419, "zurich", False)


def test_a_feed_behind_the_map_is_asked_again_a_few_times_only():
    stations = {1: (46.5, 7.5, T0 + 3600)}
    scheduler = Scheduler()
    scheduler.update_lines([SWISS_BOX])
    now, tries = T0 + 3700, 0
    for _ in range(12):
        for request in scheduler.plan(now, 10):
            if request.kind == MAP:
                scheduler.map_answered(request, stations_in(request.tile.box, stations), now)
            else:
                tries += 1
                scheduler.feed_answered(request, 1, T0, now)  # still the older reading
        now += 301
    assert tries == 1 + 3


def test_a_crowded_tile_is_swept_again_sooner_than_a_quiet_one():
    crowded = {uid: (46 + uid / 1000, 6 + uid / 500, T0 - (uid % 60) * 60) for uid in range(1, 301)}
    quiet = {uid: (47.5 + (uid - 1000) / 100, 10.5, T0) for uid in range(1000, 1004)}
    scheduler = Scheduler()
    scheduler.update_lines([SWISS_BOX])
    settle(scheduler, {**crowded, **quiet}, T0 + 600, cap=100)
    dues = sorted(
        (sweep.due - T0 - 600, len(scheduler.areas[SWISS_BOX.key].tiling.leaves[tile].uids))
        for tile, sweep in scheduler.sweeps.items()
        if scheduler.areas[SWISS_BOX.key].tiling.leaves[tile].uids
    )
    assert all(MIN_SWEEP_GAP <= gap <= MAX_SWEEP_GAP for gap, _ in dues)
    assert dues[0][1] > dues[-1][1]  # the soonest is a crowded one


def test_a_full_sweep_fetches_the_stations_of_a_tile_that_is_down():
    stations = {uid: (46 + uid / 100, 6 + uid / 20, T0) for uid in range(1, 6)}
    scheduler = Scheduler()
    scheduler.update_lines([SWISS_BOX])
    settle(scheduler, stations, T0 + 600)
    assert scheduler.news(exclude=set()) == []  # nothing new, and the map says so
    for now in (T0 + 700, T0 + 800):  # the map fails twice: the tile is down
        for request in scheduler.sweep_requests():
            scheduler.map_failed(request, now)
    assert sorted(r.key for r in scheduler.news(exclude={2})) == [1, 3, 4, 5]
