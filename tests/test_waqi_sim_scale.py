"""The simulator at network scale over real HTTP: 30,000 stations, thinning and tiling, churn,
the availability record against what was served, the admin endpoints, and how fast it answers.

One `--stations 30000 --realistic` simulator serves the module; its clock only moves when a
test moves it, forward, so tests read the clock rather than assume it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from email.utils import parsedate_to_datetime

import pytest

from aqistream.waqi_sim.localtime import parse_instant, utc_iso
from tests.simulator import Simulator, cover_with_tiles, running_simulator

TOKEN = "scale-token"
START = "2026-11-23T13:20:00Z"
HOUR = 3600
FROZEN = "40000000"  # a simulated hour lasts ~11 real years: only tests move the clock
NETWORK = ("--seed", "21", "--stations", "30000", "--realistic", "--start", START)
NETWORK += ("--hour-seconds", FROZEN, "--quota", "0", "--token", TOKEN)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(*NETWORK, start_timeout=120) as simulator:
        yield simulator


def data_of(simulator: Simulator, path: str, **params) -> object:
    response = simulator.get(path, token=TOKEN, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok", body
    return body["data"]


def world_map(simulator: Simulator, box: str = "-90,-180,90,180") -> list[dict]:
    return data_of(simulator, "/v2/map/bounds", latlng=box, networks="all")


def now_of(simulator: Simulator) -> float:
    return simulator.admin("GET", "/admin/clock")["epoch"]


def advance(simulator: Simulator, seconds: float) -> float:
    return simulator.admin("POST", "/admin/clock", {"advance_seconds": seconds})["epoch"]


def all_stations(simulator: Simulator, query: str = "") -> list[dict]:
    return simulator.admin("GET", f"/admin/stations?{query}")["stations"]


def feed_path(station: dict) -> str:
    return station["feed"]


# --- the network --------------------------------------------------------------------------------


def test_the_network_has_30000_stations_about_half_crowd_and_newcomers_to_come(sim):
    stations = all_stations(sim)
    present = [s for s in stations if s["present"]]
    crowd = [s for s in present if s["network"] == "crowd"]
    assert len(stations) == 9 + 30000 + 300
    assert 29_700 <= len(present) <= 30_309
    assert 0.40 <= len(crowd) / len(present) <= 0.5
    arriving = [s for s in stations if s["appears_at"] is not None]
    leaving = [s for s in stations if s["vanishes_at"] is not None]
    assert len(arriving) == len(leaving) == 300
    incumbents = [s for s in stations if s["appears_at"] is None]
    # Newcomers are new stations: idx beyond every incumbent's, official and crowd alike.
    assert min(s["idx"] for s in arriving if s["idx"] > 0) > max(s["idx"] for s in incumbents)
    assert max(s["idx"] for s in arriving if s["idx"] < 0) < min(s["idx"] for s in incumbents)
    assert not {s["idx"] for s in leaving} & set(range(5400, 5500))  # the Swiss 9 stay
    official_lags = sorted(s["lag_seconds"] for s in present if s["network"] == "official")
    assert official_lags[0] >= 300 and official_lags[-1] <= 6900
    assert all(0 < s["map_priority"] < 1 for s in stations[:100])


def test_a_whole_world_request_lists_only_about_1250_stations(sim):
    items = world_map(sim)
    assert 1225 <= len(items) <= 1275
    assert len({item["uid"] for item in items}) == len(items)
    assert any(item["uid"] < 0 for item in items) and any(item["aqi"] == "-" for item in items)
    assert world_map(sim) == items  # same box, same simulated hour: same answer


def test_splitting_crowded_tiles_finds_every_station_of_the_world(sim):
    calls: list = []
    began = time.monotonic()
    found = cover_with_tiles(
        lambda box: world_map(sim, ",".join(f"{v:.6f}" for v in box)),
        (-90.0, -180.0, 90.0, 180.0),
        split_at=1200,
        calls=calls,
    )
    seconds = time.monotonic() - began
    present = {s["idx"] for s in all_stations(sim, "present=true")}
    assert set(found) == present
    assert 50 < len(calls) < 400
    print(f"\nworld tiled in {len(calls)} map requests, {seconds:.1f} s")


def test_a_small_cap_makes_splitting_cheap_to_test():
    args = ("--seed", "5", "--stations", "300", "--start", START, "--hour-seconds", FROZEN)
    with running_simulator(*args, "--quota", "0", "--map-cap", "20") as simulator:
        params = {"latlng": "-90,-180,90,180", "networks": "all", "token": "t"}
        assert 19 <= len(simulator.get("/v2/map/bounds", **params).json()["data"]) <= 21
        assert simulator.admin("GET", "/admin/map") == {
            "cap": 20,
            "variation": 0.02,
            "thinning": True,
        }
        assert simulator.admin("POST", "/admin/map", {"cap": 0})["thinning"] is False
        assert len(simulator.get("/v2/map/bounds", **params).json()["data"]) == 309
        caps = set()
        for _ in range(30):
            simulator.admin("POST", "/admin/map", {"cap": 50})
            caps.add(len(simulator.get("/v2/map/bounds", **params).json()["data"]))
            simulator.admin("POST", "/admin/clock", {"advance_hours": 1})
        assert caps <= {49, 50, 51} and len(caps) > 1  # no one number to learn
        response = simulator.session.post(f"{simulator.url}/admin/map", json={"cap": -3})
        assert response.status_code == 400 and "error" in response.json()


def test_the_date_header_is_the_simulated_time(sim):
    response = sim.get("/feed/zurich/", token=TOKEN)
    said = parsedate_to_datetime(response.headers["Date"]).timestamp()
    assert abs(said - now_of(sim)) <= 2
    assert abs(said - time.time()) > 3600  # not the machine's clock


# --- churn ------------------------------------------------------------------------------------


def test_stations_vanish_and_appear_as_planned_and_on_demand(sim):
    now = now_of(sim)
    leaving = [s for s in all_stations(sim, "present=true") if s["vanishes_at"] is not None]
    first = min(leaving, key=lambda s: s["vanishes_at"])
    assert parse_instant(first["vanishes_at"]) > now
    assert data_of(sim, feed_path(first))["idx"] == first["idx"]
    advance(sim, parse_instant(first["vanishes_at"]) - now_of(sim) + 1)
    gone = sim.get(feed_path(first), token=TOKEN).json()
    assert gone in (
        {"status": "ok", "data": {"status": "error", "msg": "Unknown ID"}},
        {"status": "error", "data": "no such station"},
    )
    lat, lng = first["geo"]
    nearby = world_map(sim, f"{lat - 0.01},{lng - 0.01},{lat + 0.01},{lng + 0.01}")
    assert first["idx"] not in {item["uid"] for item in nearby}

    official = all_stations(sim, "network=official&status=reporting&present=true&limit=20")[-1]
    changed = sim.admin("POST", "/admin/stations", {"vanish": [official["idx"]]})
    assert changed == {"vanished": [official["idx"]], "appeared": []}
    assert sim.get(feed_path(official), token=TOKEN).json()["data"] == {
        "status": "error",
        "msg": "Unknown ID",
    }
    listed = all_stations(sim, f"bounds={lat},{lng},{lat},{lng}")
    assert first["idx"] in {s["idx"] for s in listed}
    sim.admin("POST", "/admin/stations", {"appear": [official["idx"], first["idx"]]})
    assert data_of(sim, feed_path(official))["idx"] == official["idx"]
    assert data_of(sim, feed_path(first))["idx"] == first["idx"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"vanish": [123456789]}, "no station 123456789"),
        ({"vanish": "5419"}, "list of station ids"),
        ({"vanish": [5419], "appear": [5419]}, "both"),
        ({"remove": [5419]}, "vanish"),
        ({}, "vanish"),
    ],
)
def test_station_changes_that_make_no_sense_are_400(sim, body, error):
    response = sim.session.post(f"{sim.url}/admin/stations", json=body)
    assert response.status_code == 400 and error in response.json()["error"]


@pytest.mark.parametrize(
    "query",
    ["present=maybe", "bounds=1,2,3", "bounds=a,b,c,d", "from=yesterday", "idx=x", "format=csv"],
)
def test_bad_admin_queries_are_400(sim, query):
    path = "available" if query.split("=")[0] in ("from", "idx", "format") else "stations"
    response = sim.session.get(f"{sim.url}/admin/{path}?{query}")
    assert response.status_code == 400 and "error" in response.json()


# --- the availability record --------------------------------------------------------------------


def test_every_reading_served_was_recorded_as_available_before_it_was_served(sim):
    """Poll 24 stations every 2 simulated minutes for 3 hours: what was served is exactly
    what /admin/available says appeared, each served within 2 minutes of appearing."""
    stations = all_stations(sim, "present=true&bounds=40,-10,56,30&status=reporting&limit=12")
    stations += all_stations(sim, "present=true&bounds=20,100,45,140&limit=12")
    idxs = ",".join(str(s["idx"]) for s in stations)
    sim.admin("POST", "/admin/reset")
    began = now_of(sim)
    step = 120
    for _ in range(int(3 * HOUR / step)):
        for station in stations:
            assert sim.get(feed_path(station), token=TOKEN).status_code == 200
        advance(sim, step)
    ended = now_of(sim)
    available = sim.admin("GET", f"/admin/available?from={utc_iso(began)}&idx={idxs}")
    appeared = {
        (r["idx"], r["observed_at"]): parse_instant(r["available_at"])
        for r in sim.admin(
            "GET", f"/admin/available?from={utc_iso(began)}&idx={idxs}&format=readings"
        )["readings"]
    }
    served = {
        (r["idx"], r["observed_at"]): parse_instant(r["first_served_at"])
        for r in sim.admin("GET", "/admin/served")["readings"]
    }
    # The first poll served what had appeared before `began`.
    served = {key: at for key, at in served.items() if key in appeared or at > began + 1}
    assert set(served) == set(appeared)
    assert len(appeared) >= 2 * len(stations)
    for key, at in appeared.items():
        assert at <= served[key] <= at + step + 1, key
    assert available["count"] == len(appeared)
    assert parse_instant(available["to"]) <= ended
    runs = [
        (o + k * run["every"], o + k * run["every"] + lag)
        for run in available["runs"]
        for o in [run["observed_at"]]
        for k, lag in enumerate(run["lags"])
    ]
    assert sorted(at for _, at in runs) == sorted(int(at) for at in appeared.values())


def test_a_simulated_day_of_30000_stations_is_a_few_megabytes(sim):
    now = now_of(sim)
    began = time.monotonic()
    response = sim.session.get(
        f"{sim.url}/admin/available?from={utc_iso(now - 24 * HOUR)}&to={utc_iso(now)}",
        timeout=120,
    )
    seconds = time.monotonic() - began
    assert response.status_code == 200
    day = response.json()
    reporting = len(all_stations(sim, "status=reporting&present=true")) + len(
        all_stations(sim, "status=unrated&present=true")
    )
    assert 23 * reporting <= day["count"] <= 25.5 * reporting
    assert len(response.content) < 8_000_000
    assert day["to"] == utc_iso(now) and day["stations"] >= reporting
    assert {"now", "epoch", "wall", "speed"} <= set(day)
    size = len(response.content)
    print(f"\na simulated day: {day['count']} readings, {size} bytes, {seconds:.1f} s")


# --- how fast it answers ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def keep_alive_load(url: str, paths: list[str], connections: int, total: int) -> None:
    """`total` GETs over `connections` keep-alive connections, as fast as they are answered."""
    host, port = url.removeprefix("http://").split(":")
    left = [total]

    async def one_connection(rng: random.Random) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while left[0] > 0:
            left[0] -= 1
            request = f"GET {rng.choice(paths)} HTTP/1.1\r\nHost: sim\r\n\r\n"
            writer.write(request.encode())
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            assert body.startswith(b'{"status":"ok"'), body[:200]
        writer.close()

    await asyncio.gather(*(one_connection(random.Random(n)) for n in range(connections)))


def measure(simulator: Simulator, paths: list[str], total: int) -> tuple[float, float]:
    """(requests a second, simulator CPU milliseconds a request)."""
    pid = simulator.process.pid
    cpu_before, began = cpu_seconds(pid), time.monotonic()
    asyncio.run(keep_alive_load(simulator.url, paths, 8, total))
    seconds, cpu = time.monotonic() - began, cpu_seconds(pid) - cpu_before
    return total / seconds, cpu / total * 1000


def test_it_answers_fast_enough_for_a_producer_at_1000_requests_a_second(sim):
    """CPU per request, not wall time, so a loaded machine does not fail it: under 1 ms of
    the simulator's CPU a feed means one core serves more than 1,000 feeds a second."""
    stations = all_stations(sim, "present=true")
    rng = random.Random(3)
    feeds = [f"{s['feed']}?token={TOKEN}" for s in rng.sample(stations, 3000)]
    tiles, crowded = [], []
    for _ in range(300):
        lat, lng = rng.uniform(-40, 60), rng.uniform(-130, 140)
        tiles.append(f"/v2/map/bounds?latlng={lat},{lng},{lat + 4},{lng + 4}&token={TOKEN}")
    for _ in range(60):  # boxes of 40 by 60 degrees: most answer at the cap, ~1,250 items
        lat, lng = rng.uniform(-30, 50), rng.uniform(-120, 120)
        crowded.append(f"/v2/map/bounds?latlng={lat},{lng},{lat + 40},{lng + 60}&token={TOKEN}")
    measure(sim, feeds, 3000)  # every body built once
    feed_rate, feed_cpu = measure(sim, feeds, 6000)
    measure(sim, tiles, 300)
    tile_rate, tile_cpu = measure(sim, tiles, 600)
    measure(sim, crowded, 60)
    crowded_rate, crowded_cpu = measure(sim, crowded, 120)
    print(
        f"\nfeeds: {feed_rate:.0f}/s, {feed_cpu:.2f} ms CPU each; "
        f"4-degree tiles: {tile_rate:.0f}/s, {tile_cpu:.2f} ms CPU each; "
        f"tiles at the cap: {crowded_rate:.0f}/s, {crowded_cpu:.1f} ms CPU each"
    )
    assert feed_cpu < 1.0
    assert tile_cpu < 4.0
    assert crowded_cpu < 25.0
    assert json.loads(sim.get("/feed/zurich/", token=TOKEN).content)["status"] == "ok"
