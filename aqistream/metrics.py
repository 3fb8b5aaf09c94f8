"""The producer's Prometheus metrics, served over HTTP with --metrics-port (prometheus-client).

    aqistream_api_requests_total{kind="feed|map", outcome="ok|transient|over_quota|..."}
    aqistream_api_quota_per_minute            the --quota the producer keeps under
    aqistream_api_quota_used_ratio            requests of the last 60 s / --quota
    aqistream_stations_known                  stations followed, listed and discovered
    aqistream_map_tiles                       map tiles that cover the bounds:/world areas
    aqistream_readings_published_total        readings committed in Kafka
    aqistream_publication_delay_seconds       histogram: observed_at to commit, API time
    aqistream_kafka_transactions_total{outcome="committed|failed"}

Each producer has a registry of its own (not prometheus-client's global one), so the
metrics are exactly these and tests can make several.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

# Publication delay buckets: official readings appear minutes to two hours after they were
# observed, so the interesting range is wide.
DELAY_BUCKETS = (60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 21600)


class Metrics:
    def __init__(self, quota_per_minute: float, clock: Callable[[], float] = time.monotonic):
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._recent: deque[float] = deque()  # monotonic times of the last minute's requests
        self._lock = threading.Lock()
        self.requests = Counter(
            "aqistream_api_requests",
            "WAQI API requests sent, retries included, by kind (feed, map) and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        quota = Gauge(
            "aqistream_api_quota_per_minute",
            "API requests a minute the producer keeps under (--quota)",
            registry=self.registry,
        )
        quota.set(quota_per_minute)
        used = Gauge(
            "aqistream_api_quota_used_ratio",
            "API requests sent in the last 60 seconds, as a share of --quota",
            registry=self.registry,
        )
        used.set_function(lambda: self.requests_last_minute() / quota_per_minute)
        self.stations = Gauge(
            "aqistream_stations_known",
            "Stations the producer follows, listed in stations.txt or found on the map",
            registry=self.registry,
        )
        self.tiles = Gauge(
            "aqistream_map_tiles",
            "Map tiles covering the bounds: and world areas of stations.txt",
            registry=self.registry,
        )
        self.published = Counter(
            "aqistream_readings_published",
            "Readings committed to Kafka",
            registry=self.registry,
        )
        self.delay = Histogram(
            "aqistream_publication_delay_seconds",
            "Seconds from a reading's observation (observed_at) to its commit in Kafka, "
            "in the API's time: the API's publication lag plus the producer's own delay",
            buckets=DELAY_BUCKETS,
            registry=self.registry,
        )
        self.transactions = Counter(
            "aqistream_kafka_transactions",
            "Kafka transactions, by outcome (committed, failed)",
            ["outcome"],
            registry=self.registry,
        )

    def request(self, kind: str, outcome: str) -> None:
        """One API request was answered (or failed); called from the worker threads."""
        self.requests.labels(kind, outcome).inc()
        with self._lock:
            self._recent.append(self._clock())

    def requests_last_minute(self) -> int:
        with self._lock:
            horizon = self._clock() - 60.0
            while self._recent and self._recent[0] < horizon:
                self._recent.popleft()
            return len(self._recent)

    def serve(self, port: int) -> None:
        """Serve /metrics on `port` (all interfaces), in a daemon thread."""
        start_http_server(port, registry=self.registry)
