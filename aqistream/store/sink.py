"""The storing consumer: committed records of a topic into a database, exactly once.

Kafka's "storing offsets outside Kafka": each batch's rows and the offsets they reach are
written in one database transaction, and on assignment each partition is read from the
offset the database holds, not Kafka's. A batch moves a partition's stored offset on only
from where this instance believes it is (compare and set), so an instance that lost a
partition to another can neither store its rows a second time nor move its offset
backwards; the primary key with ON CONFLICT DO NOTHING is the second guard. After each
commit the offsets are also stored in Kafka (committed every second), so lag tools such as
kafka-consumer-groups show progress; the database stays the source of truth.

Values are decoded by kafka/values.py, as every reader's: plain JSON and the registry's wire
format alike. A value whose schema the registry must be asked for while it is down is not
skipped: its partition is read again from there once the registry answers, the others
read on.

A database that refuses writes or goes away: said once; the partitions are paused and the
consumer keeps polling (so the group keeps it), the same batch is retried with backoff,
and everything resumes when it succeeds. SIGINT/SIGTERM: the open batch is committed (or,
if the database cannot take it, rolled back: re-read next time), the group left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)

from aqistream.config import KafkaConfig
from aqistream.kafka.consume import GroupConsumer
from aqistream.record import InvalidRecord
from aqistream.registry.failures import RegistryUnavailable
from aqistream.render import record_matches
from aqistream.store.database import (
    Batch,
    DatabaseUnavailable,
    DataRefused,
    SqlStore,
    StaleOffsets,
    Written,
)
from aqistream.store.kinds import kind_for_topic
from aqistream.store.progress import Progress, backlog_share
from aqistream.store.rows import rejected_row

log = logging.getLogger("aqistream.store")

DEFAULT_GROUP = "aqi-stream-store"
FETCH = 5000  # messages taken from the client at once
# A batch is written when it holds this many messages, when it is this old, or as soon as
# nothing more has arrived: large during a backfill, a fraction of a second when live.
FLUSH_MESSAGES = 20000
FLUSH_SECONDS = 1.0
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 10.0
STOPPED = object()  # what with_database returns when a signal came while it waited


@dataclass
class StoreOptions:
    topic: str = "air_quality_index"
    group: str | None = None
    from_beginning: bool = False
    stations: list[str] = field(default_factory=list)
    max_records: int | None = None
    idle_timeout: float | None = None


class StoringConsumer(GroupConsumer):
    default_group = DEFAULT_GROUP

    def __init__(
        self,
        config: KafkaConfig,
        options: StoreOptions,
        store: SqlStore,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.kind = kind_for_topic(options.topic)
        super().__init__(config, options.topic, options.group, options.idle_timeout, stop, clock)
        self.options = options
        self.store = store
        # Partitions placed at the database's offsets: the next offset to add to a batch,
        # and where the database says this instance is (the start of the open batch).
        self.positions: dict[int, int] = {}
        self.stored: dict[int, int] = {}
        self.starts: dict[int, int] = {}  # where this run started, for the backlog share
        self.unplaced: set[int] = set()  # assigned while the database could not say where
        self.batch = Batch()
        self.batch_since: float | None = None
        # The batch being written by the writer thread. Every other use of the database
        # waits for it first (settle), so the connection is never used by two at once.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self.in_flight: tuple[Batch, Future] | None = None
        self.records = 0  # records stored or being stored (for --max-records)
        self.database_problem: str | None = None
        self.paused = False
        self.progress = Progress(self.kind.noun, clock())

    # ------------------------------------------------------------ the loop

    def run(self) -> Progress:
        try:
            # Opened first: a database that refuses this login is the one line said.
            version = self.with_database(self.store.open)
            if version is STOPPED:
                return self.progress
            log.info(
                "storing %s from %s into %s (schema version %d) as group %s",
                self.topic,
                self.config.bootstrap_servers,
                self.store.url.shown,
                version,
                self.group,
            )
            self.consumer.subscribe(
                [self.topic],
                on_assign=self.on_assign,
                on_revoke=self.on_revoke,
                on_lost=self.on_lost,
            )
            while not self.stop.is_set() and not self.done():
                if self.in_flight is not None and self.in_flight[1].done():
                    self.settle()  # its offsets to Kafka, its counts to the progress line
                if self.unplaced:
                    self.place()
                messages = self.fetch(FETCH)
                self.take(messages, until_done=True)
                if self.batch and (not messages or self.batch_full()):
                    self.submit()
                self.report_progress()
                if not messages and self.idle_for_too_long():
                    break
            self.flush(once=self.stop.is_set())
        finally:
            try:
                self.writer.shutdown(wait=True)
                self.close("may store the last few readings again")  # Kafka's copy only
            finally:
                self.store.close()
        return self.progress

    def done(self) -> bool:
        limit = self.options.max_records
        return limit is not None and self.records >= limit

    def idle_for_too_long(self) -> bool:
        # Waiting for the database is not idleness: nothing can be new until it is back.
        return self.database_problem is None and super().idle_for_too_long()

    def batch_full(self) -> bool:
        return (
            self.batch.messages >= FLUSH_MESSAGES
            or self.clock() - (self.batch_since or self.clock()) >= FLUSH_SECONDS
            or self.done()
        )

    # ------------------------------------------------------------ partitions

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.joined()
        numbers = [p.partition for p in partitions]
        # Inside a rebalance callback: never wait for the database here (once).
        self.settle(once=True)
        try:
            starts = self.start_offsets(consumer, numbers)
        except (DatabaseUnavailable, KafkaException) as problem:
            # Held (paused) until the database can say where to start; Kafka keeps the
            # assignment meanwhile.
            if isinstance(problem, DatabaseUnavailable):
                self.database_trouble(problem)
            consumer.assign(partitions)
            consumer.pause(partitions)
            self.unplaced.update(numbers)
            log.info(
                "partitions %s: held until the database says where to start",
                ", ".join(map(str, sorted(numbers))),
            )
            return
        consumer.assign([TopicPartition(self.topic, p, starts[p]) for p in numbers])
        self.placed(starts)

    def place(self) -> None:
        """Seek the partitions assigned during an outage to the database's offsets."""
        numbers = sorted(self.unplaced)
        self.settle()
        try:
            starts = self.start_offsets(self.consumer, numbers)
        except DatabaseUnavailable as problem:
            self.database_trouble(problem)
            self.keep_polling(RETRY_FIRST_SECONDS)
            return
        except KafkaException:
            return  # asked again on the next round
        for partition in numbers:
            self.consumer.seek(TopicPartition(self.topic, partition, starts[partition]))
        self.consumer.resume([TopicPartition(self.topic, p) for p in numbers])
        self.unplaced.difference_update(numbers)
        self.database_fine()
        self.placed(starts)

    def start_offsets(self, consumer: Consumer, partitions: list[int]) -> dict[int, int]:
        """The database's offset of each partition for this group; where it has none, the
        beginning (--from-beginning, or auto.offset.reset=earliest) or the end, recorded
        in the database at once so the next run resumes from there."""
        stored = self.store.offsets(self.group, self.topic)
        missing = [p for p in partitions if p not in stored]
        if missing:
            earliest = self.options.from_beginning or self.settings["auto.offset.reset"] in (
                "earliest",
                "smallest",
                "beginning",
            )
            where = OFFSET_BEGINNING if earliest else OFFSET_END
            found = self.offsets_at(consumer, {(self.topic, p): where for p in missing})
            fresh = {}
            for partition in missing:
                if (self.topic, partition) in found:
                    fresh[partition] = found[self.topic, partition]
                else:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(self.topic, partition), timeout=10
                    )
                    fresh[partition] = low if earliest else high
            stored = self.store.claim(self.group, self.topic, fresh)
            self.describe_start(missing, stored, "the beginning" if earliest else "the end")
        known = [p for p in partitions if p not in missing]
        if known:
            self.describe_start(known, stored, None)
        return {p: stored[p] for p in partitions}

    def describe_start(self, partitions: list[int], stored: dict, fresh: str | None) -> None:
        where = ", ".join(f"{p}@{stored[p]}" for p in sorted(partitions))
        if fresh is None:
            log.info("partitions %s: from the offsets stored in the database", where)
        else:
            log.info("partitions %s: new to the database for this group, from %s", where, fresh)

    def placed(self, starts: dict[int, int]) -> None:
        for partition, offset in starts.items():
            self.positions[partition] = offset
            self.stored[partition] = offset
            self.starts.setdefault(partition, offset)

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Write the open batch before the partitions go (once: if the database cannot
        take it now, drop it; the new owner reads it again from the database's offsets)."""
        if self.database_problem is None:
            self.flush(once=True)
        self.forget({p.partition for p in partitions})

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group gave the partitions to another member already: write nothing of them."""
        self.forget({p.partition for p in partitions})

    def forget(self, partitions: set[int]) -> None:
        self.batch = self.batch.without(partitions, self.kind)
        for partition in partitions:
            self.positions.pop(partition, None)
            self.stored.pop(partition, None)
            self.unplaced.discard(partition)

    # ------------------------------------------------------------ messages into a batch

    def take(self, messages: list[Message], until_done: bool = False) -> None:
        """Add the messages to the open batch (`until_done`: up to --max-records). A value
        whose schema the registry cannot give now holds its partition back at it (hold)."""
        for message in messages:
            if self.is_held(message):
                continue
            try:
                self.add(message)
            except RegistryUnavailable as problem:
                self.hold(message, problem)
                continue
            if until_done and self.done():
                break
        self.pause_if_held()

    def add(self, message: Message) -> None:
        """RegistryUnavailable (nothing changed) when the value's schema cannot be had now."""
        error = message.error()
        if error is not None:
            self.report_error(error)
            return
        partition, offset = message.partition(), message.offset()
        position = self.positions.get(partition)
        # Not placed yet, or fetched before a seek: read again from the right place.
        if position is None or offset < position:
            return
        value = message.value()
        # Decoded before anything moves on: RegistryUnavailable leaves the message unread.
        row = problem = None
        try:
            record = self.value_of(message, self.kind.check)
            row = self.kind.row(record.record, partition, offset)
        except InvalidRecord as invalid:
            problem = invalid
        self.problem_solved()
        self.positions[partition] = offset + 1
        self.progress.working(self.clock())
        if problem is not None:
            log.warning(
                "rejecting an invalid record at %s partition %d offset %d: %s",
                self.topic,
                partition,
                offset,
                problem,
            )
            rejected = rejected_row(self.topic, partition, offset, str(problem), value)
            self.batch.rejected.append(rejected)
        elif record_matches(record.record, self.options.stations, None):
            self.records += 1
            self.batch.rows.append(row)
            if self.kind.follows_stations:
                station = record.record["station"]
                self.batch.urls[station["idx"]] = station["url"]
        if not self.batch:
            self.batch_since = self.clock()
        self.batch.advance(partition, self.stored[partition], offset)

    # ------------------------------------------------------------ batches into the database

    def submit(self) -> None:
        """Hand the open batch to the writer thread and go on reading: the database
        writes one batch while the next is decoded. One batch at most is in flight."""
        self.settle()
        batch, self.batch = self.batch, Batch()
        self.batch_since = None
        # Where this instance will be once it commits: the next batch starts there.
        for partition, (_, next_offset) in batch.offsets.items():
            self.stored[partition] = next_offset
        self.in_flight = (batch, self.writer.submit(self.write, batch))

    def write(self, batch: Batch) -> tuple[Written, float]:
        """Store one batch (on the writer thread, or on this one); when it was done."""
        return self.store.write(self.group, self.topic, self.kind, batch), self.clock()

    def settle(self, once: bool = False) -> None:
        """Wait for the batch in flight. If it failed, it goes back in front of the open
        batch (which starts where it ends) and the two are written the synchronous way
        (`once`: see flush)."""
        if self.in_flight is None:
            return
        batch, write = self.in_flight
        self.in_flight = None
        try:
            written, at = write.result()
        except (StaleOffsets, DataRefused, DatabaseUnavailable):
            for partition, (start, _) in batch.offsets.items():
                if partition in self.stored:
                    self.stored[partition] = start  # not stored after all
            self.batch = batch.followed_by(self.batch)
            self.flush(once)
            return
        self.written(batch, written, at)

    def flush(self, once: bool = False, split: bool = True) -> None:
        """Write the open batch, now; with `once`, try once and drop it if the database
        cannot take it (it is read again from the database's offsets next time). A batch
        the database refuses is split into its messages (`split`), else DataRefused is
        raised."""
        self.settle(once)
        while self.batch:
            try:
                if once:
                    outcome = self.write(self.batch)
                else:
                    outcome = self.with_database(lambda: self.write(self.batch))
                    if outcome is STOPPED:
                        self.batch = Batch()  # rolled back: read again next time
                        return
            except StaleOffsets as stale:
                self.moved_on_elsewhere(stale.partitions)
                continue
            except DataRefused as refused:
                if not split:
                    raise
                self.write_one_by_one(refused)
                return
            except DatabaseUnavailable as problem:
                self.database_trouble(problem)
                log.info(
                    "%d messages not stored now: read again from the database's offsets",
                    self.batch.messages,
                )
                self.batch = Batch()
                return
            batch, self.batch = self.batch, Batch()
            self.batch_since = None
            self.written(batch, *outcome)

    def written(self, batch: Batch, written: Written, at: float) -> None:
        self.progress.wrote(at)
        self.progress.stored += written.inserted
        self.progress.already += written.already
        self.progress.rejected += written.rejected
        self.progress.stations |= written.stations
        for partition, (_, next_offset) in batch.offsets.items():
            if partition in self.stored:
                self.stored[partition] = max(self.stored[partition], next_offset)
        self.store_in_kafka(batch)

    def store_in_kafka(self, batch: Batch) -> None:
        """Kafka's copy of the offsets, for lag tools; the database's are the ones used."""
        read_to = self.read_to()
        offsets = []
        for partition, (_, next_offset) in batch.offsets.items():
            if partition not in self.positions:
                continue  # revoked meanwhile: its new owner stores its own
            if self.positions[partition] == next_offset:
                # Nothing read since this batch: past the transaction markers too, so a
                # group that is up to date shows no lag.
                next_offset = max(next_offset, read_to.get(partition, next_offset))
            offsets.append(TopicPartition(self.topic, partition, next_offset))
        try:
            if offsets:
                self.consumer.store_offsets(offsets=offsets)
        except KafkaException:
            pass  # a partition revoked meanwhile

    def read_to(self) -> dict[int, int]:
        """Where the client is in each partition: after the last message it handed over,
        and after the transaction markers (never messages) that follow it."""
        try:
            asked = [TopicPartition(self.topic, p) for p in self.positions]
            return {tp.partition: tp.offset for tp in self.consumer.position(asked)}
        except KafkaException:
            return {}

    def moved_on_elsewhere(self, partitions: dict[int, int | None]) -> None:
        """Another instance of the group stored these partitions further: drop this
        batch's part of them and read on from what the database holds."""
        for partition, stored in sorted(partitions.items()):
            log.warning(
                "partition %d: another instance of group %s stored it up to offset %s "
                "(this one was at %s); dropping this batch's part of it and reading on from "
                "the database's offset",
                partition,
                self.group,
                stored,
                self.stored.get(partition),
            )
        self.batch = self.batch.without(set(partitions), self.kind)
        for partition, stored in partitions.items():
            if stored is None or partition not in self.positions:
                self.forget({partition})
                continue
            self.positions[partition] = self.stored[partition] = stored
            try:
                self.consumer.seek(TopicPartition(self.topic, partition, stored))
            except KafkaException:
                self.forget({partition})

    def write_one_by_one(self, refused: DataRefused) -> None:
        """The database refused something in the batch: write its messages one at a time,
        each in its own transaction, and reject the ones it refuses (so one record that
        cannot be stored never blocks its partition)."""
        log.warning(
            "the database refused a batch (%s); storing its %d messages one at a time",
            refused,
            self.batch.messages,
        )
        batch, self.batch = self.batch, Batch()
        partition_of, offset_of = self.kind.partition_column, self.kind.offset_column
        items: dict[int, list[tuple[int, tuple | None, tuple | None]]] = {}
        for row in batch.rows:
            items.setdefault(row[partition_of], []).append((row[offset_of], row, None))
        for rejected in batch.rejected:
            items.setdefault(rejected[1], []).append((rejected[2], None, rejected))
        for partition, (_, end) in batch.offsets.items():
            steps = sorted(items.get(partition, []), key=lambda item: item[0])
            steps.append((end - 1, None, None))  # the rest of the span: filtered messages
            for offset, row, rejected in steps:
                if self.stored.get(partition) is None:
                    break  # revoked meanwhile
                single = Batch(
                    [row] if row else [],
                    batch.urls,
                    [rejected] if rejected else [],
                    {partition: [self.stored[partition], offset + 1]},
                )
                self.batch = single
                try:
                    self.flush(split=False)
                except DataRefused as problem:
                    reason = f"the database refused it: {problem}"
                    log.warning(
                        "rejecting the record at %s partition %d offset %d: %s",
                        self.topic,
                        partition,
                        offset,
                        reason,
                    )
                    single.rows = []
                    single.rejected = [rejected_row(self.topic, partition, offset, reason, None)]
                    self.batch = single
                    self.flush()
                if self.stored.get(partition) != offset + 1:
                    break  # stored elsewhere meanwhile: read on from the database's offset

    # ------------------------------------------------------------ the database away

    def with_database(self, action: Callable):
        """`action()`, retried until the database takes it; STOPPED if a signal came first.

        Meanwhile the partitions are paused and the consumer keeps polling Kafka, so the
        group does not drop it.
        """
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                result = action()
            except DatabaseUnavailable as problem:
                self.database_trouble(problem)
                if not self.keep_polling(delay):
                    return STOPPED
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            self.database_fine()
            return result

    def database_trouble(self, problem: DatabaseUnavailable) -> None:
        if self.database_problem is None:
            log.warning(
                "database %s unavailable (%s); waiting for it (the same messages are stored "
                "once it is back)",
                self.store.url.shown,
                problem,
            )
            self.database_problem = str(problem)
        if not self.paused and self.assigned:
            try:
                self.consumer.pause(self.consumer.assignment())
                self.paused = True
            except KafkaException:
                pass

    def database_fine(self) -> None:
        if self.database_problem is not None:
            log.info("database %s is back: storing again", self.store.url.shown)
            self.database_problem = None
            self.last_news = self.clock()  # waiting for the database is not idleness
        if self.paused:
            placed = [TopicPartition(self.topic, p) for p in self.positions]
            self.consumer.resume(placed)
            self.paused = False

    def keep_polling(self, seconds: float) -> bool:
        """Poll Kafka for `seconds` (rebalances, heartbeats), adding what still arrives;
        False when a signal came."""
        deadline = self.clock() + seconds
        while not self.stop.is_set():
            left = deadline - self.clock()
            if left <= 0:
                return True
            self.take(self.consumer.consume(FETCH, timeout=min(left, 0.5)))
        return False

    # ------------------------------------------------------------ progress

    def report_progress(self) -> None:
        now = self.clock()
        if not self.progress.due(now):
            return
        behind, ends = self.behind()
        share = backlog_share(self.starts, self.positions, ends) if behind else None
        log.info(self.progress.line(now, behind, share))

    def behind(self) -> tuple[int | None, dict[int, int]]:
        """Messages from this run's positions to the end of the topic (the client's last
        known high watermarks: no request to the broker)."""
        ends = {}
        read_to = self.read_to()
        for partition, position in self.positions.items():
            position = max(position, read_to.get(partition, position))
            try:
                _, high = self.consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), cached=True
                )
            except KafkaException:
                return None, {}
            if high < 0:
                return None, {}
            ends[partition] = max(high, position)
        if not ends:
            return None, {}
        behind = sum(ends[p] - max(self.positions[p], read_to.get(p, 0)) for p in ends)
        return behind, ends
