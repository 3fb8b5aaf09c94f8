"""The simulator at network scale, pure parts: publication lag, churn, thinning, the grid index,
the availability record, and the API answers they shape (no HTTP; test_waqi_sim_scale.py
runs them over HTTP)."""

from __future__ import annotations

import json
import math
import random
from statistics import median

import pytest

from aqistream.waqi_sim.api import FEED, MAP_BOUNDS, MAP_BOUNDS_V2, SEARCH, Request, WaqiApi
from aqistream.waqi_sim.availability import available_runs
from aqistream.waqi_sim.catalogue import (
    CROWD,
    NO_TIME,
    OFFICIAL,
    REPORTING,
    STALE,
    UNRATED,
    build_catalogue,
    stations_of,
)
from aqistream.waqi_sim.churn import ALWAYS, Churn, newcomer_count, plan_churn, present_in
from aqistream.waqi_sim.localtime import parse_instant
from aqistream.waqi_sim.publication import HOUR, Publication, observed_at_or_before
from aqistream.waqi_sim.spatial import GridIndex
from aqistream.waqi_sim.thinning import VARIATION, MapCap, cap_for, map_priority
from aqistream.waqi_sim.world import World
from tests.simulator import cover_with_tiles

START = parse_instant("2026-11-23T13:20:00Z")
SEED = 4


@pytest.fixture(scope="module")
def catalogue():
    return build_catalogue(seed=SEED, generated=600)


@pytest.fixture(scope="module")
def lagged():
    return Publication(SEED, lagged=True)


def reporting(catalogue, network: str) -> list:
    return stations_of(catalogue, network=network, status=REPORTING)


# --- publication lag ------------------------------------------------------------------------


def test_without_lag_a_reading_appears_when_it_is_observed(catalogue):
    ideal = Publication(SEED, lagged=False)
    for station in catalogue.stations[:50]:
        slot = observed_at_or_before(station, START)
        assert ideal.latest_observed(station, START) == slot
        assert ideal.appears_at(station, slot) == slot
        assert ideal.typical_lag(station) == 0


def test_official_lags_run_from_minutes_to_about_two_hours(catalogue, lagged):
    lags = [lagged.typical_lag(s) for s in stations_of(catalogue, network=OFFICIAL)]
    assert min(lags) >= 300 and max(lags) <= 6900
    assert min(lags) < 900 and max(lags) > 5400  # minutes to nearly two hours
    assert 1800 < median(lags) < 4200


def test_crowd_sensors_are_fresher(catalogue, lagged):
    lags = [lagged.typical_lag(s) for s in stations_of(catalogue, network=CROWD)]
    assert min(lags) >= 30 and max(lags) <= 480
    official = [lagged.typical_lag(s) for s in stations_of(catalogue, network=OFFICIAL)]
    assert median(lags) * 4 < median(official)


def test_lag_varies_a_little_from_hour_to_hour(catalogue, lagged):
    station = reporting(catalogue, OFFICIAL)[3]
    typical = lagged.typical_lag(station)
    slot = observed_at_or_before(station, START)
    lags = [lagged.lag(station, slot + k * HOUR) for k in range(48)]
    assert len(set(lags)) > 10
    assert all(abs(lag - typical) <= 60 + 0.08 * typical + 1 for lag in lags)


def test_lags_are_fixed_by_the_seed(catalogue):
    station = reporting(catalogue, OFFICIAL)[0]
    slot = observed_at_or_before(station, START)
    again = Publication(SEED, lagged=True)
    other = Publication(SEED + 1, lagged=True)
    assert again.lag(station, slot) == Publication(SEED, True).lag(station, slot)
    lags = [Publication(SEED, True).typical_lag(s) for s in catalogue.stations[:40]]
    assert lags != [other.typical_lag(s) for s in catalogue.stations[:40]]
    assert lags == [again.typical_lag(s) for s in catalogue.stations[:40]]


def test_the_latest_reading_is_the_newest_that_has_appeared(catalogue):
    """Against the definition, at random instants, also going back in time (clock set)."""
    publication = Publication(SEED, lagged=True)
    rng = random.Random(1)
    stations = catalogue.stations[:80]
    for _ in range(2000):
        station = rng.choice(stations)
        now = START + rng.uniform(-5 * HOUR, 30 * HOUR)
        latest = publication.latest_observed(station, now)
        assert publication.appears_at(station, latest) <= now
        assert publication.appears_at(station, latest + HOUR) > now
        assert latest == observed_at_or_before(station, latest)


