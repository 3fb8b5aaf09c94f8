"""The WAQI simulator over real HTTP: endpoints, errors, quirks, clock, quota, faults, admin, CLI.

Every test talks to a `python -m aqistream.waqi_sim` subprocess. Tests that change the
simulator's state (clock, quota, faults, counters) start their own.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from aqistream.waqi_sim.catalogue import build_catalogue
from aqistream.waqi_sim.localtime import parse_instant, utc_iso
from aqistream.waqi_sim.world import World
from tests.simulator import REPO_ROOT, Simulator, running_simulator

TOKEN = "test-token"
START = "2026-11-23T13:20:00Z"
SEED = 3
STATIONS = 200
# A simulated hour lasts ~11 real years: the clock only moves when a test moves it.
FROZEN = "40000000"
COMMON = ("--seed", str(SEED), "--stations", str(STATIONS), "--start", START)


@pytest.fixture(scope="module")
def sim():
    """A shared simulator whose state no test changes (no quota, frozen clock)."""
    args = (*COMMON, "--hour-seconds", FROZEN, "--quota", "0", "--token", TOKEN)
    with running_simulator(*args) as simulator:
        yield simulator


def data_of(simulator: Simulator, path: str, token: str | None = TOKEN, **params) -> object:
    if token is not None:
        params["token"] = token
    response = simulator.get(path, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok", body
    return body["data"]


def error_of(simulator: Simulator, path: str, token: str | None = TOKEN, **params) -> dict:
    if token is not None:
        params["token"] = token
    response = simulator.get(path, **params)
    assert response.status_code == 200
    return response.json()


def station_of(simulator: Simulator, **wanted: str) -> dict:
    query = "&".join(f"{key}={value}" for key, value in wanted.items())
    found = simulator.admin("GET", f"/admin/stations?{query}")["stations"]
    assert found, f"no station with {wanted}"
    return found[0]


def true_utc(iso: str) -> float:
    return parse_instant(iso)


# --- endpoints ----------------------------------------------------------------------------------


def test_zurich_feed_carries_the_architecture_station(sim):
    data = data_of(sim, "/feed/zurich/")
    assert data["idx"] == 5419
    assert data["city"]["name"] == "Zürich-Kaserne, Switzerland"
    assert data["city"]["geo"] == [47.377, 8.530]
    assert data["city"]["url"] == "https://aqicn.org/city/switzerland/zurich/kaserne/"
    assert data["city"]["location"] == ""
    assert data["time"]["iso"] == "2026-11-23T14:00:00+01:00"  # 13:00Z: the simulated hour


@pytest.mark.parametrize(
    ("spelling", "idx"),
    [
        ("zurich", 5419),
        ("Zürich", 5419),
        ("ZURICH", 5419),
        ("geneva", 5413),
        ("Genève", 5413),
        ("basel", 5411),
        ("lausanne", 5414),
        ("bern", 5412),
        ("winterthur", 5421),
        ("st. gallen", 5422),
        ("st-gallen", 5422),
        ("St.Gallen", 5422),
        ("lugano", 5415),
        ("neuchatel", 5416),
        ("Neuchâtel", 5416),
    ],
)
def test_swiss_cities_resolve_by_every_spelling(sim, spelling, idx):
    assert data_of(sim, f"/feed/{spelling}/")["idx"] == idx


def test_trailing_slash_is_optional(sim):
    assert (
        sim.get("/feed/zurich", token=TOKEN).content
        == sim.get("/feed/zurich/", token=TOKEN).content
    )
    assert data_of(sim, "/search", keyword="zurich")[0]["uid"] == 5419
    assert data_of(sim, "/map/bounds", latlng="47,8,48,9")
    assert data_of(sim, "/v2/map/bounds/", latlng="47,8,48,9", networks="all")


def test_feed_by_idx_and_by_crowd_number(sim):
    official = station_of(sim, network="official", status="reporting")
    crowd = station_of(sim, network="crowd", status="reporting")
    assert data_of(sim, f"/feed/@{official['idx']}/")["idx"] == official["idx"]
    number = -crowd["idx"]
    by_a = sim.get(f"/feed/A{number}/", token=TOKEN).content
    assert json.loads(by_a)["data"]["idx"] == crowd["idx"]
    assert sim.get(f"/feed/@-{number}/", token=TOKEN).content == by_a


def test_generated_stations_resolve_by_name(sim):
    for wanted in ({"network": "official"}, {"network": "crowd"}):
        station = station_of(sim, **wanted)
        assert data_of(sim, f"/feed/{station['name']}/")["idx"] == station["idx"]


def test_here_returns_zurich(sim):
    assert data_of(sim, "/feed/here/")["idx"] == 5419


def test_geo_returns_the_nearest_station(sim):
    assert data_of(sim, "/feed/geo:47.38;8.53/")["idx"] == 5419
    assert data_of(sim, "/feed/geo:46.2;6.14/")["idx"] == 5413


def test_geo_skips_stations_without_a_current_aqi(sim):
    for status in ("stale", "unrated", "no_time"):
        station = station_of(sim, network="official", status=status)
        lat, lng = station["geo"]
        answered = data_of(sim, f"/feed/geo:{lat};{lng}/")
        assert answered["idx"] != station["idx"]
        assert isinstance(answered["aqi"], int)


@pytest.mark.parametrize("where", ["5000;5000", "-5000;-5000", "nan;nan", "91;181"])
def test_geo_accepts_out_of_range_coordinates(sim, where):
    assert isinstance(data_of(sim, f"/feed/geo:{where}/")["idx"], int)


def test_search_items_have_string_aqi_and_true_epoch_vtime(sim):
    items = data_of(sim, "/search/", keyword="zurich")
    assert items[0]["uid"] == 5419
    item = items[0]
    assert item["aqi"] == str(data_of(sim, "/feed/@5419/")["aqi"])
    assert item["time"] == {"tz": "+01:00", "stime": "2026-11-23 14:00:00", "vtime": 1795438800}
    assert item["station"]["url"] == "switzerland/zurich/kaserne"
    assert item["station"]["geo"] == [47.377, 8.53]


def test_search_without_a_match_is_an_empty_list(sim):
    assert data_of(sim, "/search/", keyword="nowhere-at-all-xyz") == []


def test_map_bounds_lists_official_stations_in_the_box(sim):
    items = data_of(sim, "/map/bounds/", latlng="45.8,5.9,47.9,10.5")
    assert {item["uid"] for item in items} >= {5419, 5413, 5411, 5414, 5412, 5421, 5422, 5415}
    for item in items:
        assert set(item) == {"lat", "lon", "uid", "aqi", "station"}
        assert isinstance(item["aqi"], str)
        assert item["station"]["time"].endswith("+09:00")
    zurich = next(item for item in items if item["uid"] == 5419)
    assert true_utc(zurich["station"]["time"]) == true_utc("2026-11-23T13:00:00Z")


def test_v1_map_is_official_only_and_v2_can_include_crowd(sim):
    world = "-85,-180,85,180"
    v1 = data_of(sim, "/map/bounds/", latlng=world)
    everything = data_of(sim, "/v2/map/bounds", latlng=world, networks="all")
    official = data_of(sim, "/v2/map/bounds", latlng=world, networks="official")
    assert all(item["uid"] > 0 for item in v1)
    assert any(item["uid"] < 0 for item in everything)
    assert {item["uid"] for item in official} == {item["uid"] for item in v1}
    assert len(everything) == STATIONS + 9
    assert any(item["aqi"] == "-" for item in everything)


# --- error bodies (API.md section 7) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "body"),
    [
        ("/feed/zurich/", {"token": "wrong"}, {"status": "error", "data": "Invalid key"}),
        ("/feed/zurich/", {}, {"status": "error", "data": "Invalid key"}),
        ("/feed/zurich/", {"token": ""}, {"status": "error", "data": "Invalid key"}),
        ("/search/", {"keyword": "x"}, {"status": "error", "data": "Invalid key"}),
        ("/v2/map/bounds", {"latlng": "1,2,3,4"}, {"status": "error", "data": "Invalid key"}),
        (
            "/feed/a definitely nonexistent city/",
            {"token": TOKEN},
            {"status": "error", "data": "Unknown station"},
        ),
        (
            "/feed/@999999/",
            {"token": TOKEN},
            {"status": "ok", "data": {"status": "error", "msg": "Unknown ID"}},
        ),
        ("/feed/A5419/", {"token": TOKEN}, {"status": "error", "data": "no such station"}),
        ("/feed/A1/", {"token": TOKEN}, {"status": "error", "data": "no such station"}),
        (
            "/feed/geo:lol;bruh/",
            {"token": TOKEN},
            {"status": "error", "data": "Invalid geo position - Can not parse 'lol,bruh'"},
        ),
        (
            "/feed/geo:None;None/",
            {"token": TOKEN},
            {"status": "error", "data": "Invalid geo position - Can not parse 'None,None'"},
        ),
        ("/feed/", {"token": TOKEN}, {"status": "error", "message": "404"}),
        ("/feed", {"token": "wrong"}, {"status": "error", "message": "404"}),
        (
            "/map/bounds/",
            {"latlng": "lol,bruh,0,0", "token": TOKEN},
            {
                "status": "error",
                "data": 'invalid bounds: strconv.ParseFloat: parsing "lol": invalid syntax',
            },
        ),
        (
            "/v2/map/bounds",
            {"latlng": "1,2,3,x", "token": TOKEN},
            {
                "status": "error",
                "data": 'invalid bounds: strconv.ParseFloat: parsing "x": invalid syntax',
            },
        ),
    ],
)
def test_error_bodies_are_http_200_like_waqi(sim, path, params, body):
    response = sim.get(path, **params)
    assert response.status_code == 200
    assert response.json() == body


def test_crowd_number_with_at_gets_the_nested_unknown_id(sim):
    crowd = station_of(sim, network="crowd")
    assert error_of(sim, f"/feed/@{-crowd['idx']}/") == {
        "status": "ok",
        "data": {"status": "error", "msg": "Unknown ID"},
    }


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/feed//london/?token=abc", "/feed/london/?token=abc"),
        ("/feed///?token=abc", "/feed/?token=abc"),
        ("/feed//geo:1;2/?token=abc", "/feed/geo:1;2/?token=abc"),
    ],
)
def test_double_slash_gets_an_nginx_301_with_an_empty_body(sim, path, location):
    response = sim.session.get(sim.url + path, allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == location
    assert response.headers["Content-Length"] == "0"
    assert response.content == b""
    assert response.headers["Server"] == "nginx"


def test_unknown_paths_get_an_nginx_html_404(sim):
    response = sim.get("/v1/whatever", token=TOKEN)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html"
    assert b"<center>nginx</center>" in response.content
    with pytest.raises(ValueError):
        response.json()


# --- HTTP details -------------------------------------------------------------------------------


def test_headers_are_like_the_real_api(sim):
    response = sim.get("/feed/zurich/", token=TOKEN)
    headers = response.headers
    assert headers["Content-Type"] == "application/json; charset=UTF-8"
    assert headers["Server"] == "nginx"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["X-Powered-By"] == "rxstreamer-waqi/1.3"
    # The real X-Gen-Time ends in a UTF-8 µ, which HTTP clients read as latin-1 "Âµs".
    assert headers["X-Gen-Time"].endswith("Âµs")
    assert int(headers["Content-Length"]) == len(response.content)


def test_bodies_are_compact_utf8_json(sim):
    body = sim.get("/feed/zurich/", token=TOKEN).content
    parsed = json.loads(body)
    assert body == json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode()
    assert "Zürich".encode() in body


def test_connections_are_kept_alive():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        host_port = urlsplit(simulator.url).netloc
        connection = http.client.HTTPConnection(host_port, timeout=10)
        connection.request("GET", f"/feed/zurich/?token={TOKEN}")
        first = connection.getresponse()
        first.read()
        socket_after_first = connection.sock
        connection.request("GET", f"/feed/geneva/?token={TOKEN}")
        second = connection.getresponse()
        assert json.loads(second.read())["data"]["idx"] == 5413
        assert socket_after_first is not None and connection.sock is socket_after_first
        connection.close()


def test_concurrent_clients_all_get_answers(sim):
    failures: list[str] = []

    def client(number: int) -> None:
        session = requests.Session()
        for request in range(40):
            idx = 5419 if request % 2 else 12000 + 2 * ((number * 40 + request) % 100)
            response = session.get(f"{sim.url}/feed/@{idx}/", params={"token": TOKEN}, timeout=10)
            if response.status_code != 200 or response.json()["data"]["idx"] != idx:
                failures.append(response.text)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures


# --- quirks (API.md section 9) ------------------------------------------------------------------


def test_crowd_station_quirks(sim):
    crowd = station_of(sim, network="crowd", status="reporting")
    data = data_of(sim, crowd["feed"])
    assert data["idx"] < 0
    assert data["time"]["iso"].endswith("Z")
    assert data["time"]["v"] == true_utc(data["time"]["iso"])
    assert data["city"]["url"] == f"https://aqicn.org/station/@{-data['idx']}"
    assert data["city"]["location"].count(",") >= 3  # a street address
    assert "station" in data["attributions"][0] and "logo" not in data["attributions"][0]
    assert "forecast" not in data and "debug" not in data


def test_official_station_quirks(sim):
    data = data_of(sim, "/feed/@5419/")
    time_ = data["time"]
    offset = 3600  # Zurich in November: +01:00
    assert time_["tz"] == "+01:00" and time_["iso"].endswith("+01:00")
    assert time_["v"] == true_utc(time_["iso"]) + offset
    assert time_["s"] == time_["iso"][:19].replace("T", " ")
    assert data["forecast"]["daily"]["pm25"][0]["day"] == "2026-11-21"  # two days before today
    assert set(data["forecast"]["daily"]) >= {"o3", "pm10", "pm25"}
    assert data["debug"]["sync"].endswith("+09:00")
    assert true_utc(data["debug"]["sync"]) >= true_utc(time_["iso"])
    assert data["attributions"][-1] == {
        "url": "https://waqi.info/",
        "name": "World Air Quality Index Project",
    }
    assert data["aqi"] == round(data["iaqi"][data["dominentpol"]]["v"])


def test_dash_aqi_keeps_pollutant_values(sim):
    for network in ("official", "crowd"):
        data = data_of(sim, station_of(sim, network=network, status="unrated")["feed"])
        assert data["aqi"] == "-"
        assert {"pm25", "pm10"} & set(data["iaqi"])


def test_dominentpol_is_sometimes_empty(sim):
    stations = sim.admin("GET", "/admin/stations?status=unrated")["stations"]
    stations += sim.admin("GET", "/admin/stations?status=stale")["stations"]
    dominants = {data_of(sim, station["feed"])["dominentpol"] for station in stations}
    assert "" in dominants
    assert dominants - {""}


def test_time_without_s_and_iso(sim):
    data = data_of(sim, station_of(sim, status="no_time")["feed"])
    assert set(data["time"]) == {"tz", "v"}
    assert data["time"]["v"] == 0
    assert data["aqi"] == "-"
    assert data["dominentpol"] == ""


def test_stale_stations_are_days_old_but_ok(sim):
    for network in ("official", "crowd"):
        station = station_of(sim, network=network, status="stale")
        response = sim.get(station["feed"], token=TOKEN).json()
        assert response["status"] == "ok"
        age = true_utc(START) - true_utc(response["data"]["time"]["iso"])
        assert age >= 2 * 86400
        assert response["data"]["aqi"] == "-"


def test_some_official_stations_report_at_half_past(sim):
    listing = sim.admin("GET", "/admin/stations?network=official&status=reporting")
    utc_minutes = set()
    for station in listing["stations"]:
        iso = data_of(sim, station["feed"])["time"]["iso"]
        assert iso[14:19] == "00:00"  # on the local hour...
        utc_minutes.add(int(true_utc(iso)) % 3600 // 60)  # ...which is :30 UTC in +05:30
    assert utc_minutes == {0, 30}


def test_crowd_stations_report_at_arbitrary_seconds(sim):
    crowd = sim.admin("GET", "/admin/stations?network=crowd&status=reporting&limit=30")
    seconds = {
        int(true_utc(data_of(sim, s["feed"])["time"]["iso"])) % 60 for s in crowd["stations"]
    }
    assert len(seconds) > 5


def test_stale_uvi_forecast_appears(sim):
    catalogue = build_catalogue(SEED, STATIONS)
    stale_uvi = [s for s in catalogue.stations if s.uvi_forecast == "stale"]
    assert stale_uvi
    daily = data_of(sim, f"/feed/@{stale_uvi[0].idx}/")["forecast"]["daily"]
    assert daily["uvi"] == [{"avg": 0, "day": "2022-10-24", "max": 0, "min": 0}]


def test_aqi_above_500_happens_now_and_then():
    """Find a spike with the pure world, then see the simulator serve it at that hour."""
    catalogue = build_catalogue(SEED, STATIONS)
    world = World(SEED)
    start = true_utc(START)
    station, moment = next(
        (station, start + hour * 3600)
        for hour in range(2000)
        for station in catalogue.stations
        if station.hotspot and (world.reading(station, start + hour * 3600).aqi or 0) > 500
    )
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        simulator.admin("POST", "/admin/clock", {"set": utc_iso(moment)})
        data = data_of(simulator, f"/feed/@{station.idx}/")
        assert data["aqi"] > 500
        simulator.admin("POST", "/admin/clock", {"advance_hours": 1})
        assert data_of(simulator, f"/feed/@{station.idx}/")["time"] != data["time"]


def test_different_names_and_here_resolve_to_the_same_station(sim):
    paths = ["/feed/zurich/", "/feed/Zürich/", "/feed/here/", "/feed/geo:47.377;8.53/"]
    assert {data_of(sim, path)["idx"] for path in paths} == {5419}


# --- the clock and the record of what was served ------------------------------------------------


def test_a_new_reading_appears_exactly_on_the_hour():
    # One simulated second lasts ten real seconds, so "just before the hour" stays before it.
    with running_simulator(*COMMON, "--hour-seconds", "36000") as simulator:
        simulator.admin("POST", "/admin/clock", {"set": "2026-11-23T13:59:58Z"})
        started = time.time()
        before = data_of(simulator, "/feed/zurich/")
        assert before["time"]["iso"] == "2026-11-23T14:00:00+01:00"  # 13:00Z
        clock = simulator.admin("POST", "/admin/clock", {"advance_seconds": 2})
        assert clock["now"] == "2026-11-23T14:00:00Z"
        between = time.time()
        after = data_of(simulator, "/feed/zurich/")
        assert after["time"]["iso"] == "2026-11-23T15:00:00+01:00"  # 14:00Z
        assert after["time"]["v"] - before["time"]["v"] == 3600
        data_of(simulator, "/feed/zurich/")
        finished = time.time()
        served = simulator.admin("GET", "/admin/served?idx=5419")["readings"]
        # The wall clock of the first answer of each reading (benchmarks time latency with it).
        first_served_wall = [reading.pop("first_served_wall") for reading in served]
        # (milliseconds: the record rounds, so allow half a millisecond either way)
        assert started - 0.0005 <= first_served_wall[0] <= between + 0.0005
        assert between - 0.0005 <= first_served_wall[1] <= finished + 0.0005
        assert served == [
            {
                "idx": 5419,
                "observed_at": "2026-11-23T13:00:00Z",
                "first_served_at": "2026-11-23T13:59:58Z",
                "times_served": 1,
            },
            {
                "idx": 5419,
                "observed_at": "2026-11-23T14:00:00Z",
                "first_served_at": "2026-11-23T14:00:00Z",
                "times_served": 2,
            },
        ]


def test_crowd_readings_change_at_their_own_second():
    with running_simulator(*COMMON, "--hour-seconds", "36000") as simulator:
        listing = simulator.admin("GET", "/admin/stations?network=crowd&status=reporting")
        crowd = next(s for s in listing["stations"] if s["report_second"] >= 2)
        second = crowd["report_second"]
        hour = true_utc("2026-11-23T13:00:00Z")
        simulator.admin("POST", "/admin/clock", {"set": utc_iso(hour + second - 2)})
        before = data_of(simulator, crowd["feed"])["time"]["iso"]
        assert true_utc(before) == hour + second - 3600
        simulator.admin("POST", "/admin/clock", {"advance_seconds": 2})
        after = data_of(simulator, crowd["feed"])["time"]["iso"]
        assert true_utc(after) == hour + second


def test_the_clock_can_be_read_advanced_and_set():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        clock = simulator.admin("GET", "/admin/clock")
        assert clock["now"] == START and clock["start"] == START
        assert simulator.admin("POST", "/admin/clock", {"advance_hours": 2})["now"] == (
            "2026-11-23T15:20:00Z"
        )
        assert simulator.admin("POST", "/admin/clock", {"set": "2027-01-01T00:00:00+01:00"})[
            "now"
        ] == ("2026-12-31T23:00:00Z")
        response = simulator.session.post(f"{simulator.url}/admin/clock", json={"nap": 1})
        assert response.status_code == 400 and "error" in response.json()


def test_the_clock_runs_faster_with_hour_seconds():
    with running_simulator(*COMMON, "--hour-seconds", "3.6") as simulator:
        first = simulator.admin("GET", "/admin/clock")
        assert first["speed"] == 1000
        deadline = time.monotonic() + 10
        while simulator.admin("GET", "/admin/clock")["epoch"] - first["epoch"] < 120:
            assert time.monotonic() < deadline, "the clock did not move 2 minutes in 10 s"


def test_feeds_served_count_per_token_and_reset_forgets():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN, "--token", "a", "--token", "b") as s:
        data_of(s, "/feed/zurich/", token="a")
        data_of(s, "/feed/zurich/", token="a")
        data_of(s, "/feed/geneva/", token="b")
        error_of(s, "/feed/zurich/", token="c")
        error_of(s, "/feed/zurich/", token=None)
        data_of(s, station_of(s, status="no_time")["feed"], token="b")
        served = s.admin("GET", "/admin/served")
        assert {(r["idx"], r["times_served"]) for r in served["readings"]} == {(5419, 2), (5413, 1)}
        assert served["tokens"]["a"]["requests"] == 2 and served["tokens"]["a"]["answered"] == 2
        assert served["tokens"]["b"]["answered"] == 2
        assert served["tokens"]["c"]["invalid_key"] == 1
        assert served["tokens"]["(no token)"]["invalid_key"] == 1
        assert served["totals"]["requests"] == 6
        assert s.admin("POST", "/admin/reset") == {"reset": True}
        assert s.admin("GET", "/admin/served")["readings"] == []
        assert s.admin("GET", "/admin/served")["tokens"] == {}


# --- determinism --------------------------------------------------------------------------------


def bodies(simulator: Simulator) -> list[bytes]:
    paths = ["/feed/zurich/", "/feed/@12000/", "/feed/A150001/", "/feed/@12003/"]
    paths += ["/feed/A150007/", "/search/?keyword=gallen", "/v2/map/bounds?latlng=-85,-180,85,180"]
    return [
        simulator.session.get(f"{simulator.url}{path}", params={"token": TOKEN}).content
        for path in paths
    ]


def test_the_same_seed_serves_the_same_bodies_and_another_seed_does_not():
    with (
        running_simulator(*COMMON, "--hour-seconds", FROZEN) as first,
        running_simulator(*COMMON, "--hour-seconds", FROZEN) as second,
        running_simulator(
            "--seed", "4", "--stations", str(STATIONS), "--start", START, "--hour-seconds", FROZEN
        ) as other,
    ):
        assert bodies(first) == bodies(second)
        assert bodies(first) != bodies(other)
        zurich = [json.loads(b)["data"]["iaqi"] for b in (bodies(first)[0], bodies(other)[0])]
        assert zurich[0] != zurich[1]


# --- quota --------------------------------------------------------------------------------------


def test_quota_allows_a_burst_then_says_over_quota():
    args = (*COMMON, "--hour-seconds", FROZEN, "--quota", "60", "--burst", "5")
    with running_simulator(*args) as simulator:
        answers = [error_of(simulator, "/feed/zurich/")["status"] for _ in range(8)]
        assert answers == ["ok"] * 5 + ["error"] * 3
        assert error_of(simulator, "/feed/zurich/") == {"status": "error", "data": "Over quota"}
        assert error_of(simulator, "/feed/zurich/", token="other")["status"] == "ok"
        served = simulator.admin("GET", "/admin/served")
        assert served["tokens"][TOKEN]["over_quota"] == 4
        assert served["tokens"][TOKEN]["answered"] == 5
        # 60 a simulated minute: one more request per simulated second.
        simulator.admin("POST", "/admin/clock", {"advance_seconds": 1})
        assert error_of(simulator, "/feed/zurich/")["status"] == "ok"
        assert error_of(simulator, "/feed/zurich/")["data"] == "Over quota"
        simulator.admin("POST", "/admin/clock", {"advance_seconds": 60})
        assert [error_of(simulator, "/feed/zurich/")["status"] for _ in range(6)] == (
            ["ok"] * 5 + ["error"]
        )


def test_quota_scales_with_the_clock():
    # 60 a simulated minute at 1000x speed refills a request every millisecond.
    args = (*COMMON, "--hour-seconds", "3.6", "--quota", "60", "--burst", "1")
    with running_simulator(*args) as simulator:
        statuses = []
        deadline = time.monotonic() + 10
        while statuses.count("ok") < 20:
            assert time.monotonic() < deadline
            statuses.append(error_of(simulator, "/feed/zurich/")["status"])
        assert statuses.count("error") < len(statuses) / 2


def test_quota_zero_turns_it_off():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN, "--quota", "0") as simulator:
        assert all(error_of(simulator, "/feed/zurich/")["status"] == "ok" for _ in range(150))
        assert simulator.admin("GET", "/admin/quota")["enabled"] is False


def test_quota_is_set_at_run_time():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        assert simulator.admin("GET", "/admin/quota") == {
            "per_minute": 1000.0,
            "burst": 60,
            "enabled": True,
        }
        simulator.admin("POST", "/admin/quota", {"per_minute": 10, "burst": 2})
        answers = [error_of(simulator, "/feed/zurich/")["status"] for _ in range(3)]
        assert answers == ["ok", "ok", "error"]


# --- tokens and logging -------------------------------------------------------------------------


def test_only_listed_tokens_are_valid():
    args = (*COMMON, "--hour-seconds", FROZEN, "--token", "alpha", "--token", "beta")
    with running_simulator(*args) as simulator:
        assert error_of(simulator, "/feed/zurich/", token="alpha")["status"] == "ok"
        assert error_of(simulator, "/feed/zurich/", token="beta")["status"] == "ok"
        assert error_of(simulator, "/feed/zurich/", token="gamma")["data"] == "Invalid key"


def test_without_token_flags_any_non_empty_token_is_valid():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        assert error_of(simulator, "/feed/zurich/", token="anything-at-all")["status"] == "ok"
        assert error_of(simulator, "/feed/zurich/", token="")["data"] == "Invalid key"


def test_the_access_log_never_shows_tokens():
    secret = "s3cret-token-value"
    with running_simulator(*COMMON, "--hour-seconds", FROZEN, "-v", "--token", secret) as s:
        data_of(s, "/feed/zurich/", token=secret)
        s.get("/feed//zurich/", token=secret)
        deadline = time.monotonic() + 10
        while s.stderr().count("REDACTED") < 2:
            assert time.monotonic() < deadline, s.stderr()
        assert secret not in s.stderr()
        assert "/feed/zurich/?token=REDACTED" in s.stderr()


def test_nothing_is_logged_per_request_by_default():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        for _ in range(5):
            data_of(simulator, "/feed/zurich/")
        simulator.get("/nope")
        assert simulator.stop() == 0
        assert simulator.stderr() == ""


# --- faults -------------------------------------------------------------------------------------


def test_error_rate_flag_answers_nginx_5xx():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN, "--error-rate", "1") as simulator:
        statuses = set()
        for _ in range(40):
            response = simulator.get("/feed/zurich/", token=TOKEN)
            statuses.add(response.status_code)
            assert response.headers["Content-Type"] == "text/html"
            assert b"<hr><center>nginx</center>" in response.content
        assert statuses <= {500, 502, 503, 504} and len(statuses) > 1
        assert simulator.admin("GET", "/admin/served")["tokens"][TOKEN]["faults"] == 40


def test_empty_rate_flag_answers_empty_bodies():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN, "--empty-rate", "1") as simulator:
        response = simulator.get("/feed/zurich/", token=TOKEN)
        assert response.status_code == 200
        assert response.headers["Content-Length"] == "0" and response.content == b""
        assert simulator.admin("GET", "/admin/served")["readings"] == []


def test_nonjson_rate_flag_answers_html_with_200():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN, "--nonjson-rate", "1") as simulator:
        response = simulator.get("/feed/zurich/", token=TOKEN)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/html"
        with pytest.raises(ValueError):
            response.json()


def test_latency_flag_delays_answers():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN, "--latency-ms", "300") as simulator:
        began = time.monotonic()
        data_of(simulator, "/feed/zurich/")
        assert time.monotonic() - began >= 0.3
        began = time.monotonic()
        simulator.admin("GET", "/admin/clock")  # the admin endpoint is never delayed
        assert time.monotonic() - began < 0.3


def test_a_partial_error_rate_mixes_and_repeats_for_the_same_seed():
    def statuses() -> list[int]:
        with running_simulator(*COMMON, "--hour-seconds", FROZEN, "--error-rate", "0.3") as s:
            return [s.get("/feed/zurich/", token=TOKEN).status_code for _ in range(60)]

    first = statuses()
    assert 200 in first and set(first) - {200}
    assert statuses() == first


def test_faults_are_set_and_cleared_at_run_time():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        faults = simulator.admin("POST", "/admin/faults", {"error_rate": 1})
        assert faults["error_rate"] == 1
        assert simulator.get("/feed/zurich/", token=TOKEN).status_code in (500, 502, 503, 504)
        simulator.admin("POST", "/admin/faults", {"error_rate": 0, "empty_rate": 1})
        assert simulator.get("/feed/zurich/", token=TOKEN).content == b""
        simulator.admin("POST", "/admin/faults", {"empty_rate": 0, "nonjson_rate": 1})
        assert simulator.get("/feed/zurich/", token=TOKEN).content.startswith(b"<!DOCTYPE html>")
        simulator.admin("POST", "/admin/faults", {"latency_ms": 250, "jitter_ms": 50})
        began = time.monotonic()
        simulator.get("/feed/zurich/", token=TOKEN)
        assert time.monotonic() - began >= 0.2
        cleared = simulator.admin("DELETE", "/admin/faults")
        assert cleared == simulator.admin("GET", "/admin/faults")
        assert cleared["error_rate"] == cleared["latency_ms"] == cleared["nonjson_rate"] == 0
        assert data_of(simulator, "/feed/zurich/")["idx"] == 5419
        response = simulator.session.post(f"{simulator.url}/admin/faults", json={"error_rate": 2})
        assert response.status_code == 400


def test_an_outage_answers_503_until_it_ends():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        faults = simulator.admin("POST", "/admin/faults", {"outage_seconds": 120})
        assert faults["outage_seconds_left"] == pytest.approx(120, abs=1)
        response = simulator.get("/feed/zurich/", token=TOKEN)
        assert response.status_code == 503 and b"nginx" in response.content
        simulator.admin("POST", "/admin/clock", {"advance_seconds": 121})
        assert data_of(simulator, "/feed/zurich/")["idx"] == 5419
        assert simulator.admin("GET", "/admin/served")["tokens"][TOKEN]["faults"] == 1


def test_an_outage_can_close_connections_without_an_answer():
    with running_simulator(*COMMON, "--hour-seconds", FROZEN) as simulator:
        simulator.admin("POST", "/admin/faults", {"outage_seconds": 60, "outage_mode": "close"})
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{simulator.url}/feed/zurich/", params={"token": TOKEN}, timeout=10)
        simulator.admin("POST", "/admin/faults", {"outage_seconds": 0})
        assert data_of(simulator, "/feed/zurich/")["idx"] == 5419


# --- admin --------------------------------------------------------------------------------------


def test_admin_lists_its_endpoints_and_rejects_unknown_ones(sim):
    assert "GET /admin/served" in sim.admin("GET", "/admin")["endpoints"]
    response = sim.session.get(f"{sim.url}/admin/nothing")
    assert response.status_code == 404 and "error" in response.json()
    response = sim.session.delete(f"{sim.url}/admin/clock")
    assert response.status_code == 405 and "error" in response.json()


def test_admin_stations_filter(sim):
    listing = sim.admin("GET", "/admin/stations?network=crowd&status=stale&limit=2")
    assert listing["count"] >= 2 and len(listing["stations"]) == 2
    assert all(s["network"] == "crowd" and s["status"] == "stale" for s in listing["stations"])
    assert sim.admin("GET", "/admin/stations")["count"] == STATIONS + 9


# --- command line -------------------------------------------------------------------------------


def test_listening_line_and_20000_stations():
    began = time.monotonic()
    with running_simulator("--stations", "20000", "--hour-seconds", FROZEN) as simulator:
        assert time.monotonic() - began < 15
        assert simulator.url.startswith("http://127.0.0.1:")
        last_official = 12000 + 19998
        assert data_of(simulator, f"/feed/@{last_official}/")["idx"] == last_official
        assert data_of(simulator, "/feed/A169999/")["idx"] == -169999


@pytest.mark.parametrize(
    "arguments",
    [
        ["--stations", "-1"],
        ["--error-rate", "2"],
        ["--start", "yesterday"],
        ["--hour-seconds", "0"],
        ["--port", "70000"],
        ["--error-rate", "0.6", "--empty-rate", "0.6"],
        ["--no-such-flag"],
        ["--map-cap", "-5"],
        ["--churn", "0.9"],
        ["--churn-hours", "0"],
        ["--stations", "100000", "--churn", "0.1"],
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(arguments):
    result = subprocess.run(
        [sys.executable, "-m", "aqistream.waqi_sim", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "error:" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_help_documents_the_admin_endpoint():
    result = subprocess.run(
        [sys.executable, "-m", "aqistream.waqi_sim", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    for text in ("/admin/served", "/admin/clock", "advance_hours", "--hour-seconds", "--token"):
        assert text in result.stdout
    for text in ("/admin/available", "/admin/map", "--map-cap", "--realistic", "--churn"):
        assert text in result.stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_it_promptly_with_exit_0(stop_signal):
    with running_simulator(*COMMON) as simulator:
        data_of(simulator, "/feed/zurich/")
        simulator.process.send_signal(stop_signal)
        assert simulator.process.wait(5) == 0
        assert "Traceback" not in simulator.stderr()


def test_a_taken_port_exits_1_with_one_line():
    with running_simulator(*COMMON) as simulator:
        port = urlsplit(simulator.url).port
        result = subprocess.run(
            [sys.executable, "-m", "aqistream.waqi_sim", "--port", str(port)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
