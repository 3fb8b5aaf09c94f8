"""producer.py cadence-aware (no --interval) over a network that changes under it: stations
vanish and appear, map and feed answers fail, the API's quota is on. Nothing lost, nothing
twice, never over quota; the metrics endpoint tells what happened.

The simulator's clock runs 120 times real time (a simulated hour in 30 s) and the producer
is told so (--time-scale), with WAQI's quota scaled the same way on both sides.
"""

from __future__ import annotations

import http.server
import re
import signal
import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import requests

from tests.kafka_cluster import free_base_port
from tests.pipeline import (
    TOKEN,
    assert_exactly_once,
    read_topic,
    readings_in,
    served_readings,
    start_producer,
    wait_for,
    waqi_simulator,
)

HOUR_SECONDS = 30
SPEED = 3600 / HOUR_SECONDS
START = "2026-11-23T10:20:00Z"
# WAQI's quota, per simulated minute on the simulator's side, per real minute on ours.
QUOTA = ("--quota", "1000", "--burst", "60")
PRODUCER = ("--time-scale", str(SPEED), "--quota", str(1000 * SPEED), "--burst", "60")


def fast_simulator(*args: str):
    return waqi_simulator(
        23, "--stations", "1500", "--map-cap", "120", "--hour-seconds", str(HOUR_SECONDS),
        *QUOTA, *args, start=START,
    )  # fmt: skip


def simulated_now(sim) -> float:
    return sim.admin("GET", "/admin/clock")["epoch"]


