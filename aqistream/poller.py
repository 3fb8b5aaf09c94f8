"""The producer's loop: fetch what is due, keep what is new, publish it.

    stations list -> (map discovery) -> scheduler -> WAQI client (concurrent) -> normalise
        -> state -> Kafka

Two ways to run. With --interval (and --once), a cycle is one full sweep: the map tiles of
every bounds:/world area, then a feed for every listed station and for every station the
map shows a new reading of, all in one transaction. By default the loop is cadence-aware
(``run_watching``): the scheduler hands out each request when it is worth making, answers
are taken as they arrive, and what is new is committed every few seconds of API time in
small transactions; a cycle line then sums up each minute of API time.

Failures of one station never stop the others. Readings that could not be published (Kafka
down, a transaction failed) wait in the state and go out with a later transaction.
"""

from __future__ import annotations

import logging
import queue
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aqistream.kafka.publish import KafkaUnavailable, Publisher
from aqistream.kafka.values import BreaksContract
from aqistream.metrics import Metrics
from aqistream.record import UnusableReading, normalise
from aqistream.source.clock import ApiClock
from aqistream.source.discovery import Verdict, map_stations
from aqistream.source.fetcher import Answer, Fetcher
from aqistream.source.scheduler import MAP, Request, Scheduler
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
# The cadence-aware loop commits what is new this often (API seconds), or at once when
# nothing is in flight; a cycle line sums up each REPORT_EVERY of API time.
COMMIT_EVERY = 5.0
REPORT_EVERY = 60.0
# While discovering, a progress line this often (real seconds).
PROGRESS_EVERY = 5.0
UNUSABLE = "reading without a usable station or time, skipped until the map shows a newer one"


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
    tiles: int = 0  # of the requests, map tiles
    known: int = 0  # stations followed at the end of the cycle
    seconds: float = 0.0
    waiting: int = 0
    ages: list[float] = field(default_factory=list)  # observed_at -> commit, API seconds
    kafka_problem: str | None = None
    waiting_for: str = "Kafka"  # or the schema registry
    api_problem: str | None = None  # why no station at all could be fetched

    def line(self, number: int) -> str:
        published = f"{self.published} new readings published"
        if self.kafka_problem:
            published += f" ({self.waiting} waiting for {self.waiting_for})"
        requests = f"{self.requests} API requests"
        if self.tiles:
            requests += f" ({self.tiles} map tile{'s' if self.tiles > 1 else ''})"
        freshness = ""
        if self.ages:
            # From observed_at: what the producer can know of when a reading appeared.
            median, worst = statistics.median(self.ages) / 60, max(self.ages) / 60
            freshness = f", freshness median {minutes(median)}, worst {minutes(worst)}"
        return (
            f"cycle {number}: {self.polled} stations polled, {published}, "
            f"{self.unchanged} unchanged, {self.failed} failed, {requests}, "
            f"{self.known:,} stations known{freshness}, {self.seconds:.2f} s"
        )

    @property
    def active(self) -> bool:
        return bool(self.requests or self.published or self.kafka_problem)


def warn_failures(failed: dict[str, list[str]], then: str) -> None:
    """One warning per reason, naming the first few stations it hit."""
    for reason, texts in failed.items():
        shown = ", ".join(texts[:5]) + (f" and {len(texts) - 5} more" if len(texts) > 5 else "")
        log.warning("%d station(s) failed: %s (%s)%s", len(texts), reason, shown, then)


def minutes(value: float) -> str:
    return f"{value:.1f} min" if value < 10 else f"{value:.0f} min"


