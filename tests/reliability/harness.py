"""The real pipeline, run while things break, then counted.

A Pipeline runs the WAQI simulator, producer.py (in its loop) and consumer.py (JSON lines,
in a consumer group) against a broker. A ticker moves the simulated clock one hour at a
time, so every station has a new reading each tick. After the faults stop, `catch_up()`
waits until the pipeline has caught up and `verdict()` compares three sets: the readings
the simulator served, what the topic holds (read_committed, from the beginning) and what
the consumer printed.

Official stations only: their readings change on the simulated hour, so once the ticker
stops, nothing new is served and "caught up" is a fixed point. (A crowd station's reading
changes at its own second within the hour, which would make the count a moving target.)
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aqistream.kafka.latest import ReadFailed
from aqistream.record import InvalidRecord, decode_record
from tests.pipeline import (
    NO_QUOTA,
    Running,
    config_file,
    feed_line,
    listed_stations,
    read_topic,
    readings_in,
    script_env,
    served_readings,
    start_producer,
    start_script,
    wait_for,
    waqi_simulator,
)

# Two minutes past a simulated hour: whole ticks never cross a :00 or :30 report time.
START = "2026-11-23T10:02:00Z"


@dataclass
class Verdict:
    served: int
    in_topic: int
    printed: int
    lost: int
    duplicated: int
    reprinted_uncommitted: int = 0

    def assert_exact(self) -> None:
        assert self.lost == 0, f"lost {self.lost} readings: {self}"
        assert self.duplicated == 0, f"duplicated {self.duplicated} readings: {self}"


def printed_readings(output: str) -> Counter:
    counts: Counter = Counter()
    for line in output.splitlines():
        if line.strip():
            record = json.loads(line)
            counts[record["station"]["idx"], record["observed_at"]] += 1
    return counts


class Pipeline:
    """Simulator + producer + consumer on `bootstrap_servers`; use as a context manager."""

    def __init__(
        self,
        workdir: Path,
        bootstrap_servers: str,
        stations: int = 50,
        producer_args: tuple[str, ...] = (),
        producer_config: str = "",
        sim_args: tuple[str, ...] = ("--quota", "0"),
        tick_seconds: float = 2.0,
    ):
        self.workdir = workdir
        self.bootstrap_servers = bootstrap_servers
        # Unique names: the scenarios that use the shared broker must not meet.
        self.topic = f"aqi_reliability_{uuid.uuid4().hex[:8]}"
        self.group = f"{self.topic}_group"
        self.station_count = stations
        self.producer_args = producer_args
        self.producer_config = producer_config
        self.sim_args = sim_args
        self.tick_seconds = tick_seconds
        self.ticking = threading.Event()
        self.tick_lock = threading.Lock()  # held while an hour is being added
        self.closed = threading.Event()
        self.consumers: list[Running] = []  # every consumer run, in order
        self.producer: Running | None = None

    # ------------------------------------------------------------ start and stop

    def __enter__(self) -> Pipeline:
        self.sim_context = waqi_simulator(17, "--stations", "300", *self.sim_args, start=START)
        self.sim = self.sim_context.__enter__()
        self.stations = listed_stations(self.sim, "reporting", "official", self.station_count)
        lines = [feed_line(station) for station in self.stations]
        (self.workdir / "stations.txt").write_text("\n".join(lines) + "\n")
        config_file(
            self.workdir,
            self.bootstrap_servers,
            # A new group reads from the beginning; a restarted one from its committed offsets.
            f"{self.producer_config}\n[consumer]\nauto.offset.reset=earliest\n",
        )
        self.start_producer()
        self.start_consumer()
        self.ticker = threading.Thread(target=self.tick, daemon=True)
        self.ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.ticking.clear()
        self.closed.set()
        for process in [self.producer, *self.consumers]:
            if process is not None and process.alive():
                process.stop(signal.SIGKILL)
        self.sim_context.__exit__(*exc)

    def start_producer(self, *extra: str) -> Running:
        self.producer = start_producer(
            self.workdir,
            self.sim,
            self.topic,
            "--interval",
            "0.5",
            "--workers",
            "16",
            "-v",
            *(self.producer_args or NO_QUOTA),
            *extra,
        )
        return self.producer

    def start_consumer(self) -> Running:
        consumer = start_script(
            "consumer.py",
            "config.ini",
            "--topic",
            self.topic,
            "--group",
            self.group,
            "--format",
            "json",
            env=script_env(None),
            cwd=self.workdir,
        )
        self.consumers.append(consumer)
        return consumer

    # ------------------------------------------------------------ simulated time

    def tick(self) -> None:
        """While ticking, one simulated hour every `tick_seconds` of real time."""
        while not self.closed.is_set():
            if not self.ticking.wait(0.1):
                continue
            if self.closed.wait(self.tick_seconds):
                return
            with self.tick_lock:
                if self.ticking.is_set():
                    self.advance_hour()

    def advance_hour(self) -> None:
        self.sim.admin("POST", "/admin/clock", {"advance_hours": 1})

    def start_ticking(self) -> None:
        self.ticking.set()

    def stop_ticking(self) -> None:
        """Stop the clock; when this returns no hour is being added any more."""
        with self.tick_lock:
            self.ticking.clear()

    # ------------------------------------------------------------ counting

    def served(self) -> set[tuple[int, str]]:
        return served_readings(self.sim)

    def in_topic(self) -> Counter:
        """The readings in the topic (poison written there by a test is left out)."""
        try:
            messages = read_topic(self.bootstrap_servers, self.topic, timeout=10)
        except ReadFailed:  # the topic or the broker is not there yet
            return Counter()
        return readings_in([(key, value) for key, value in messages if is_record(value)])

    def printed(self) -> Counter:
        counts: Counter = Counter()
        for consumer in self.consumers:
            counts += printed_readings(complete_lines(consumer.stdout()))
        return counts

    def wait_for_first_readings(self, timeout: float = 90) -> None:
        expected = self.station_count
        wait_for(lambda: len(self.in_topic()) >= expected, timeout, "the first readings")

    def current_readings(self) -> set[tuple[int, str]]:
        """Each station's reading at the simulated time now: an official station reports
        `report_second` seconds after every UTC hour (computed, so the check itself spends
        no quota and serves nothing)."""
        now = int(self.sim.admin("GET", "/admin/clock")["epoch"])
        current = set()
        for station in self.stations:
            observed = now - (now - station["report_second"]) % 3600
            stamp = datetime.fromtimestamp(observed, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            current.add((station["idx"], stamp))
        return current

    def caught_up(self) -> bool:
        """Every station's current reading, and everything served before, is in the topic
        and printed. With the clock stopped nothing newer can appear: a fixed point."""
        expected = self.served() | self.current_readings()
        topic = set(self.in_topic())
        printed = set(self.printed())
        self.gap = (
            f"{len(expected - topic)} readings not in the topic "
            f"(e.g. {sorted(expected - topic)[:3]}), {len(expected - printed)} not printed "
            f"(e.g. {sorted(expected - printed)[:3]})"
        )
        return expected <= topic and expected <= printed

    def catch_up(self, timeout: float = 180) -> float:
        """Stop the simulated clock and wait until everything served is in the topic and
        printed; how long it took. (start_ticking() again for more.)"""
        self.stop_ticking()
        started = time.monotonic()
        try:
            wait_for(self.caught_up, timeout, "the pipeline to catch up", every=0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}: {self.gap}") from None
        return time.monotonic() - started

    def wait_for_kafka_outage(self, outages_before: int, timeout: float = 90) -> None:
        """Until the producer has reported one more Kafka outage than `outages_before`."""
        wait_for(lambda: self.kafka_outages() > outages_before, timeout, "the producer to notice")

    def waiting(self) -> int:
        """How many readings the producer's last cycle line says are waiting for Kafka."""
        found = re.findall(r"\((\d+) waiting for Kafka\)", self.producer.stderr())
        return int(found[-1]) if found else 0

    def kafka_outages(self) -> int:
        return self.producer.stderr().count("readings wait and are published when it is back")

    def verdict(self, reprints_allowed: set | None = None) -> Verdict:
        served = self.served()
        topic = self.in_topic()
        printed = self.printed()
        lost = len(served - set(topic)) + len(set(topic) - set(printed))
        duplicated = sum(n - 1 for n in topic.values() if n > 1)
        reprinted = 0
        for reading, n in printed.items():
            if n > 1:
                if reprints_allowed is not None and reading in reprints_allowed:
                    reprinted += n - 1
                else:
                    duplicated += n - 1
        unexpected = set(topic) - served
        assert not unexpected, f"published but never served: {sorted(unexpected)[:5]}"
        return Verdict(len(served), len(topic), len(printed), lost, duplicated, reprinted)


def is_record(value: bytes) -> bool:
    try:
        decode_record(value)
    except InvalidRecord:
        return False
    return True


def complete_lines(text: str) -> str:
    """Drop a last line cut short by a kill -9 in the middle of a write."""
    return text if text.endswith("\n") or not text else text.rsplit("\n", 1)[0]