def wait_simulated(sim, seconds: float, what: str) -> None:
    until = simulated_now(sim) + seconds
    wait_for(lambda: simulated_now(sim) >= until, seconds / SPEED * 3 + 30, what, every=0.5)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(name + (f"{{{wanted}}}" if labels else "")) + r" ([0-9.e+-]+)"
    found = re.search(rf"^{pattern}$", text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def test_a_changing_network_under_faults_is_published_exactly_once_within_the_quota(
    workdir, topic_name, bootstrap_servers
):
    port = free_base_port(1)
    (workdir / "stations.txt").write_text("world\n")
    with fast_simulator("--publication-lag") as sim:
        producer = start_producer(workdir, sim, topic_name, *PRODUCER, "--metrics-port", str(port))
        wait_for(lambda: "covered by" in producer.stderr(), 90, "discovery")
        wait_simulated(sim, 900, "a quarter of an hour")
        # Five stations vanish and three new ones appear; then answers fail for a while.
        present = sim.admin("GET", "/admin/stations?present=true&network=official&limit=60")
        vanishing = [s["idx"] for s in present["stations"] if s["idx"] >= 10000][:5]  # not Swiss
        absent = sim.admin("GET", "/admin/stations?present=false&limit=3")["stations"]
        appearing = [s["idx"] for s in absent]
        changed = sim.admin("POST", "/admin/stations", {"vanish": vanishing, "appear": appearing})
        assert changed["vanished"] == vanishing and changed["appeared"] == appearing
        sim.admin("POST", "/admin/faults", {"error_rate": 0.15, "empty_rate": 0.05})
        wait_simulated(sim, 1200, "twenty minutes of faults")
        sim.admin("DELETE", "/admin/faults")
        wait_simulated(sim, 2400, "forty minutes more")
        scraped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert producer.stop(signal.SIGTERM) == 0, producer.stderr()
        served = served_readings(sim)
        tokens = sim.admin("GET", "/admin/served")["tokens"][TOKEN]
        appeared = {r["idx"] for r in sim.admin("GET", "/admin/served")["readings"]} & set(
            appearing
        )
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert_exactly_once(published, served)
    assert tokens["over_quota"] == 0
    assert tokens["faults"] > 0  # the faults did hit
    assert appeared == set(appearing)  # the new stations were picked up and published
    log = producer.stderr()
    assert "Traceback" not in log and TOKEN not in log
    # The metrics say what the simulator saw.
    sent = sum(
        metric(scraped, "aqistream_api_requests_total", kind=kind, outcome=outcome)
        for kind in ("feed", "map")
        for outcome in ("ok", "transient", "over_quota", "unknown_station", "error")
    )
    assert 0 < sent <= tokens["requests"]
    assert metric(scraped, "aqistream_api_requests_total", kind="map", outcome="ok") > 0
    assert metric(scraped, "aqistream_api_requests_total", kind="feed", outcome="transient") > 0
    assert metric(scraped, "aqistream_readings_published_total") > 0.9 * len(published)
    assert metric(scraped, "aqistream_stations_known") > 1000
    assert metric(scraped, "aqistream_map_tiles") > 4
    assert metric(scraped, "aqistream_kafka_transactions_total", outcome="committed") > 10
    assert metric(scraped, "aqistream_publication_delay_seconds_count") > 0.9 * len(published)
    assert metric(scraped, "aqistream_api_quota_per_minute") == 1000 * SPEED
    assert 0 < metric(scraped, "aqistream_api_quota_used_ratio") < 1
    # Vanished stations cost little: at most a request or two each, then nothing.
    assert metric(
        scraped, "aqistream_api_requests_total", kind="feed", outcome="unknown_station"
    ) <= 2 * len(vanishing)


class MapDownProxy(http.server.ThreadingHTTPServer):
    """In front of the simulator: /v2/map/bounds answers 503 while `down` is set; every
    other request goes to the simulator as it is (the simulator has no per-endpoint fault).
    """

    daemon_threads = True

    def __init__(self, target: str):
        self.target = target
        self.down = threading.Event()
        self.session = requests.Session()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MapDownProxy

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.startswith("/v2/map/") and self.server.down.is_set():
            self.send_response_only(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = self.server.session.get(self.server.target + self.path, timeout=10)
        # Not send_response(): it adds a Date of its own, this machine's, not the API's.
        self.send_response_only(answer.status_code)
        for header in ("Date", "Content-Type"):
            if header in answer.headers:
                self.send_header(header, answer.headers[header])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def map_down_proxy(target: str):
    proxy = MapDownProxy(target)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_with_the_map_down_the_stations_it_knows_are_still_fetched(
    workdir, topic_name, bootstrap_servers
):
    (workdir / "stations.txt").write_text("bounds:35,-10,60,30\n")
    with fast_simulator() as sim, map_down_proxy(sim.url) as proxy:
        # The producer asks the proxy; the test asks the simulator.
        via_proxy = SimpleNamespace(url=f"http://127.0.0.1:{proxy.server_address[1]}")
        producer = start_producer(workdir, via_proxy, topic_name, *PRODUCER)
        wait_for(lambda: "covered by" in producer.stderr(), 90, "discovery")
        wait_simulated(sim, 600, "ten minutes")
        proxy.down.set()
        down_at = simulated_now(sim)
        wait_simulated(sim, 5400, "an hour and a half with the map down")
        log = producer.stderr()
        assert "map tile" in log and "failed" in log
        served = sim.admin("GET", "/admin/served")["readings"]
        proxy.down.clear()
        wait_for(lambda: "map answers are back" in producer.stderr(), 60, "the map back")
        assert producer.stop(signal.SIGTERM) == 0, producer.stderr()
        everything_served = served_readings(sim)
    # While the map was down, the stations known from it went on being fetched on their
    # cadence: nearly every one got a newer reading (all but the few that stopped reporting).
    stations_fed = {r["idx"] for r in served if r["first_served_at"] > iso(down_at + 300)}
    known = {idx for idx, _ in readings_in(read_topic(bootstrap_servers, topic_name))}
    assert len(stations_fed) > 0.85 * len(known)
    assert_exactly_once(readings_in(read_topic(bootstrap_servers, topic_name)), everything_served)


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
