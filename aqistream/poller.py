"""The producer's loop: each cycle fetches the due stations, keeps what is new, publishes it.

    stations list -> scheduler -> WAQI client (concurrent) -> normalise -> state -> Kafka

Failures of one station never stop the others. Readings that could not be published (Kafka
down, a transaction failed) wait in the state and go out with a later cycle's transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aqistream.kafka.publish import KafkaUnavailable, Publisher
from aqistream.kafka.values import BreaksContract
from aqistream.record import UnusableReading, normalise
from aqistream.source.scheduler import Scheduler
from aqistream.source.stations import StationList, StationQuery
from aqistream.source.waqi import InvalidToken, Stopped, UnknownStation, WaqiClient, WaqiError
from aqistream.state import PublishState

log = logging.getLogger("aqistream.producer")

KAFKA_TIMEOUT = 15.0
# Once Kafka is known to be down, each cycle tries again for this long only, so polling
# goes on at its pace; the clients keep reconnecting in the background meanwhile.
KAFKA_RETRY_TIMEOUT = 5.0
# On SIGINT/SIGTERM, requests still running get this long before the cycle publishes
# what it has and the producer exits.
STOP_GRACE = 2.0


@dataclass
class Fetched:
    query: StationQuery
    data: dict | None = None
    error: WaqiError | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class CycleReport:
    polled: int = 0
    published: int = 0
    unchanged: int = 0
    failed: int = 0
    requests: int = 0
    seconds: float = 0.0
    waiting: int = 0
    kafka_problem: str | None = None
    waiting_for: str = "Kafka"  # or the schema registry
    api_problem: str | None = None  # why no station at all could be fetched

    def line(self, number: int) -> str:
        published = f"{self.published} new readings published"
        if self.kafka_problem:
            published += f" ({self.waiting} waiting for {self.waiting_for})"
        return (
            f"cycle {number}: {self.polled} stations polled, {published}, "
            f"{self.unchanged} unchanged, {self.failed} failed, "
            f"{self.requests} API requests, {self.seconds:.2f} s"
        )


def fetch_concurrently(
    queries: list[StationQuery],
    fetch: Callable[[str], dict],
    workers: int,
    stop: threading.Event,
) -> Iterator[Fetched]:
    """Fetch every query on up to `workers` threads, yielding each result as it arrives
    (so each answer can be turned into a small record and freed at once). On stop, what
    arrives within STOP_GRACE.

    Daemon threads, not an executor: a request hanging at shutdown must not hold the exit.
    """
    todo: queue.SimpleQueue[StationQuery] = queue.SimpleQueue()
    for query in queries:
        todo.put(query)
    arrived: queue.SimpleQueue[Fetched] = queue.SimpleQueue()

    def work() -> None:
        while not stop.is_set():
            try:
                query = todo.get_nowait()
            except queue.Empty:
                return
            try:
                arrived.put(Fetched(query, data=fetch(query.feed_path)))
            except WaqiError as error:
                arrived.put(Fetched(query, error=error))
            except Exception as error:  # a bug must not kill the worker silently
                arrived.put(Fetched(query, error=WaqiError(f"unexpected error: {error!r}")))

    for _ in range(min(workers, len(queries))):
        threading.Thread(target=work, daemon=True).start()
    grace_ends = None
    for _ in queries:
        while True:
            try:
                yield arrived.get(timeout=0.2)
                break
            except queue.Empty:
                if stop.is_set():
                    grace_ends = grace_ends or time.monotonic() + STOP_GRACE
                    if time.monotonic() > grace_ends:
                        return


class Poller:
    def __init__(
        self,
        stations: StationList,
        client: WaqiClient,
        publisher: Publisher,
        workers: int,
        stop: threading.Event,
        scheduler: Scheduler | None = None,
        state: PublishState | None = None,
    ):
        self.stations = stations
        self.client = client
        self.publisher = publisher
        self.workers = workers
        self.stop = stop
        self.scheduler = scheduler or Scheduler()
        self.state = state or PublishState()
        self.connected = False
        self.reported_problems: dict[str, str] = {}  # query text -> last warning given
        self.reported_kafka_problem: str | None = None
        self.waiting_for = "Kafka"  # the service of the last problem
        self.reported_service = "Kafka"  # the service of the problem reported

    # ------------------------------------------------------------ Kafka

    def ensure_connected(self) -> str | None:
        """Connect and restore the committed state if needed; the problem, if any."""
        if self.connected:
            return None
        try:
            down = self.reported_kafka_problem is not None
            committed = self.publisher.connect(KAFKA_RETRY_TIMEOUT if down else KAFKA_TIMEOUT)
        except KafkaUnavailable as error:
            self.waiting_for = error.service
            return str(error)
        self.state.restore(committed)
        self.connected = True
        log.info(
            "connected to Kafka at %s: %d stations published before",
            self.publisher.config.bootstrap_servers,
            len(committed),
        )
        return None

    def publish_waiting(self, report: CycleReport) -> None:
        problem = self.ensure_connected()
        batch = self.state.batch() if problem is None else []
        if batch:
            log.debug("sending %d readings in one transaction", len(batch))
            try:
                self.publisher.publish(batch, KAFKA_TIMEOUT)
            except KafkaUnavailable as error:
                self.connected = False
                self.waiting_for = error.service
                problem = str(error)
            else:
                self.state.committed_batch(batch)
                report.published = len(batch)
                for record in batch:
                    log.debug(
                        "published %s %s AQI %s",
                        record["station"]["name"],
                        record["observed_local"],
                        record["aqi"],
                    )
        report.waiting = self.state.waiting
        report.kafka_problem = problem
        report.waiting_for = self.waiting_for
        self.note_kafka_problem(problem)

    def note_kafka_problem(self, problem: str | None) -> None:
        """Say when Kafka becomes unreachable and when it is back, not every cycle."""
        if problem == self.reported_kafka_problem:
            return
        if problem:
            log.warning("%s; readings wait and are published when it is back", problem)
            self.reported_service = self.waiting_for
        elif self.reported_kafka_problem:
            log.info("%s is reachable again", self.reported_service.capitalize())
        self.reported_kafka_problem = problem

    # ------------------------------------------------------------ one cycle

    def run_cycle(self) -> CycleReport:
        started = time.monotonic()
        requests_before = self.client.requests_made
        report = CycleReport()
        queries = self.stations.current()
        self.scheduler.forget_missing(queries)
        due = self.scheduler.due(queries, started)
        transient: dict[str, list[str]] = defaultdict(list)
        for result in fetch_concurrently(due, self.client.fetch_feed, self.workers, self.stop):
            if isinstance(result.error, InvalidToken):
                raise result.error
            if isinstance(result.error, Stopped):
                continue
            report.polled += 1
            if isinstance(result.error, UnknownStation):
                report.failed += 1
                self.scheduler.unknown(result.query, started)
                self.warn_once(result.query, f"{result.error} (check this line)")
            elif result.error is not None:
                report.failed += 1
                transient[str(result.error)].append(result.query.text)
            elif not self.take(result, report):
                report.failed += 1
        for reason, texts in transient.items():
            shown = ", ".join(texts[:5]) + (f" and {len(texts) - 5} more" if len(texts) > 5 else "")
            log.warning(
                "%d station(s) failed: %s (%s); retried next cycle", len(texts), reason, shown
            )
        if report.polled > 0 and sum(map(len, transient.values())) == report.polled:
            report.api_problem = max(transient, key=lambda reason: len(transient[reason]))
        self.publish_waiting(report)
        report.requests = self.client.requests_made - requests_before
        report.seconds = time.monotonic() - started
        return report

    def take(self, result: Fetched, report: CycleReport) -> bool:
        """Normalise a fetched reading and queue it if new; False when it is unusable."""
        query = result.query
        try:
            record = normalise(result.data, query.text, result.fetched_at)
        except UnusableReading as error:
            self.warn_once(query, f"reading skipped: {error}")
            return False
        idx = record["station"]["idx"]
        twins = self.scheduler.resolved(query, idx)
        if twins:
            log.info("%r is station %d, as %r is: polling it once", query.text, idx, twins[0])
        if not self.state.is_new(record):
            report.unchanged += 1
        else:
            try:
                # Only new readings: jsonschema is slow (far slower than normalise itself).
                self.publisher.check(record)
            except BreaksContract as error:
                self.warn_once(query, f"reading skipped: station {idx} {error}")
                return False
            self.state.offer(record)
        if self.reported_problems.pop(query.text, None):
            log.info("%r is fine again", query.text)
        return True

    def warn_once(self, query: StationQuery, problem: str) -> None:
        """One warning per station and problem; again only when the problem changes."""
        if self.reported_problems.get(query.text) != problem:
            self.reported_problems[query.text] = problem
            log.warning("%s:%d %r: %s", self.stations.source, query.line, query.text, problem)

    # ------------------------------------------------------------ the loop

    def once_exit_code(self, report: CycleReport) -> int:
        """--once: 0 if the cycle completed (some stations may have failed), else 1."""
        if report.kafka_problem:
            log.error(
                "%d new readings could not be published: %s", report.waiting, report.kafka_problem
            )
            return 1
        if report.api_problem:
            log.error(
                "no station could be fetched from the WAQI API at %s: %s",
                self.client.api_url,
                report.api_problem,
            )
            return 1
        return 0

    def run(self, interval: float, once: bool) -> int:
        """Run cycles until stopped (or one, with once); the exit code."""
        # Topics are made and the committed state read before the first fetch, if Kafka is up.
        if not self.stop.is_set():
            self.note_kafka_problem(self.ensure_connected())
        number = 0
        try:
            while not self.stop.is_set():
                number += 1
                report = self.run_cycle()
                log.info(report.line(number))
                if once:
                    return self.once_exit_code(report)
                self.stop.wait(max(0.0, interval - report.seconds))
            return 0
        finally:
            self.publisher.close()
