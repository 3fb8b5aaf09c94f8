"""producer.py with bounds: and world lines, against the simulator's thinned map: every
station of an area found, each reading once, few requests once the tiling is known.

The simulator's map cap is set low (--map-cap), so even a small area must be tiled.
"""

from __future__ import annotations

import json
import re
import signal
from collections import Counter

import pytest

from tests.pipeline import (
    NO_QUOTA,
    TOKEN,
    assert_exactly_once,
    read_topic,
    readings_in,
    run_producer_once,
    served_readings,
    start_producer,
    wait_for,
    waqi_simulator,
)

BOX = "45,5,55,15"  # central Europe: about 180 of the simulator's stations (seed 21)
CAP = "40"
CYCLE = re.compile(
    r"cycle (?P<n>\d+): (?P<polled>\d+) stations polled, (?P<published>\d+) new readings "
    r"published.*?, (?P<requests>\d+) API requests(?: \((?P<tiles>\d+) map tiles?\))?"
)


@pytest.fixture
def sim():
    with waqi_simulator(21, "--quota", "0", "--stations", "3000", "--map-cap", CAP) as s:
        yield s


def stations_in(sim, box: str) -> list[dict]:
    return sim.admin("GET", f"/admin/stations?bounds={box}&present=true&limit=100000")["stations"]


def with_readings(stations: list[dict]) -> set[int]:
    """The stations that have a reading to publish (time-less ones never do)."""
    return {s["idx"] for s in stations if s["status"] != "no_time"}


def cycles(log: str) -> list[dict]:
    return [match.groupdict() for match in CYCLE.finditer(log)]


def test_a_bounds_line_publishes_exactly_the_stations_inside_it_once_each(
    workdir, sim, topic_name, bootstrap_servers
):
    (workdir / "stations.txt").write_text(f"bounds:{BOX}\n")
    result = run_producer_once(workdir, sim, topic_name, *NO_QUOTA)
    assert result.returncode == 0, result.stderr
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    inside = stations_in(sim, BOX)
    assert len(inside) > 4 * int(CAP)  # the box is thinned: one map request cannot list it
    assert {idx for idx, _ in published} == with_readings(inside)
    assert_exactly_once(published, served_readings(sim))
    assert re.search(
        r"discovery: bounds:45,5,55,15 \(stations.txt:1\) covered by \d+ map", result.stderr
    )
    assert "Traceback" not in result.stderr


def test_an_hour_later_a_sweep_costs_its_tiles_and_one_feed_per_new_reading(
    workdir, sim, topic_name, bootstrap_servers
):
    """With --interval the tiling is kept between cycles: after the first (discovery), a
    cycle asks each tile once and fetches only the stations whose reading changed."""
    (workdir / "stations.txt").write_text(f"bounds:{BOX}\n")
    producer = start_producer(workdir, sim, topic_name, "--interval", "1", *NO_QUOTA)
    wait_for(lambda: len(cycles(producer.stderr())) >= 2, 90, "two cycles")
    tiles = int(re.search(r"covered by (\d+) map tiles", producer.stderr())[1])
    first, quiet = cycles(producer.stderr())[:2]
    # Within the hour only a crowd sensor or two has reported since: a cycle is its tiles.
    assert int(quiet["tiles"]) == tiles
    assert int(quiet["requests"]) == tiles + int(quiet["polled"]) and int(quiet["polled"]) <= 10
    assert int(first["requests"]) > tiles + int(first["polled"])  # discovery's requests
    sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    count = len(cycles(producer.stderr()))
    wait_for(
        lambda: any(int(c["published"]) for c in cycles(producer.stderr())[count:]),
        90,
        "the next hour's readings",
    )
    assert producer.stop(signal.SIGTERM) == 0, producer.stderr()
    later = [c for c in cycles(producer.stderr())[count:] if int(c["published"])][0]
    # Exactly the tiles, plus one feed per station the map shows a new reading of (a few
    # of which may turn out to have none usable: time-less stations).
    assert int(later["tiles"]) == tiles
    assert int(later["requests"]) == tiles + int(later["polled"])
    assert int(later["published"]) >= 0.95 * int(later["polled"])
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert_exactly_once(published, served_readings(sim))
    # Each reporting station now has two readings; stale ones still one.
    inside = {s["idx"]: s for s in stations_in(sim, BOX)}
    twice = {idx for idx, n in Counter(idx for idx, _ in published).items() if n == 2}
    assert twice == {idx for idx, s in inside.items() if s["status"] in ("reporting", "unrated")}


def test_world_with_the_token_refused_exits_2_saying_how_to_get_one(workdir, sim, topic_name):
    (workdir / "stations.txt").write_text("world\n")
    result = run_producer_once(workdir, sim, topic_name, WAQI_TOKEN="not-the-right-one")
    assert result.returncode == 2, result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert "Invalid key" in last_line and "https://aqicn.org/data-platform/token/" in last_line
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr


def test_listed_lines_and_an_area_that_holds_them_publish_each_station_once(
    workdir, sim, topic_name, bootstrap_servers
):
    (workdir / "stations.txt").write_text(f"zurich\nbounds:{BOX}\n@5419\nbasel\n")
    result = run_producer_once(workdir, sim, topic_name, *NO_QUOTA)
    assert result.returncode == 0, result.stderr
    messages = read_topic(bootstrap_servers, topic_name)
    published = readings_in(messages)
    assert set(published.values()) == {1}
    assert {idx for idx, _ in published} == with_readings(stations_in(sim, BOX)) | {5419}
    stations = [json.loads(value)["station"] for _, value in messages]
    queries = {station["idx"]: station["query"] for station in stations}
    assert queries[5419] in ("zurich", "@5419")  # its own lines name it, not the area