def test_readings_appear_in_the_order_observed(catalogue, lagged):
    for station in catalogue.stations[:100]:
        slot = observed_at_or_before(station, START)
        appearances = [lagged.appears_at(station, slot + k * HOUR) for k in range(30)]
        assert appearances == sorted(set(appearances))


def test_with_lag_the_feed_shows_the_previous_hour_until_the_reading_appears(catalogue):
    world = World(SEED, Publication(SEED, lagged=True))
    station = max(reporting(catalogue, OFFICIAL), key=world.publication.typical_lag)
    hour = observed_at_or_before(station, START)
    appears = world.publication.appears_at(station, hour)
    assert appears - hour > HOUR  # this one's lag is more than an hour
    assert world.observed_at(station, appears - 1) == hour - HOUR
    assert world.observed_at(station, appears) == hour
    # debug.sync is when the reading shown appeared
    assert world.synced_at(station, appears + 60) == appears
    assert World(SEED).observed_at(station, hour) == hour  # no lag: at once


# --- churn ------------------------------------------------------------------------------------


def churn_plan(catalogue, share=0.05, count=400):
    generated = catalogue.stations[9:]
    newcomers = newcomer_count(count, share)
    return plan_churn(
        SEED, generated[:count], generated[count : count + newcomers], START, 24 * HOUR
    )


def test_churn_vanishes_a_share_and_brings_as_many_new_stations(catalogue):
    lives = churn_plan(catalogue)
    leaving = [idx for idx, life in lives.items() if life[0][1] is not None]
    arriving = [idx for idx, life in lives.items() if life[0][0] is not None]
    assert len(leaving) == len(arriving) == 20
    generated = catalogue.stations[9:]
    assert {catalogue.by_idx(idx) for idx in arriving} == set(generated[400:420])
    assert set(leaving) <= {station.idx for station in generated[:400]}
    for life in lives.values():
        ((began, ended),) = life
        moment = began if began is not None else ended
        assert START <= moment <= START + 24 * HOUR
    moments = sorted(began or ended for ((began, ended),) in lives.values())
    assert moments[-1] - moments[0] > 12 * HOUR  # spread over the window


def test_the_churn_plan_is_fixed_by_the_seed(catalogue):
    assert churn_plan(catalogue) == churn_plan(catalogue)
    generated = catalogue.stations[9:]
    other = plan_churn(SEED + 1, generated[:400], generated[400:420], START, 24 * HOUR)
    assert other != churn_plan(catalogue)


def test_presence_follows_the_plan(catalogue):
    lives = churn_plan(catalogue)
    churn = Churn(lives)
    for idx, (((began, ended),)) in lives.items():
        station = catalogue.by_idx(idx)
        if began is not None:
            assert not churn.present(station, began - 1) and churn.present(station, began)
        else:
            assert churn.present(station, ended - 1) and not churn.present(station, ended)
    assert churn.present(catalogue.by_idx(5419), START)  # no plan: always there
    assert churn.life(5419) == ALWAYS


def test_the_admin_can_make_a_station_vanish_and_come_back():
    churn = Churn({7: ((None, START + 100),), 8: ((START + 100, None),)})
    churn.vanish(7, START + 10)
    assert churn.life(7) == ((None, START + 10),)
    churn.appear(7, START + 50)
    assert churn.life(7) == ((None, START + 10), (START + 50, None))
    assert present_in(churn.life(7), START + 5) and not present_in(churn.life(7), START + 20)
    assert present_in(churn.life(7), START + 10_000)  # the planned vanishing is cancelled
    churn.vanish(8, START)  # not there yet: its appearance is cancelled
    assert not any(present_in(churn.life(8), START + s) for s in (0, 100, 10_000))
    churn.appear(9, START)  # present already: nothing changes
    assert churn.life(9) == ((None, None),)


# --- thinning and the grid index ----------------------------------------------------------------


def test_the_cap_varies_a_little_with_the_box_and_the_hour():
    boxes = [(-85.0, -180.0, 85.0, 180.0), (40.0, -10.0, 60.0, 30.0), (0.0, 0.0, 4.0, 4.0)]
    caps = {cap_for(SEED, 1250, box, START + h * HOUR) for box in boxes for h in range(24)}
    assert len(caps) > 5
    assert min(caps) >= 1250 - 25 and max(caps) <= 1250 + 25
    assert cap_for(SEED, 1250, boxes[0], START) == cap_for(SEED, 1250, boxes[0], START + 60)
    small = {cap_for(SEED, 10, box, START + h * HOUR) for box in boxes for h in range(24)}
    assert small == {9, 10, 11}  # at least one either way, so no cap is one fixed number
    assert VARIATION == 0.02


