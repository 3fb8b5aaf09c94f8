"""aqistream/source/discovery.py: quadtree tiling against a fake map that thins like WAQI's.

The fake map keeps, in a crowded box, the `cap` stations of highest priority (fixed per
station, so a station kept in a box is kept in every smaller box), and the tests never tell
the tiling what the cap is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from aqistream.source.discovery import (
    MAP_TIME_CACHE,
    RECHECK_AFTER,
    LearnedCap,
    MapStation,
    Tile,
    Tiling,
    map_stations,
)
from aqistream.source.stations import WORLD, Box


@dataclass(frozen=True)
class Point:
    uid: int
    lat: float
    lng: float
    priority: float


class FakeMap:
    """Answers a box with the stations in it, thinned to `cap` (varying by `wobble`)."""

    def __init__(self, points: list[Point], cap: int, wobble: int = 0, seed: int = 1):
        self.points = points
        self.cap = cap
        self.wobble = wobble
        self.rng = random.Random(seed)
        self.requests = 0

    def answer(self, box: Box) -> list[MapStation]:
        self.requests += 1
        inside = [
            p
            for p in self.points
            if box.south <= p.lat <= box.north and box.west <= p.lng <= box.east
        ]
        cap = self.cap + self.rng.randint(-self.wobble, self.wobble)
        if len(inside) > cap:
            inside = sorted(inside, key=lambda p: -p.priority)[:cap]
        return [MapStation(p.uid, 1_795_000_000) for p in inside]


def clustered_world(count: int, seed: int = 7) -> list[Point]:
    """Stations crowded into a few cities, like the real network, plus some scattered."""
    rng = random.Random(seed)
    cities = [(rng.uniform(-50, 60), rng.uniform(-170, 170)) for _ in range(12)]
    points = []
    for uid in range(1, count + 1):
        if rng.random() < 0.8:
            lat, lng = rng.choice(cities)
            lat, lng = lat + rng.gauss(0, 1.5), lng + rng.gauss(0, 1.5)
        else:
            lat, lng = rng.uniform(-60, 70), rng.uniform(-180, 180)
        uid = -uid if rng.random() < 0.4 else uid
        points.append(Point(uid, max(-90, min(90, lat)), max(-180, min(180, lng)), rng.random()))
    return points


def discover(tiling: Tiling, fake: FakeMap, now: float = 0.0) -> int:
    """Answer whatever the tiling wants until it wants nothing; the requests it took."""
    before = fake.requests
    for _ in range(10_000):
        wanted = tiling.wanted()
        if not wanted:
            return fake.requests - before
        for tile in wanted:
            tiling.answered(tile, fake.answer(tile.box), now)
    raise AssertionError("discovery did not finish")


def sweep(tiling: Tiling, fake: FakeMap, now: float) -> set[int]:
    found: set[int] = set()
    for tile in list(tiling.leaves):
        stations = fake.answer(tile.box)
        found |= {station.uid for station in stations}
        tiling.answered(tile, stations, now)
    return found


@pytest.mark.parametrize("cap", [40, 300, 1250])
def test_a_thinned_area_is_split_until_every_station_is_found(cap):
    points = clustered_world(6000)
    fake = FakeMap(points, cap)
    assert len(fake.answer(WORLD)) == cap  # the world is thinned
    tiling = Tiling(WORLD)
    discover(tiling, fake)
    assert tiling.complete
    assert tiling.stations() == {p.uid for p in points}
    assert tiling.cap.floor is not None and tiling.cap.floor <= cap
    # Every leaf answers in full: no leaf holds as many as the cap.
    assert all(len(leaf.uids) < cap for leaf in tiling.leaves.values())


def test_the_same_area_a_second_time_costs_a_fraction_of_the_requests():
    points = clustered_world(6000)
    fake = FakeMap(points, 300)
    tiling = Tiling(WORLD)
    first = discover(tiling, fake)
    before = fake.requests
    found = sweep(tiling, fake, now=60)
    second = fake.requests - before
    assert found == {p.uid for p in points}
    assert second == len(tiling.leaves)
    assert second < first / 3, (first, second)
    assert tiling.wanted() == []  # the sweep changed nothing: no more discovery


def test_a_cap_that_wobbles_from_answer_to_answer_still_finds_everything():
    points = clustered_world(5000, seed=3)
    fake = FakeMap(points, 250, wobble=5)
    tiling = Tiling(WORLD)
    discover(tiling, fake)
    assert tiling.stations() == {p.uid for p in points}
    for now in (60, 120, 180):
        assert sweep(tiling, fake, now) == {p.uid for p in points}


def test_a_small_area_under_the_cap_is_one_leaf_after_one_check():
    points = [Point(i, 45 + i / 10, 6 + i / 8, 0.5) for i in range(1, 31)]
    fake = FakeMap(points, 1000)
    tiling = Tiling(Box(45, 6, 48, 10))
    assert discover(tiling, fake) == 5  # the box, then its quarters to prove it complete
    assert list(tiling.leaves) == [Tile(Box(45, 6, 48, 10))]
    assert tiling.cap.floor is None  # nothing was ever thinned: no cap is assumed


def test_stations_in_one_corner_are_checked_further_down_yet_stay_one_leaf():
    # All in one quarter of one quarter: the quarters tell nothing until they differ.
    points = [Point(i, 45.1 + i / 100, 6.1 + i / 100, 0.5) for i in range(1, 31)]
    tiling = Tiling(Box(45, 6, 48, 10))
    assert discover(tiling, FakeMap(points, 1000)) == 1 + 4 + 4 + 4
    assert list(tiling.leaves) == [Tile(Box(45, 6, 48, 10))]


def test_an_empty_area_costs_one_request():
    tiling = Tiling(Box(-60, -150, -50, -140))
    assert discover(tiling, FakeMap([], 100)) == 1
    assert tiling.complete and tiling.stations() == frozenset()


def test_a_leaf_that_fills_up_is_split_before_it_loses_a_station():
    rng = random.Random(5)
    points = [Point(i, rng.uniform(0, 10), rng.uniform(0, 10), rng.random()) for i in range(1, 401)]
    fake = FakeMap(points, 100)
    tiling = Tiling(Box(0, 0, 10, 10))
    discover(tiling, fake)
    assert tiling.stations() == {p.uid for p in points}
    # New stations appear in the fullest leaf, a few at a time, until it would hold more
    # than the cap; every sweep must still see all of them.
    fullest = max(tiling.leaves, key=lambda tile: len(tiling.leaves[tile].uids))
    box = fullest.box
    uid = 1000
    for now in range(60, 60 * 40, 60):
        for _ in range(5):
            uid += 1
            lat = rng.uniform(box.south, box.north)
            fake.points.append(Point(uid, lat, rng.uniform(box.west, box.east), rng.random()))
        sweep(tiling, fake, now)
        discover(tiling, fake, now)
        assert tiling.stations() == {p.uid for p in fake.points}, now
    assert fullest not in tiling.leaves  # it was split on the way


def test_a_leaf_is_proven_complete_again_after_a_while():
    points = clustered_world(2000)
    fake = FakeMap(points, 200)
    tiling = Tiling(WORLD)
    discover(tiling, fake, now=0)
    assert tiling.due_for_check(RECHECK_AFTER - 1) == []
    due = tiling.due_for_check(RECHECK_AFTER)
    assert set(due) == set(tiling.leaves)
    # The cap shrank meanwhile: rechecking finds the leaves it thinned now, and splits them.
    fake.cap = 60
    for tile in due:
        tiling.recheck(tile)
    discover(tiling, fake, now=RECHECK_AFTER)
    assert tiling.stations() == {p.uid for p in points}
    assert all(len(leaf.uids) < 60 for leaf in tiling.leaves.values())


def test_stations_stacked_on_one_spot_beyond_the_cap_end_the_descent_as_one_leaf():
    # A hundred stations at one spot, thirty shown: no box can tell them apart, so the
    # descent ends at the smallest tile, and nothing ever showed the area thinned.
    points = [Point(i, 10.3, 20.7, random.random()) for i in range(1, 101)]
    fake = FakeMap(points, 30)
    tiling = Tiling(Box(0, 0, 40, 40))
    assert discover(tiling, fake) < 100  # it ends, after a descent of a dozen levels
    assert tiling.complete
    assert list(tiling.leaves) == [Tile(Box(0, 0, 40, 40))]
    assert len(tiling.stations()) == 30


def test_the_cap_learned_in_one_area_is_shared_with_the_others():
    cap = LearnedCap()
    points = clustered_world(3000)
    fake = FakeMap(points, 150)
    discover(Tiling(WORLD, cap), fake)
    assert cap.floor is not None and cap.floor <= 150
    assert cap.near(cap.floor) and not cap.near(cap.floor // 2)


def test_map_items_become_stations_and_feed_paths():
    items = [
        {"lat": 51.5, "lon": -0.01, "uid": 7948, "aqi": "44",
         "station": {"name": "London", "time": "2022-04-22T22:00:00+09:00"}},
        {"lat": 1, "lon": 2, "uid": -410383, "aqi": "-",
         "station": {"name": "crowd", "time": "2022-04-22T21:44:13+09:00"}},
        {"lat": 1, "lon": 2, "uid": 12, "station": {"name": "no time"}},
        {"lat": 1, "lon": 2, "uid": 13, "station": {"time": "yesterday"}},
        {"lat": 1, "lon": 2, "uid": 14, "station": {"time": "2022-04-22T22:00:00"}},
        {"uid": "7948"}, {"uid": 0}, {"uid": True}, "garbage", None,
    ]  # fmt: skip
    stations = map_stations(items)
    assert stations == [
        MapStation(7948, 1650632400),  # 13:00 UTC
        MapStation(-410383, 1650631453),
        MapStation(12, None),
        MapStation(13, None),
        MapStation(14, None),  # no offset: the instant is unknown
    ]
    assert [s.feed_path for s in stations[:2]] == ["@7948", "A410383"]


def test_parsed_times_are_cached_between_answers():
    cache: dict = {}
    item = {"uid": 1, "station": {"time": "2022-04-22T22:00:00+09:00"}}
    map_stations([item], cache)
    assert cache == {"2022-04-22T22:00:00+09:00": 1650632400}
    cache["2022-04-22T22:00:00+09:00"] = 5  # a cached value is used as it is
    assert map_stations([item], cache) == [MapStation(1, 5)]


def test_the_cache_of_parsed_times_stays_bounded_and_right():
    cache: dict = {}
    # Times that carry seconds: a new string at every answer.
    tokyo = timezone(timedelta(hours=9))
    for second in range(MAP_TIME_CACHE + 50):
        text = datetime.fromtimestamp(1650632400 + second, tokyo).isoformat()
        item = {"uid": 1, "station": {"time": text}}
        assert map_stations([item], cache) == [MapStation(1, 1650632400 + second)]
        assert len(cache) <= MAP_TIME_CACHE
    last = {"uid": 2, "station": {"time": "2022-04-22T22:00:01+09:00"}}
    assert map_stations([last], cache) == [MapStation(2, 1650632401)]


def test_quarters_cover_their_tile_exactly():
    tile = Tile(Box(-90, -180, 90, 180))
    quarters = tile.quarters()
    assert [q.box for q in quarters] == [
        Box(-90, -180, 0, 0), Box(-90, 0, 0, 180), Box(0, -180, 90, 0), Box(0, 0, 90, 180)
    ]  # fmt: skip
    assert {q.depth for q in quarters} == {1}
