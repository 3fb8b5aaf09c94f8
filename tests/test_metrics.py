"""aqistream/metrics.py: the producer's Prometheus metrics, scraped from the real endpoint."""

from __future__ import annotations

import requests

from aqistream.metrics import Metrics
from tests.kafka_cluster import free_base_port


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quota_use_counts_the_requests_of_the_last_minute_only():
    ticks = Ticks()
    metrics = Metrics(quota_per_minute=120, clock=ticks)
    for _ in range(30):
        metrics.request("feed", "ok")
    ticks.now += 45
    for _ in range(10):
        metrics.request("map", "transient")
    assert metrics.requests_last_minute() == 40
    ticks.now += 30  # the first 30 are more than a minute old now
    assert metrics.requests_last_minute() == 10


def test_the_endpoint_serves_every_metric_in_prometheus_text_format():
    port = free_base_port(1)
    metrics = Metrics(quota_per_minute=1000)
    metrics.request("feed", "ok")
    metrics.request("feed", "over_quota")
    metrics.request("map", "ok")
    metrics.stations.set(30008)
    metrics.tiles.set(106)
    metrics.published.inc(2)
    metrics.delay.observe(400)
    metrics.delay.observe(4000)
    metrics.transactions.labels("committed").inc()
    metrics.serve(port)
    answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    text = answer.text
    for line in (
        'aqistream_api_requests_total{kind="feed",outcome="ok"} 1.0',
        'aqistream_api_requests_total{kind="feed",outcome="over_quota"} 1.0',
        'aqistream_api_requests_total{kind="map",outcome="ok"} 1.0',
        "aqistream_api_quota_per_minute 1000.0",
        "aqistream_api_quota_used_ratio 0.003",
        "aqistream_stations_known 30008.0",
        "aqistream_map_tiles 106.0",
        "aqistream_readings_published_total 2.0",
        'aqistream_publication_delay_seconds_bucket{le="600.0"} 1.0',
        'aqistream_publication_delay_seconds_bucket{le="5400.0"} 2.0',
        "aqistream_publication_delay_seconds_count 2.0",
        'aqistream_kafka_transactions_total{outcome="committed"} 1.0',
    ):
        assert line in text.splitlines(), line