def test_map_cap_zero_turns_thinning_off():
    cap = MapCap(SEED, 0)
    assert cap.limit((0, 0, 1, 1), START) is None
    cap.set(40)
    assert 39 <= cap.limit((0, 0, 1, 1), START) <= 41
    assert cap.to_json() == {"cap": 40, "variation": 0.02, "thinning": True}
    with pytest.raises(ValueError):
        cap.set(-1)


def test_official_and_reporting_stations_are_favoured(catalogue):
    def mean_priority(**wanted):
        found = stations_of(catalogue, **wanted)
        return sum(map_priority(SEED, s) for s in found) / len(found)

    assert mean_priority(network=OFFICIAL, status=REPORTING) > mean_priority(
        network=CROWD, status=REPORTING
    )
    assert mean_priority(network=CROWD, status=REPORTING) > mean_priority(
        network=CROWD, status=STALE
    )
    assert all(0 < map_priority(SEED, s) < 1 for s in catalogue.stations)


@pytest.fixture(scope="module")
def big_catalogue():
    return build_catalogue(seed=SEED, generated=6000)


def test_the_grid_index_finds_what_a_full_scan_finds_in_priority_order(big_catalogue):
    priority = {s.idx: map_priority(SEED, s) for s in big_catalogue.stations}
    index = GridIndex((s, priority[s.idx]) for s in big_catalogue.stations)
    rng = random.Random(2)
    boxes = [(-90.0, -180.0, 90.0, 180.0), (47.0, 8.0, 48.0, 9.0), (52.0, 5.0, 52.0, 5.0)]
    boxes += [(s.geo[0], s.geo[1], s.geo[0], s.geo[1]) for s in big_catalogue.stations[:5]]
    for _ in range(200):
        south, west = rng.uniform(-60, 70), rng.uniform(-180, 170)
        size = rng.choice((0.05, 0.5, 1.0, 3.7, 20.0))
        boxes.append((south, west, south + size, west + size * 1.5))
    for box in boxes:
        south, west, north, east = box
        expected = sorted(
            (
                s
                for s in big_catalogue.stations
                if south <= s.geo[0] <= north and west <= s.geo[1] <= east
            ),
            key=lambda s: -priority[s.idx],
        )
        assert list(index.in_box(box)) == expected, box


def test_the_grid_index_takes_odd_boxes(big_catalogue):
    index = GridIndex((s, 0.5) for s in big_catalogue.stations)
    nan, inf = math.nan, math.inf
    assert list(index.in_box((nan, 0.0, 10.0, 10.0))) == []
    assert len(list(index.in_box((-inf, -inf, inf, inf)))) == len(big_catalogue.stations)
    assert list(index.in_box((10.0, 10.0, 5.0, 5.0))) == []  # never asked: api sorts corners
    assert list(index.in_box((5000.0, 5000.0, 6000.0, 6000.0))) == []


# --- the availability record --------------------------------------------------------------------


def first_seen(world, churn, stations, begin, end, step):
    """Brute force: poll every station every `step` seconds; when each reading is first seen."""
    seen = {}
    now = begin
    while now < end:
        for station in stations:
            if churn.present(station, now):
                observed = world.observed_at(station, now)
                if observed is not None:
                    seen.setdefault((station.idx, observed), now)
        now += step
    return seen


def test_availability_is_when_a_poller_first_sees_each_reading(catalogue):
    """Lag and churn on: every reading a tight poller sees is recorded, appearing at most one
    polling step before it was seen, and nothing is recorded that the poller missed."""
    world = World(SEED, Publication(SEED, lagged=True))
    stations = [s for s in catalogue.stations if s.status != STALE][:150]
    lives = plan_churn(SEED, stations[:130], stations[130:], START, 3 * HOUR)
    churn = Churn(lives)
    begin, end, step = START, START + 5 * HOUR, 20
    runs = available_runs(world, churn, stations, begin, end)
    recorded = {(run.idx, observed): at for run in runs for observed, at in run.readings()}
    seen = first_seen(world, churn, stations, begin, end, step)
    # The poller's first look at `begin` sees readings that appeared before: not in the span.
    seen = {key: at for key, at in seen.items() if key in recorded or at > begin}
    assert set(recorded) == set(seen)
    for key, at in recorded.items():
        assert at <= seen[key] < at + step, key
        assert begin <= at < end
    assert len(recorded) > 600
    assert {catalogue.by_idx(idx).status for idx, _ in recorded} == {REPORTING, UNRATED}
    assert not any(catalogue.by_idx(idx).status == NO_TIME for idx, _ in recorded)


