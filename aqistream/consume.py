"""The consumer's loop: read committed readings in a consumer group and print them.

Offsets are stored only after a batch's lines have been written and flushed, and committed
from there (periodically and on close), so a crash re-prints at most what was printed
after the last commit and never skips a reading.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from aqistream.config import ConfigError, KafkaConfig
from aqistream.latest import ReadFailed, latest_topic, read_to_end
from aqistream.record import InvalidRecord, decode_record
from aqistream.render import format_pretty, pretty_header, record_matches

log = logging.getLogger("aqistream.consumer")
kafka_log = logging.getLogger("aqistream.librdkafka")

DEFAULT_GROUP = "aqi-stream-consumer"
BATCH = 500
# With --snapshot, a group with no committed offsets streams from this long before the
# snapshot was read (covering transactions open meanwhile and clock skew); what the
# snapshot already showed is skipped.
SNAPSHOT_OVERLAP_SECONDS = 600


@dataclass
class ConsumerOptions:
    topic: str = "air_quality_index"
    group: str | None = None
    from_beginning: bool = False
    format: str = "pretty"
    stations: list[str] = field(default_factory=list)
    min_aqi: int | None = None
    snapshot: bool = False
    max_records: int | None = None
    idle_timeout: float | None = None
    colour: bool = False
    header: bool = False  # column titles first (on a terminal)


class Output:
    """Writes records to stdout: the published bytes (json) or one aligned line (pretty)."""

    def __init__(self, stream: BinaryIO, options: ConsumerOptions):
        self.stream = stream
        self.options = options
        self.lines: list[bytes] = []

    def header(self) -> None:
        if self.options.format == "pretty" and self.options.header:
            self.stream.write(pretty_header(self.options.colour).encode() + b"\n")

    def add(self, record: dict, value: bytes) -> None:
        if self.options.format == "json":
            self.lines.append(value)
        else:
            self.lines.append(format_pretty(record, self.options.colour).encode())

    def flush(self) -> None:
        if self.lines:
            self.stream.write(b"\n".join(self.lines) + b"\n")
            self.lines.clear()
        self.stream.flush()


@dataclass
class Counts:
    printed: int = 0
    invalid: int = 0


class ReadingConsumer:
    def __init__(
        self,
        config: KafkaConfig,
        options: ConsumerOptions,
        output: Output,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.options = options
        self.output = output
        self.stop = stop
        self.clock = clock
        self.counts = Counts()
        self.kafka_problem: str | None = None
        self.last_news = clock()
        self.snapshot_taken_at: float | None = None  # wall-clock seconds
        self.snapshot_seen: dict[int, str] = {}  # station idx -> observed_at shown
        settings = {
            # A new group starts with readings that arrive from now on (--from-beginning
            # or --snapshot show the past); config.ini may say otherwise.
            "auto.offset.reset": "latest",
            **config.common,
            **config.consumer,
            "group.id": self.group,
            "isolation.level": "read_committed",
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            "logger": kafka_log,
            "error_cb": self.on_error,
        }
        try:
            self.consumer = Consumer(settings)
        except KafkaException as error:
            raise ConfigError(f"{config.source}: {error.args[0].str()}") from None

    @property
    def group(self) -> str:
        return self.options.group or self.config.consumer.get("group.id") or DEFAULT_GROUP

    def on_error(self, error: KafkaError) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self.say_kafka_problem(
                f"Kafka unreachable at {self.config.bootstrap_servers} ({error.str()}); waiting"
            )
        elif error.code() in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED):
            self.say_kafka_problem(f"Kafka authentication failed: {error.str()}")

    def say_kafka_problem(self, problem: str | None) -> None:
        if problem != self.kafka_problem:
            if problem:
                log.warning(problem)
            elif self.kafka_problem:
                log.info("receiving again")
            self.kafka_problem = problem

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.last_news = self.clock()
        if self.options.from_beginning:
            for partition in partitions:
                partition.offset = OFFSET_BEGINNING
        elif self.snapshot_taken_at is not None:
            self.start_after_snapshot(consumer, partitions)
        consumer.assign(partitions)

    def start_after_snapshot(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions with no committed offset start just before the snapshot, not at the end,
        so that nothing published while the snapshot was read is missed."""
        committed = consumer.committed(partitions, timeout=10)
        fresh = [p for p in committed if p.offset < 0]
        if not fresh:
            return
        since_ms = int((self.snapshot_taken_at - SNAPSHOT_OVERLAP_SECONDS) * 1000)
        found = consumer.offsets_for_times(
            [TopicPartition(p.topic, p.partition, since_ms) for p in fresh], timeout=10
        )
        starts = {(p.topic, p.partition): p.offset for p in found}
        for partition in partitions:
            start = starts.get((partition.topic, partition.partition))
            if start is not None:
                partition.offset = start if start >= 0 else OFFSET_END

    # ------------------------------------------------------------ the loop

    def run(self) -> Counts:
        self.output.header()
        if self.options.snapshot:
            self.print_snapshot()
        self.consumer.subscribe([self.options.topic], on_assign=self.on_assign)
        try:
            while not self.stop.is_set() and not self.done():
                messages = self.consumer.consume(BATCH, timeout=0.5)
                if messages:
                    self.last_news = self.clock()
                    self.handle(messages)
                elif self.idle_for_too_long():
                    break
        finally:
            self.output.flush()
            # Commits the stored offsets and leaves the group, so a partner takes over now.
            self.consumer.close()
        return self.counts

    def done(self) -> bool:
        limit = self.options.max_records
        return limit is not None and self.counts.printed >= limit

    def idle_for_too_long(self) -> bool:
        idle = self.options.idle_timeout
        return idle is not None and self.clock() - self.last_news >= idle

    def handle(self, messages: list) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self.report_error(error)
                continue
            self.say_kafka_problem(None)
            next_offsets[message.topic(), message.partition()] = message.offset() + 1
            self.show(message)
            if self.done():
                break
        self.output.flush()
        if next_offsets:
            self.consumer.store_offsets(
                offsets=[TopicPartition(t, p, offset) for (t, p), offset in next_offsets.items()]
            )

    def show(self, message) -> None:
        value = message.value()
        try:
            record = decode_record(value)
        except InvalidRecord as problem:
            self.counts.invalid += 1
            log.warning(
                "skipping an invalid record at %s partition %d offset %d: %s",
                message.topic(),
                message.partition(),
                message.offset(),
                problem,
            )
            return
        idx = record["station"]["idx"]
        if record["observed_at"] <= self.snapshot_seen.get(idx, ""):
            return  # the snapshot showed this one already
        if record_matches(record, self.options.stations, self.options.min_aqi):
            self.output.add(record, value)
            self.counts.printed += 1

    def report_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            self.say_kafka_problem(
                f"topic {self.options.topic} does not exist yet; waiting for the producer"
            )
        elif not error.retriable() and error.fatal():
            raise KafkaException(error)
        else:
            self.say_kafka_problem(f"Kafka: {error.str()}")

    def print_snapshot(self) -> None:
        """Each station's current reading, from `.latest`, before the stream."""
        settings = {**self.config.common, "logger": kafka_log}
        self.snapshot_taken_at = time.time()
        seen: dict[int, str] = {}
        try:
            for message in read_to_end(settings, latest_topic(self.options.topic), timeout=60):
                if self.done():
                    break
                self.show(message)
                remember(seen, message)
        except ReadFailed as error:
            log.warning("no snapshot: %s", error)
        self.output.flush()
        self.snapshot_seen = seen


def remember(seen: dict[int, str], message) -> None:
    try:
        record = decode_record(message.value())
    except InvalidRecord:
        return
    idx = record["station"]["idx"]
    seen[idx] = max(seen.get(idx, ""), record["observed_at"])