def observed_epoch(record: dict) -> int:
    """observed_at (always YYYY-MM-DDTHH:MM:SSZ) as epoch seconds."""
    return int(datetime.fromisoformat(record["observed_at"]).timestamp())


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
        clock: ApiClock | None = None,
        metrics: Metrics | None = None,
    ):
        self.stations = stations
        self.client = client
        self.publisher = publisher
        self.workers = workers
        self.stop = stop
        self.scheduler = scheduler or Scheduler()
        self.state = state or PublishState()
        self.clock = clock or client.clock
        self.metrics = metrics or Metrics(1.0)
        self.connected = False
        self.reported_problems: dict[str, str] = {}  # query text -> last warning given
        self.reported_kafka_problem: str | None = None
        self.waiting_for = "Kafka"  # the service of the last problem
        self.reported_service = "Kafka"  # the service of the problem reported
        self.map_times: dict[str, int | None] = {}  # map station.time text -> epoch
        self.reported_map_problem: str | None = None
        self.lines: list | None = None  # the stations list the scheduler was last given
        self.reported_unusable: set[str] = set()  # discovered stations said to be unusable

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
        self.scheduler.restore(
            {idx: int(datetime.fromisoformat(at).timestamp()) for idx, at in committed.items()}
        )
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
                self.metrics.transactions.labels("failed").inc()
            else:
                self.state.committed_batch(batch)
                self.committed(batch, report)
        report.waiting = self.state.waiting
        report.kafka_problem = problem
        report.waiting_for = self.waiting_for
        self.note_kafka_problem(problem)

    def committed(self, batch: list[dict], report: CycleReport) -> None:
        committed_at = self.clock.now()
        self.metrics.transactions.labels("committed").inc()
        self.metrics.published.inc(len(batch))
        report.published += len(batch)
        for record in batch:
            age = max(0.0, committed_at - observed_epoch(record))
            report.ages.append(age)
            self.metrics.delay.observe(age)
            log.debug(
                "published %s %s AQI %s",
                record["station"]["name"],
                record["observed_local"],
                record["aqi"],
            )

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

    # ------------------------------------------------------------ one full sweep

    def run_cycle(self) -> CycleReport:
        """One full sweep (--interval, --once): every map tile, then every due feed, then
        one transaction."""
        started = time.monotonic()
        requests_before = self.client.requests_made
        tiles_before = self.client.requests_by_kind[MAP]
        report = CycleReport()
        lines = self.stations.current()
        queries = [line for line in lines if isinstance(line, StationQuery)]
        if lines is not self.lines:
            self.lines = lines
            self.scheduler.update_lines(lines)
        self.sweep_map()
        transient: dict[str, list[str]] = defaultdict(list)
        listed = self.scheduler.due(queries, self.clock.now())
        self.fetch_feeds(listed, report, transient, discovered=False)
        # Then the stations only the map names: after the listed lines, so that a station
        # both name is fetched once, under its own line.
        resolved = {self.scheduler.idx_of.get(query.text) for query in queries} - {None}
        news = [
            StationQuery(request.query, request.line, request.feed_path)
            for request in self.scheduler.news(exclude=resolved)
        ]
        self.fetch_feeds(news, report, transient, discovered=True)
        warn_failures(transient, "; retried next cycle")
        if report.polled > 0 and sum(map(len, transient.values())) == report.polled:
            report.api_problem = max(transient, key=lambda reason: len(transient[reason]))
        self.publish_waiting(report)
        report.requests = self.client.requests_made - requests_before
        report.tiles = self.client.requests_by_kind[MAP] - tiles_before
        report.known = self.scheduler.stations_known()
        report.seconds = time.monotonic() - started
        return report

    def fetch_feeds(
        self,
        queries: list[StationQuery],
        report: CycleReport,
        transient: dict[str, list[str]],
        discovered: bool,
    ) -> None:
        for result in fetch_concurrently(queries, self.client.fetch_feed, self.workers, self.stop):
            if isinstance(result.error, InvalidToken):
                raise result.error
            if isinstance(result.error, Stopped):
                continue
            report.polled += 1
            if isinstance(result.error, UnknownStation):
                report.failed += 1
                if not discovered:
                    self.scheduler.unknown(result.query, self.clock.now())
                    self.warn_once(result.query, f"{result.error} (check this line)")
            elif result.error is not None:
                report.failed += 1
                name = result.query.feed_path if discovered else result.query.text
                transient[str(result.error)].append(name)
            elif not self.take(result, report, discovered):
                report.failed += 1

    def sweep_map(self) -> None:
        """Every tile of every area once, and whatever discovery still wants, to the end."""
        pending = self.scheduler.sweep_requests()
        failed: set = set()
        while pending and not self.stop.is_set():
            for answer in fetch_requests(pending, self.client, self.workers, self.stop):
                if not self.take_map(answer):
                    failed.add(answer.request.tile)
            # A tile that failed waits for the next cycle; what it made known stays known.
            pending = [
                request
                for request in self.scheduler.sweep_requests(discovery_only=True)
                if request.tile not in failed
            ]
        self.announce_discovery(force=True)

    def take(self, result: Fetched, report: CycleReport, discovered: bool = False) -> bool:
        """Normalise a fetched reading and queue it if new; False when it is unusable."""
        query = result.query
        try:
            record = normalise(result.data, query.text, result.fetched_at)
        except UnusableReading as error:
            self.warn_once(query, f"reading skipped: {error}")
            return False
        idx = record["station"]["idx"]
        if not discovered:
            twins = self.scheduler.resolved(query, idx)
            if twins:
                log.info("%r is station %d, as %r is: polling it once", query.text, idx, twins[0])
        self.scheduler.fed(idx, observed_epoch(record))
        if not self.queue(record, query, report):
            return False
        if self.reported_problems.pop(query.text, None):
            log.info("%r is fine again", query.text)
        return True

    def queue(self, record: dict, query: StationQuery | Request, report: CycleReport) -> bool:
        """Queue a new reading that keeps the contract; False when it breaks it."""
        if not self.state.is_new(record):
            report.unchanged += 1
            return True
        try:
            # Only new readings: jsonschema is slow (far slower than normalise itself).
            self.publisher.check(record)
        except BreaksContract as error:
            self.warn_once(query, f"reading skipped: station {record['station']['idx']} {error}")
            return False
        self.state.offer(record)
        return True

    def warn_once(
        self, query: StationQuery | Request, problem: str, key: str | None = None
    ) -> None:
        """One warning per station and problem; again only when the problem changes."""
        text = query.text if isinstance(query, StationQuery) else query.query
        key = key or text
        if self.reported_problems.get(key) != problem:
            self.reported_problems[key] = problem
            log.warning("%s:%d %r: %s", self.stations.source, query.line, text, problem)

    # ------------------------------------------------------------ map answers

    def take_map(self, answer: Answer) -> bool:
        """A map tile's answer to discovery and the scheduler; False if it failed."""
        now = self.clock.now()
        if isinstance(answer.error, InvalidToken):
            raise answer.error
        if answer.error is not None:
            self.scheduler.map_failed(answer.request, now)
            if not isinstance(answer.error, Stopped):
                self.note_map_problem(answer.request, str(answer.error))
            return False
        self.note_map_problem(answer.request, None)
        verdict = self.scheduler.map_answered(
            answer.request, map_stations(answer.data, self.map_times), now
        )
        self.note_verdict(answer.request, verdict)
        return True

    def note_map_problem(self, request: Request, problem: str | None) -> None:
        """Say once when map answers fail and when they are back."""
        if problem == self.reported_map_problem:
            return
        if problem:
            log.warning(
                "%s:%d %r: map tile %s failed: %s; stations already known are still fetched",
                self.stations.source,
                request.line,
                request.query,
                request.tile,
                problem,
            )
        elif self.reported_map_problem:
            log.info("map answers are back")
        self.reported_map_problem = problem

    def note_verdict(self, request: Request, verdict: Verdict) -> None:
        if verdict.thinned is not None:
            log.debug("map tile %s was thinned: split in four", verdict.thinned)
        if verdict.too_small is not None:
            self.warn_once(
                request,
                f"map tile {verdict.too_small} is too small to split yet looks thinned: "
                "WAQI may not show every station in it",
                key=f"{request.query}:{verdict.too_small}",
            )

    def announce_discovery(self, force: bool = False) -> None:
        """Discovery progress while it runs, and one line when an area is covered."""
        for area, leaves, requests, found in self.scheduler.newly_complete():
            log.info(
                "discovery: %s (%s:%d) covered by %d map tiles, %d requests: %s stations",
                area.text,
                self.stations.source,
                area.line,
                leaves,
                requests,
                f"{found:,}",
            )
        if force:
            return
        for area, requests, found, complete in self.scheduler.discovery_progress():
            if not complete:
                log.info(
                    "discovery: %s: %d map tiles asked, %s stations found so far",
                    area.text,
                    requests,
                    f"{found:,}",
                )

    # ------------------------------------------------------------ cadence-aware

    def run_watching(self) -> int:
        """Fetch each station when its next reading is due, until stopped; the exit code."""
        fetcher = Fetcher(self.client, self.workers, self.stop)
        number = 0
        report, report_from = CycleReport(), self.clock.now()
        real_from = time.monotonic()
        last_commit = self.clock.now()
        next_progress = time.monotonic() + PROGRESS_EVERY
        kafka_retry_at = 0.0
        requests_seen, tiles_seen = self.client.requests_made, self.client.requests_by_kind[MAP]
        transient: dict[str, list[str]] = defaultdict(list)
        stop_deadline = None
        while True:
            if self.stop.is_set():
                stop_deadline = stop_deadline or time.monotonic() + STOP_GRACE
                if fetcher.outstanding == 0 or time.monotonic() > stop_deadline:
                    break
            else:
                lines = self.stations.current()
                if lines is not self.lines:
                    self.lines = lines
                    self.scheduler.update_lines(lines)
                now = self.clock.now()
                room = 2 * self.workers - fetcher.outstanding
                for request in self.scheduler.plan(now, room):
                    fetcher.submit(request)
            wait = 0.2
            if fetcher.outstanding == 0 and not self.stop.is_set():
                ahead = self.scheduler.next_due(self.clock.now()) - self.clock.now()
                wait = min(1.0, max(0.0, self.clock.real_seconds(ahead)))
            for answer in fetcher.answers(wait):
                self.take_answer(answer, report, transient)
            now = self.clock.now()
            # The first answers set the API clock, which may be far from this machine's.
            report_from, last_commit = min(report_from, now), min(last_commit, now)
            idle = fetcher.outstanding == 0
            commit_due = self.state.waiting and (idle or now - last_commit >= COMMIT_EVERY)
            # While Kafka is down, trying again every few seconds is enough.
            kafka_ready = self.reported_kafka_problem is None or time.monotonic() >= kafka_retry_at
            if commit_due and kafka_ready:
                self.publish_waiting(report)
                last_commit = now
                kafka_retry_at = time.monotonic() + KAFKA_RETRY_TIMEOUT
            if self.scheduler.discovering and time.monotonic() >= next_progress:
                self.announce_discovery()
                next_progress = time.monotonic() + PROGRESS_EVERY
            else:
                self.announce_discovery(force=True)
            if now - report_from >= REPORT_EVERY:
                number = self.end_period(
                    report, number, transient, requests_seen, tiles_seen, real_from
                )
                requests_seen = self.client.requests_made
                tiles_seen = self.client.requests_by_kind[MAP]
                report, report_from, real_from = CycleReport(), now, time.monotonic()
                transient = defaultdict(list)
        fetcher.close()
        if self.state.waiting:
            self.publish_waiting(report)
        self.end_period(report, number, transient, requests_seen, tiles_seen, real_from)
        return 0

    def end_period(self, report, number, transient, requests_seen, tiles_seen, real_from) -> int:
        """Log the period's cycle line (if anything happened in it); the cycle number."""
        warn_failures(transient, "")
        report.requests = self.client.requests_made - requests_seen
        report.tiles = self.client.requests_by_kind[MAP] - tiles_seen
        report.known = self.scheduler.stations_known()
        report.waiting = self.state.waiting
        report.seconds = time.monotonic() - real_from
        self.metrics.stations.set(report.known)
        self.metrics.tiles.set(len(self.scheduler.sweeps))
        if not report.active:
            return number
        log.info(report.line(number + 1))
        return number + 1

    def take_answer(
        self, answer: Answer, report: CycleReport, transient: dict[str, list[str]]
    ) -> None:
        if answer.request.kind == MAP:
            self.take_map(answer)
            return
        request, now = answer.request, self.clock.now()
        if isinstance(answer.error, InvalidToken):
            raise answer.error
        if isinstance(answer.error, Stopped):
            self.scheduler.feed_failed(request, now, unknown=False)
            return
        report.polled += 1
        if isinstance(answer.error, UnknownStation):
            report.failed += 1
            self.scheduler.feed_failed(request, now, unknown=True)
            if not request.discovered:
                self.warn_once(request, f"{answer.error} (check this line)")
            return
        if answer.error is not None:
            report.failed += 1
            self.scheduler.feed_failed(request, now, unknown=False)
            transient[str(answer.error)].append(
                request.query if not request.discovered else request.feed_path
            )
            return
        try:
            record = normalise(answer.data, request.query, answer.fetched_at)
        except UnusableReading as error:
            report.failed += 1
            idx = answer.data.get("idx") if isinstance(answer.data, dict) else None
            if type(idx) is int:
                self.scheduler.feed_answered(request, idx, None, now)
            else:
                self.scheduler.feed_failed(request, now, unknown=False)
            if request.discovered:
                # Many stations of a whole area may be broken at once: one line for all of a
                # minute, each station named once only (it is asked again when the map shows
                # a newer reading, and usually answers the same).
                if request.feed_path not in self.reported_unusable:
                    self.reported_unusable.add(request.feed_path)
                    transient[UNUSABLE].append(request.feed_path)
            else:
                self.warn_once(request, f"reading skipped: {error}")
            return
        idx = record["station"]["idx"]
        twins = self.scheduler.feed_answered(request, idx, observed_epoch(record), now)
        if twins:
            log.info("%r is station %d, as %r is: polling it once", request.query, idx, twins[0])
        if not self.queue(record, request, report):
            report.failed += 1
            return
        if self.reported_problems.pop(request.query, None):
            log.info("%r is fine again", request.query)

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

    def run(self, interval: float | None, once: bool) -> int:
        """Run until stopped: cycles every `interval` seconds, one with `once`, or
        cadence-aware with neither; the exit code."""
        # Topics are made and the committed state read before the first fetch, if Kafka is up.
        if not self.stop.is_set():
            self.note_kafka_problem(self.ensure_connected())
        number = 0
        try:
            if interval is None and not once:
                return self.run_watching()
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


def fetch_requests(
    requests: list[Request], client: WaqiClient, workers: int, stop: threading.Event
) -> Iterator[Answer]:
    """Map requests of a full sweep, on up to `workers` threads, each answer as it arrives."""
    fetcher = Fetcher(client, workers, stop)
    for request in requests:
        fetcher.submit(request)
    grace_ends = None
    try:
        while fetcher.outstanding:
            yield from fetcher.answers(0.2)
            if stop.is_set():
                grace_ends = grace_ends or time.monotonic() + STOP_GRACE
                if time.monotonic() > grace_ends:
                    return
    finally:
        fetcher.close()