def test_a_stale_station_s_reading_appears_when_its_frozen_time_jumps(catalogue):
    world = World(SEED)
    stations = stations_of(catalogue, status=STALE)[:12]
    begin, end = START, START + 60 * 24 * HOUR
    runs = available_runs(world, Churn(), stations, begin, end)
    recorded = {(run.idx, observed): at for run in runs for observed, at in run.readings()}
    seen = first_seen(world, Churn(), stations, begin, end, HOUR)
    seen = {key: at for key, at in seen.items() if at > begin}
    assert set(recorded) == set(seen) and len(recorded) >= 2 * len(stations)
    for key, at in recorded.items():
        assert at <= seen[key] < at + HOUR
        assert at - key[1] >= 2 * 24 * HOUR  # days old when it appears


def test_availability_respects_the_admin_s_changes(catalogue):
    world = World(SEED)
    station = reporting(catalogue, OFFICIAL)[0]
    churn = Churn()
    churn.vanish(station.idx, START + 2 * HOUR + 5)
    churn.appear(station.idx, START + 4 * HOUR + 7)
    runs = available_runs(world, churn, [station], START, START + 6 * HOUR)
    observed = [(o, a) for run in runs for o, a in run.readings()]
    hour = observed_at_or_before(station, START)
    # From 13:20: 14:00 and 15:00 appear on time; gone from 15:20:05 to 17:20:07, so 16:00
    # never appears and 17:00 appears with the station; 18:00 and 19:00 on time.
    assert observed == [
        (hour + HOUR, hour + HOUR),
        (hour + 2 * HOUR, hour + 2 * HOUR),
        (hour + 4 * HOUR, START + 4 * HOUR + 7),
        (hour + 5 * HOUR, hour + 5 * HOUR),
        (hour + 6 * HOUR, hour + 6 * HOUR),
    ]


def test_runs_are_compact_and_in_order(catalogue):
    world = World(SEED, Publication(SEED, lagged=True))
    stations = catalogue.stations[:200]
    runs = available_runs(world, Churn(), stations, START, START + 24 * HOUR)
    assert [run.idx for run in runs] == sorted(run.idx for run in runs)
    count = sum(len(run.lags) for run in runs)
    reporting_count = sum(1 for s in stations if s.status in (REPORTING, UNRATED))
    assert count >= 23 * reporting_count
    body = json.dumps([run.to_json() for run in runs], separators=(",", ":"))
    assert len(body) / count < 12  # bytes per reading


# --- what the API answers -------------------------------------------------------------------------


def network_api(catalogue, cap=40, lagged=True, lives=None):
    world = World(SEED, Publication(SEED, lagged=lagged))
    return WaqiApi(catalogue, world, Churn(lives or {}), MapCap(SEED, cap))


def map_items(api, box, now, endpoint=MAP_BOUNDS_V2, networks="all"):
    reply = api.answer(Request(endpoint, "", {"latlng": box, "networks": networks}), now)
    body = json.loads(reply.body)
    assert body["status"] == "ok", body
    return body["data"]


def test_a_crowded_box_is_thinned_to_about_the_cap(catalogue):
    api = network_api(catalogue, cap=40)
    now = START + 1000
    world = map_items(api, "-90,-180,90,180", now)
    assert 39 <= len(world) <= 41
    assert len({item["uid"] for item in world}) == len(world)
    official = map_items(api, "-90,-180,90,180", now, MAP_BOUNDS)
    assert 39 <= len(official) <= 41 and all(item["uid"] > 0 for item in official)
    swiss = map_items(api, "45.8,5.9,47.9,10.5", now)
    assert len(swiss) < 40 and {5419, 5413} <= {item["uid"] for item in swiss}  # not thinned


