"""aqistream/source/fetcher.py: requests in flight on worker threads, against the simulator."""

from __future__ import annotations

import threading
import time

import pytest

from aqistream.source import waqi
from aqistream.source.clock import ApiClock
from aqistream.source.discovery import Tile
from aqistream.source.fetcher import Fetcher
from aqistream.source.ratelimit import RateLimiter
from aqistream.source.scheduler import FEED, MAP, Request
from aqistream.source.stations import Box
from aqistream.source.waqi import UnknownStation, WaqiClient
from tests.pipeline import START, TOKEN, waqi_simulator


def answers_of(fetcher: Fetcher, count: int, timeout: float = 30) -> list:
    arrived, deadline = [], time.monotonic() + timeout
    while len(arrived) < count and time.monotonic() < deadline:
        arrived += fetcher.answers(0.2)
    return arrived


def test_feeds_and_map_tiles_come_back_as_they_arrive_and_the_workers_end():
    with waqi_simulator(4, "--quota", "0", "--stations", "200") as sim:
        stop = threading.Event()
        clock = ApiClock()
        client = WaqiClient(TOKEN, sim.url, RateLimiter(60000, 100), 4, stop, clock=clock)
        fetcher = Fetcher(client, workers=4, stop=stop)
        before = threading.active_count()
        requests = [
            Request(FEED, "zurich", "zurich", "zurich", 1),
            Request(FEED, "nowhere", "atlantis-city", "atlantis-city", 2),
            Request(MAP, Tile(Box(45, 5, 48, 11)), tile=Tile(Box(45, 5, 48, 11))),
        ]
        for request in requests:
            fetcher.submit(request)
        assert fetcher.outstanding == 3
        arrived = {answer.request.key: answer for answer in answers_of(fetcher, 3)}
        assert fetcher.outstanding == 0
        assert arrived["zurich"].data["idx"] == 5419
        assert isinstance(arrived["nowhere"].error, UnknownStation)
        swiss = {item["uid"] for item in arrived[requests[2].key].data}
        assert 5419 in swiss
        # Every answer set the API's clock: the simulator's time, not this machine's.
        assert abs(clock.now() - sim.admin("GET", "/admin/clock")["epoch"]) < 5
        assert START[:10] == time.strftime("%Y-%m-%d", time.gmtime(clock.now()))
        assert threading.active_count() > before
        fetcher.close()
        deadline = time.monotonic() + 10
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() == before
        client.close()


def test_a_request_sent_and_not_answered_keeps_its_place_in_flight_a_while(monkeypatch):
    """It may reach the API later and be counted: no other request takes its place at once."""
    monkeypatch.setattr(waqi, "TIMEOUT", (5, 0.4))
    with waqi_simulator(4, "--quota", "0", "--stations", "200") as sim:
        sim.admin("POST", "/admin/faults", {"latency_ms": 1500})
        stop = threading.Event()
        limiter = RateLimiter.within_quota(60000, 60, in_flight=1)
        client = WaqiClient(TOKEN, sim.url, limiter, 1, stop, attempts=1)
        with pytest.raises(waqi.AnswerTimedOut):
            client.fetch_feed("zurich")
        answered = time.monotonic()
        sim.admin("DELETE", "/admin/faults")
        assert limiter.acquire(stop)  # the place came back, a read timeout later
        assert time.monotonic() - answered >= 0.4 * 0.9
        limiter.release()
        assert client.fetch_feed("zurich")["idx"] == 5419
        client.close()
