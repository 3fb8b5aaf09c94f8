#!/usr/bin/env python3
"""The naive baseline: the original project's way of polling WAQI and publishing to Kafka.

    WAQI_TOKEN=... python bench/baseline_naive.py --stations FILE --topic T --api-url URL
        [--bootstrap-servers localhost:9092] [--time-box SECONDS]

What it does, as the 2022 project did for its 9 Swiss cities, for any list of stations:
  1. fetch: one `requests.get` after the other. No Session, so every request opens a new TCP
     connection, and no request starts before the previous one has been answered;
  2. publish: for each reading newer than the last one sent for its station (kept in an
     in-memory dict), `producer.produce()` then `producer.flush()`.

Why it is slow: a cycle costs, per station, a TCP connection set-up, the API's latency and a
Kafka round trip, one after the other with nothing overlapped, so its duration grows with
stations x (latency + round trip) however many cores there are. The Python work per request
(a new connection pool, headers, parsing) adds to that rather than hiding behind the waits.
It is also not exactly-once: the "already sent" state is in memory, so a restart sends again.

Correct enough to compare: it reads the same stations file, asks the same simulator, writes
to a topic the harness created with the same partitions as aqi-stream's, with a JSON value
of about the size of aqi-stream's record (the original sent only aqi and time), and a failed
station is counted instead of crashing the cycle. It uses nothing of aqistream.

--time-box stops fetching that many seconds into the cycle and publishes what was fetched:
a partial cycle, for station counts where a whole one would take minutes.

Prints one JSON line on stdout: stations, fetched, published, failed, seconds (the cycle, from
the first request to the last flush), time_boxed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime

import requests
from confluent_kafka import Producer

TIMEOUT = 5  # seconds, as the original


def read_stations(path: str) -> list[str]:
    stations = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            station = line.split("#", 1)[0].strip()
            if station:
                stations.append(station)
    return stations


def fetch(api_url: str, station: str, token: str) -> dict | None:
    """One station's feed `data`, or None (the original printed the error and went on)."""
    try:
        response = requests.get(f"{api_url}/feed/{station}/?token={token}", timeout=TIMEOUT)
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError):
        return None
    if not isinstance(body, dict) or body.get("status") != "ok":
        return None
    data = body.get("data")
    return data if isinstance(data, dict) and "time" in data else None


def reading_of(station: str, data: dict) -> tuple[datetime | None, dict]:
    """(observation time, the message value): about the size of aqi-stream's record."""
    observed = data["time"].get("iso")
    value = {
        "station": station,
        "idx": data.get("idx"),
        "name": data.get("city", {}).get("name"),
        "aqi": data.get("aqi"),
        "time": observed,
        "iaqi": {key: item.get("v") for key, item in data.get("iaqi", {}).items()},
        "attributions": data.get("attributions"),
    }
    return (datetime.fromisoformat(observed) if observed else None), value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--time-box", type=float, default=None, metavar="SECONDS")
    args = parser.parse_args(argv)
    token = os.environ["WAQI_TOKEN"]
    api_url = args.api_url.rstrip("/")
    stations = read_stations(args.stations)
    producer = Producer({"bootstrap.servers": args.bootstrap_servers})
    last_sent: dict[str, datetime] = {}  # station -> time of the last reading sent
    undelivered = []

    def on_delivery(error, message) -> None:
        if error is not None:
            undelivered.append(error)

    started = time.perf_counter()
    fetched: dict[str, dict] = {}
    failed = 0
    time_boxed = False
    for station in stations:
        if args.time_box is not None and time.perf_counter() - started > args.time_box:
            time_boxed = True
            break
        data = fetch(api_url, station, token)
        if data is None:
            failed += 1
        else:
            fetched[station] = data
    published = 0
    for station, data in fetched.items():
        observed, value = reading_of(station, data)
        if observed is None:
            failed += 1
        elif station not in last_sent or observed > last_sent[station]:
            producer.produce(args.topic, json.dumps(value), station, callback=on_delivery)
            # Block until the message is sent.
            delivered_before = len(undelivered)
            if producer.flush(30) != 0 or len(undelivered) > delivered_before:
                failed += 1
                continue
            last_sent[station] = observed
            published += 1
    seconds = time.perf_counter() - started

    summary = {
        "stations": len(stations),
        "fetched": len(fetched),
        "published": published,
        "failed": failed,
        "seconds": seconds,
        "time_boxed": time_boxed,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