def test_what_survives_thinning_survives_in_every_smaller_box(catalogue):
    api = network_api(catalogue, cap=40)
    now = START
    kept = {item["uid"]: item for item in map_items(api, "-90,-180,90,180", now)}
    for box in ("0,-180,90,0", "0,0,90,180", "-90,-180,0,180", "30,-20,70,40"):
        south, west, north, east = (float(x) for x in box.split(","))
        inside = {
            uid
            for uid, item in kept.items()
            if south <= item["lat"] <= north and west <= item["lon"] <= east
        }
        assert inside <= {item["uid"] for item in map_items(api, box, now)}, box


def test_splitting_tiles_finds_every_station_and_none_that_vanished(catalogue):
    generated = catalogue.stations[9:]
    lives = plan_churn(SEED, generated[:560], generated[560:600], START, 2 * HOUR)
    api = network_api(catalogue, cap=40, lives=lives)
    now = START + HOUR
    calls = []
    found = cover_with_tiles(
        lambda box: map_items(api, ",".join(map(str, box)), now), (-90, -180, 90, 180), 35, calls
    )
    present = {s.idx for s in catalogue.stations if api.churn.present(s, now)}
    assert set(found) == present
    assert len(present) < len(catalogue.stations)  # some not yet there, some gone
    assert len(calls) < len(catalogue.stations) / 5


def test_map_times_are_the_feeds_observation_times_in_tokyo_time(catalogue):
    api = network_api(catalogue, cap=0)
    now = START + 1800
    for item in map_items(api, "-90,-180,90,180", now):
        assert item["station"]["time"].endswith("+09:00")
        path = f"A{-item['uid']}" if item["uid"] < 0 else f"@{item['uid']}"
        feed = json.loads(api.answer(Request(FEED, path), now).body)["data"]
        if feed["time"].get("v") == 0:  # time-less: the map shows when it stopped
            assert item["aqi"] == "-"
            continue
        assert parse_instant(item["station"]["time"]) == parse_instant(feed["time"]["iso"])
        assert item["aqi"] == str(feed["aqi"])


@pytest.mark.parametrize(
    ("latlng", "message"),
    [
        ("", "invalid bounds"),
        ("1,2,3", "invalid bounds"),
        ("1,2,3,4,5", "invalid bounds"),
        ("lol,bruh,0,0", 'invalid bounds: strconv.ParseFloat: parsing "lol": invalid syntax'),
        ("1,2,3,4x", 'invalid bounds: strconv.ParseFloat: parsing "4x": invalid syntax'),
        ("1, 2,3,4", 'invalid bounds: strconv.ParseFloat: parsing " 2": invalid syntax'),
    ],
)
def test_bad_bounds_get_waqi_s_error_bodies(catalogue, latlng, message):
    api = network_api(catalogue)
    reply = api.answer(Request(MAP_BOUNDS_V2, "", {"latlng": latlng}), START)
    assert reply.status == 200
    assert json.loads(reply.body) == {"status": "error", "data": message}


def test_a_vanished_station_answers_like_one_waqi_does_not_know(catalogue):
    official = reporting(catalogue, OFFICIAL)[5]
    crowd = reporting(catalogue, CROWD)[5]
    lives = {official.idx: ((None, START),), crowd.idx: ((None, START),)}
    api = network_api(catalogue, cap=0, lives=lives)

    def feed(path, now):
        return json.loads(api.answer(Request(FEED, path), now).body)

    before, after = START - 1, START
    assert feed(f"@{official.idx}", before)["data"]["idx"] == official.idx
    assert feed(f"@{official.idx}", after) == {
        "status": "ok",
        "data": {"status": "error", "msg": "Unknown ID"},
    }
    assert feed(f"A{-crowd.idx}", before)["data"]["idx"] == crowd.idx
    assert feed(f"A{-crowd.idx}", after) == {"status": "error", "data": "no such station"}
    assert feed(f"@{crowd.idx}", after)["data"] == {"status": "error", "msg": "Unknown ID"}
    assert feed(official.name, after) == {"status": "error", "data": "Unknown station"}
    uids = {item["uid"] for item in map_items(api, "-90,-180,90,180", after)}
    assert official.idx not in uids and crowd.idx not in uids
    assert official.idx in {item["uid"] for item in map_items(api, "-90,-180,90,180", before)}
    search = json.loads(api.answer(Request(SEARCH, "", {"keyword": official.name}), after).body)
    assert official.idx not in {item["uid"] for item in search["data"]}
    lat, lng = official.geo
    assert feed(f"geo:{lat};{lng}", before)["data"]["idx"] == official.idx
    assert feed(f"geo:{lat};{lng}", after)["data"]["idx"] != official.idx
