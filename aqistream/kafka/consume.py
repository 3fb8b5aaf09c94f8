"""The consumer's loop: read committed readings in a consumer group and print them.

GroupConsumer is what every reader of the topic in a group shares (its settings, how Kafka's
problems are reported once, the idle timeout, leaving the group); ReadingConsumer prints,
and aqistream/store/sink.py stores.

Offsets are stored only after a batch's lines have been written and flushed, and committed
from there (every second, and on close), so a crash re-prints at most what was printed
after the last commit and never skips a reading. Where a run starts in a partition it does
not resume (--from-beginning, or a group new to it) is stored the moment it is assigned, so
a run that stops before reaching that partition does not lose the group's place in it.

Values are decoded by kafka/values.py, plain JSON and the schema registry's wire format
alike. A value whose schema the registry must be asked for while it is down is not
skipped: the reader says so, its partition goes back to it and waits until the registry
answers, the other partitions read on (GroupConsumer.hold).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from aqistream.config import ConfigError, KafkaConfig
from aqistream.kafka.latest import ReadFailed, latest_topic, read_to_end
from aqistream.kafka.values import Decoded, ValueCodec
from aqistream.record import InvalidRecord, Record, check_record
from aqistream.registry.failures import RegistryUnavailable
from aqistream.render import KIND_LINES, record_matches
from aqistream.windows.outputs import output_kind

log = logging.getLogger("aqistream.consumer")
kafka_log = logging.getLogger("aqistream.librdkafka")

DEFAULT_GROUP = "aqi-stream-consumer"
BATCH = 500
# With --snapshot, a group with no committed offsets streams from this long before the
# snapshot was read (covering transactions open meanwhile and clock skew); what the
# snapshot already showed is skipped.
SNAPSHOT_OVERLAP_SECONDS = 600
# How long closing may take: committing and leaving the group need the broker, and while
# it is unreachable librdkafka would wait for a whole session timeout.
CLOSE_TIMEOUT_SECONDS = 5.0
# While the schema registry is down, how often the value that needs it is tried again.
REGISTRY_RETRY_SECONDS = 1.0


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


def check_for(topic: str) -> Callable[[Any], Record]:
    """The gate of readings, or of one of aggregator.py's kinds by the topic's suffix
    (.daily ...), for ValueCodec.decode."""
    kind = output_kind(topic)
    return check_record if kind is None else kind.check


class Output:
    """Writes records to stdout: the published bytes (json) or one aligned line (pretty)."""

    def __init__(self, stream: BinaryIO, options: ConsumerOptions):
        self.stream = stream
        self.options = options
        self.lines: list[bytes] = []
        kind = output_kind(options.topic)
        self.titles, self.line = KIND_LINES[None if kind is None else kind.kind]

    def header(self) -> None:
        if self.options.format == "pretty" and self.options.header:
            self.stream.write(self.titles(self.options.colour).encode() + b"\n")

    def add(self, record: Record, json_text: bytes) -> None:
        """One record: `json_text` is its JSON as published (without a wire-format header)."""
        if self.options.format == "pretty":
            self.lines.append(self.line(record, self.options.colour).encode())
        else:
            # A valid value holds line breaks only between tokens (JSON strings escape them):
            # blanks there keep one record on one line, whoever wrote it.
            self.lines.append(json_text.replace(b"\n", b" ").replace(b"\r", b" "))

    def flush(self) -> None:
        lines, self.lines = self.lines, []
        if lines:
            self.stream.write(b"\n".join(lines) + b"\n")
        self.stream.flush()


@dataclass
class Counts:
    printed: int = 0
    invalid: int = 0


class GroupConsumer:
    """A read_committed member of a consumer group on one topic, and the problems it reports.

    Offsets are stored by the subclass once it has done its work with a message
    (enable.auto.offset.store off) and committed from there every second and on close.
    """

    default_group = DEFAULT_GROUP

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        group: str | None,
        idle_timeout: float | None,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.topic = topic
        self.group = group or config.consumer.get("group.id") or self.default_group
        self.idle_timeout = idle_timeout
        self.stop = stop
        self.clock = clock
        self.kafka_problem: str | None = None  # the kind of problem last reported
        self.last_news = clock()
        self.assigned = False  # the group has given this consumer its partitions
        self.held: set[tuple[str, int]] = set()  # partitions sent back to a value (hold)
        self.waiting_for_registry: set[tuple[str, int]] = set()  # held, not read since
        # Every reader decodes its values here: plain JSON and the wire format alike.
        self.values = ValueCodec(config.schema_registry)
        settings = {
            # A new group starts with readings that arrive from now on (--from-beginning
            # or --snapshot show the past); config.ini may say otherwise.
            "auto.offset.reset": "latest",
            # Not Kafka's 45 s: a consumer that died (kill -9) hands its partitions to a
            # restarted one within 10 s.
            "session.timeout.ms": 10000,
            # Stored offsets are committed every second (Kafka's default is 5 s): after a
            # crash, at most about a second of readings is printed again.
            "auto.commit.interval.ms": 1000,
            **config.common,
            **config.consumer,
            "group.id": self.group,
            "isolation.level": "read_committed",
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            "logger": kafka_log,
            "error_cb": self.on_error,
        }
        self.settings = settings
        try:
            self.consumer = Consumer(settings)
        except KafkaException as error:
            raise ConfigError(f"{config.source}: {error.args[0].str()}") from None

    # ------------------------------------------------------------ Kafka's news

    def on_error(self, error: KafkaError) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self.report_problem(
                "unreachable",
                f"Kafka unreachable at {self.config.bootstrap_servers} ({error.str()}); waiting",
            )
        elif error.code() in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED):
            self.report_problem("authentication", f"Kafka authentication failed: {error.str()}")

    def report_problem(self, kind: str, message: str) -> None:
        """Log a problem once, not on every retry (librdkafka retries every second or so)."""
        if kind != self.kafka_problem:
            log.warning(message)
            self.kafka_problem = kind

    def problem_solved(self) -> None:
        if self.kafka_problem is not None:
            log.info("reading again")
            self.kafka_problem = None

    def report_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            self.report_problem(
                "no topic", f"topic {self.topic} does not exist yet; waiting for it"
            )
        elif error.fatal():
            raise KafkaException(error)
        else:
            self.report_problem(error.name(), f"Kafka: {error.str()}")

    def joined(self) -> None:
        """The group has given this consumer partitions (called from on_assign)."""
        self.assigned = True
        self.last_news = self.clock()
        self.problem_solved()

    # ------------------------------------------------------------ values

    def value_of(self, message: Message, check: Callable[[Any], Any] = check_record) -> Decoded:
        """The message's value decoded (kafka/values.py): InvalidRecord for poison,
        RegistryUnavailable when its schema cannot be had now (see hold)."""
        try:
            decoded = self.values.decode(message.topic(), message.value(), message.headers(), check)
        except InvalidRecord:
            self.registry_answered(message)
            raise
        self.registry_answered(message)
        return decoded

    def hold(self, message: Message, problem: RegistryUnavailable) -> None:
        """A value whose schema the registry cannot give now: its partition goes back to it,
        to be read again after a moment (pause_if_held); the other partitions read on."""
        key = (message.topic(), message.partition())
        self.held.add(key)
        if not self.waiting_for_registry:
            log.warning("%s; waiting for it, nothing is skipped", problem)
        self.waiting_for_registry.add(key)
        # A partition no longer ours (a rebalance): its new owner starts at our last commit.
        with contextlib.suppress(KafkaException):
            self.consumer.seek(TopicPartition(*key, message.offset()))

    def is_held(self, message: Message) -> bool:
        """Held back in this round: the rest of its partition comes again after the value."""
        return (message.topic(), message.partition()) in self.held

    def registry_answered(self, message: Message) -> None:
        if self.waiting_for_registry:
            self.waiting_for_registry.discard((message.topic(), message.partition()))
            if not self.waiting_for_registry:
                log.info("the schema registry answers again: reading on")

    def pause_if_held(self) -> None:
        """At the end of a round that held partitions back: a moment before they come again."""
        if self.held:
            self.held.clear()
            self.stop.wait(REGISTRY_RETRY_SECONDS)

    @staticmethod
    def offsets_at(consumer: Consumer, times: dict[tuple[str, int], int]) -> dict:
        """The first offset at or after each time (OFFSET_BEGINNING and OFFSET_END stand for
        the first offset and the end; read_committed: the end is the last stable offset,
        before any open transaction); partitions with none are left out."""
        if not times:
            return {}
        asked = [TopicPartition(t, p, time_ms) for (t, p), time_ms in times.items()]
        found = consumer.offsets_for_times(asked, timeout=10)
        return {(p.topic, p.partition): p.offset for p in found if p.offset >= 0}

    def fetch(self, batch: int) -> list[Message]:
        """What has arrived, at once; if nothing has, wait for the next one only, rather
        than for a whole batch (a reading is handled as it arrives)."""
        messages = self.consumer.consume(batch, timeout=0) or self.consumer.consume(1, timeout=0.5)
        if any(message.error() is None for message in messages):
            self.last_news = self.clock()
        return messages

    def idle_for_too_long(self) -> bool:
        idle = self.idle_timeout
        if idle is None:
            return False
        # Joining the group is not idleness: it can take seconds (longer after a member
        # died), and leaving before it ends would handle nothing of what is there. Waiting
        # for a topic that does not exist is.
        if not self.assigned and self.kafka_problem != "no topic":
            return False
        return self.clock() - self.last_news >= idle

    def close(self, losing: str) -> None:
        """Commit the stored offsets and leave the group (so a partner takes over now);
        `losing` says what a run of the group would do again without that commit."""
        closing = threading.Thread(target=self.consumer.close, daemon=True)
        closing.start()
        closing.join(CLOSE_TIMEOUT_SECONDS)
        if closing.is_alive():
            log.warning(
                "Kafka did not confirm the last commit within %g s; exiting without it "
                "(the next run of group %s %s)",
                CLOSE_TIMEOUT_SECONDS,
                self.group,
                losing,
            )


class ReadingConsumer(GroupConsumer):
    def __init__(
        self,
        config: KafkaConfig,
        options: ConsumerOptions,
        output: Output,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(config, options.topic, options.group, options.idle_timeout, stop, clock)
        self.options = options
        self.output = output
        self.counts = Counts()
        # Where this run is in each partition it has read: the next offset to print.
        self.positions: dict[tuple[str, int], int] = {}
        self.snapshot_taken_at: float | None = None  # wall-clock seconds
        self.snapshot_seen: dict[int, str] = {}  # station idx -> observed_at shown
        self.check_value = check_for(options.topic)

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.joined()
        try:
            starts = self.start_offsets(consumer, partitions)
        except KafkaException as error:
            log.warning(
                "cannot look up where to start (%s); reading on from the group's offsets",
                error.args[0].str(),
            )
            starts = {}
        for partition in partitions:
            partition.offset = starts.get((partition.topic, partition.partition), partition.offset)
        log.debug(
            "assigned %s", ", ".join(f"{p.topic}[{p.partition}]@{p.offset}" for p in partitions)
        )
        consumer.assign(partitions)
        if starts:
            # Stored as if read up to there: a run that prints nothing of a partition still
            # records the group's place in it, so the next run neither skips nor repeats.
            self.store(starts)

    def start_offsets(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> dict[tuple[str, int], int]:
        """Where to start in the partitions this run does not resume where the group left off.

        A partition this run has read before (a rebalance gives it back): where this run
        was, unless the group's committed offset is further on. That commit may have been
        lost, when Kafka was down long enough for the group to drop this consumer.
        --from-beginning: the beginning. A partition the group has no committed offset for:
        just before the snapshot with --snapshot (so nothing published while it was read
        is missed), else the end (or the beginning, if config.ini says
        auto.offset.reset=earliest).
        """
        if self.snapshot_taken_at is not None:
            fresh_start = int((self.snapshot_taken_at - SNAPSHOT_OVERLAP_SECONDS) * 1000)
        elif self.settings["auto.offset.reset"] in ("earliest", "smallest", "beginning"):
            fresh_start = OFFSET_BEGINNING
        else:
            fresh_start = OFFSET_END
        wanted: dict[tuple[str, int], int] = {}  # partition -> a time (ms) or OFFSET_*
        resumed: dict[tuple[str, int], int] = {}
        for partition in consumer.committed(partitions, timeout=10):
            key = (partition.topic, partition.partition)
            if key in self.positions:
                if self.positions[key] > partition.offset:
                    resumed[key] = self.positions[key]
            elif self.options.from_beginning:
                wanted[key] = OFFSET_BEGINNING
            elif partition.offset < 0:
                wanted[key] = fresh_start
        starts = self.offsets_at(consumer, wanted)
        # No reading since that time: start at the end.
        starts.update(self.offsets_at(consumer, dict.fromkeys(wanted.keys() - starts, OFFSET_END)))
        return starts | resumed

    # ------------------------------------------------------------ the loop

    def run(self) -> Counts:
        try:
            self.output.header()
            if self.options.snapshot:
                self.print_snapshot()
            self.consumer.subscribe([self.topic], on_assign=self.on_assign)
            while not self.stop.is_set() and not self.done():
                messages = self.fetch(BATCH)
                if messages:
                    self.handle(messages)
                elif self.idle_for_too_long():
                    break
        finally:
            try:
                self.output.flush()
            finally:
                self.close("may print the last few readings again")
        return self.counts

    def done(self) -> bool:
        limit = self.options.max_records
        return limit is not None and self.counts.printed >= limit

    def handle(self, messages: list[Message]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self.report_error(error)
                continue
            if self.is_held(message):
                continue
            try:
                decoded = self.decode(message)
            except RegistryUnavailable as problem:
                self.hold(message, problem)
                continue
            self.problem_solved()
            next_offsets[message.topic(), message.partition()] = message.offset() + 1
            if decoded is not None and not self.shown_in_snapshot(decoded.record):
                self.show(decoded.record, decoded.json)
            if self.done():
                break
        self.output.flush()
        self.store(next_offsets)
        self.pause_if_held()

    def store(self, next_offsets: dict[tuple[str, int], int]) -> None:
        """Record how far this run has got (committed from there, periodically and on close)."""
        if next_offsets:
            self.consumer.store_offsets(
                offsets=[TopicPartition(t, p, offset) for (t, p), offset in next_offsets.items()]
            )
            self.positions.update(next_offsets)

    def decode(self, message: Message) -> Decoded | None:
        """The message's record and JSON; None (reported and counted) when it is not a valid
        record. RegistryUnavailable when its schema cannot be looked up now."""
        try:
            return self.value_of(message, self.check_value)
        except InvalidRecord as problem:
            self.counts.invalid += 1
            log.warning(
                "skipping an invalid record at %s partition %d offset %d: %s",
                message.topic(),
                message.partition(),
                message.offset(),
                problem,
            )
            return None

    def shown_in_snapshot(self, record: Record) -> bool:
        if not self.snapshot_seen:
            return False
        return record["observed_at"] <= self.snapshot_seen.get(record["station"]["idx"], "")

    def show(self, record: Record, json_text: bytes) -> None:
        if record_matches(record, self.options.stations, self.options.min_aqi):
            self.output.add(record, json_text)
            self.counts.printed += 1

    def print_snapshot(self) -> None:
        """Each station's current reading, from `.latest`, before the stream.

        Compaction keeps only the last reading per station eventually, not at once: the
        topic may still hold older ones, which are not shown.
        """
        settings = {**self.config.common, "logger": kafka_log}
        self.snapshot_taken_at = time.time()
        current: dict[int, tuple[Record, bytes]] = {}
        try:
            for message in read_to_end(settings, latest_topic(self.options.topic), timeout=60):
                if self.stop.is_set():
                    return
                decoded = self.decode(message)
                if decoded is None:
                    continue
                record = decoded.record
                idx = record["station"]["idx"]
                if idx not in current or record["observed_at"] > current[idx][0]["observed_at"]:
                    current[idx] = (record, decoded.json)
        except (ReadFailed, RegistryUnavailable) as error:
            log.warning("no snapshot: %s", error)
        for record, value in sorted(
            current.values(), key=lambda shown: shown[0]["station"]["name"]
        ):
            if self.done():
                break
            self.show(record, value)
        self.output.flush()
        self.snapshot_seen = {idx: record["observed_at"] for idx, (record, _) in current.items()}
