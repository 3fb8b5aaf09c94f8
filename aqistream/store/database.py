"""What the sink asks of a database, the same for SQLite and PostgreSQL.

One batch is one transaction: each partition's offset moves on from where this instance
believes it is (or the transaction is rolled back: another instance stored further), then
the rows (primary key + ON CONFLICT DO NOTHING, the second guard), the stations they
touch, the rejected messages. sqlite.py and postgres.py are the two edges: how to connect,
how to write many rows at once, and which of their errors mean "wait" and which "stop".
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from aqistream.config import ConfigError
from aqistream.store.kinds import Kind
from aqistream.store.rows import station_rows
from aqistream.store.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_TABLE,
    SQL,
)
from aqistream.store.url import StoreUrl

log = logging.getLogger("aqistream.store")


class DatabaseUnavailable(Exception):
    """The database cannot take writes now (down, unreachable, read-only, full, locked):
    wait and try the same again."""


class DatabaseRefused(ConfigError):
    """The database refuses this user or has no such database: no point in waiting."""


class DataRefused(Exception):
    """The database refused the data of a batch (not the connection): one of its records
    cannot be stored there."""


class StaleOffsets(Exception):
    """Another instance of the group has stored these partitions further than this one
    believed; nothing of the batch was written."""

    def __init__(self, partitions: dict[int, int | None]):
        super().__init__(f"partitions {sorted(partitions)} moved on elsewhere")
        self.partitions = partitions  # partition -> its stored next offset (None: no row)


@dataclass
class Batch:
    """What one transaction stores: rows of one kind, rejected messages, and how far each
    partition gets, from `start` (where the database says this instance is) to `next`."""

    rows: list[tuple] = field(default_factory=list)
    urls: dict[int, str | None] = field(default_factory=dict)  # station idx -> its url
    rejected: list[tuple] = field(default_factory=list)
    offsets: dict[int, list[int]] = field(default_factory=dict)  # partition -> [start, next]
    messages: int = 0

    def advance(self, partition: int, start: int, offset: int) -> None:
        """The message at `offset` of `partition` is in the batch (stored, rejected or
        filtered out); the partition started at `start`."""
        self.offsets.setdefault(partition, [start, offset + 1])[1] = offset + 1
        self.messages += 1

    def without(self, partitions: set[int], kind: Kind) -> Batch:
        """This batch less what it holds of `partitions` (revoked, or stored elsewhere)."""
        column = kind.partition_column
        return Batch(
            [row for row in self.rows if row[column] not in partitions],
            self.urls,
            [row for row in self.rejected if row[1] not in partitions],
            {p: span for p, span in self.offsets.items() if p not in partitions},
            self.messages,  # only a count for progress lines
        )

    def followed_by(self, later: Batch) -> Batch:
        """This batch and `later`, which starts in each partition where this one ends."""
        offsets = {p: list(span) for p, span in self.offsets.items()}
        for partition, (start, next_offset) in later.offsets.items():
            offsets.setdefault(partition, [start, next_offset])[1] = next_offset
        return Batch(
            self.rows + later.rows,
            {**self.urls, **later.urls},
            self.rejected + later.rejected,
            offsets,
            self.messages + later.messages,
        )

    def __bool__(self) -> bool:
        return bool(self.offsets)


@dataclass(frozen=True)
class Written:
    inserted: int  # rows new to the table
    already: int  # rows the table had already (the primary key's guard)
    rejected: int
    stations: set[int]


class SqlStore:
    """The store's transactions, over a DB-API connection the subclass opens."""

    dialect: str

    def __init__(self, url: StoreUrl):
        self.url = url
        self.sql = SQL[url.dialect]
        self.connection = None

    # ------------------------------------------------------------ the subclass's part

    def connect(self):
        """A new connection, ready for transactions (its session set up)."""
        raise NotImplementedError

    def translate(self, error: Exception) -> Exception | None:
        """DatabaseUnavailable, DatabaseRefused or DataRefused for a driver's error; None
        when it is not the driver's (a bug, left to surface)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self, writes: bool = True) -> Iterator:
        """A cursor inside one transaction on self.connection: committed at the end of the
        block, rolled back if it raises (`writes`: it will write)."""
        raise NotImplementedError
        yield

    def insert_rows(self, cursor, kind: Kind, rows: list[tuple]) -> int:
        """Insert rows (ON CONFLICT DO NOTHING); how many were new."""
        raise NotImplementedError

    # ------------------------------------------------------------ what the sink calls

    def open(self, migrations: dict = MIGRATIONS) -> int:
        """Connect and bring the schema up to date; the schema version."""
        with self.errors():
            self.connected()
            return self.migrate(migrations)

    def connected(self):
        if self.connection is None:
            self.connection = self.connect()
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def offsets(self, group: str, topic: str) -> dict[int, int]:
        """partition -> next offset to store, as the database says, for this group."""
        with self.errors(), self.transaction(writes=False) as cursor:
            cursor.execute(self.sql.read_offsets, (group, topic))
            return dict(cursor.fetchall())

    def claim(self, group: str, topic: str, starts: dict[int, int]) -> dict[int, int]:
        """Record where the group starts in partitions the database has no offset for
        (unless another instance just did); every partition's offset afterwards."""
        with self.errors(), self.transaction() as cursor:
            for partition, offset in starts.items():
                cursor.execute(self.sql.claim_offset, (group, topic, partition, offset))
            cursor.execute(self.sql.read_offsets, (group, topic))
            return dict(cursor.fetchall())

    def write(self, group: str, topic: str, kind: Kind, batch: Batch) -> Written:
        """Store the batch and its offsets in one transaction."""
        with self.errors(), self.transaction() as cursor:
            stale = {}
            for partition, (start, next_offset) in batch.offsets.items():
                cursor.execute(
                    self.sql.advance_offset, (next_offset, group, topic, partition, start)
                )
                if cursor.rowcount != 1:
                    stale[partition] = None
            if stale:
                cursor.execute(self.sql.read_offsets, (group, topic))
                stored = dict(cursor.fetchall())
                raise StaleOffsets({p: stored.get(p) for p in stale})
            inserted = self.insert_rows(cursor, kind, batch.rows) if batch.rows else 0
            stations = station_rows(batch.rows, batch.urls) if kind.follows_stations else []
            if stations:
                cursor.executemany(self.sql.upsert_station, stations)
            if batch.rejected:
                cursor.executemany(self.sql.insert_rejected, batch.rejected)
        # station_idx is the first column of every kind's rows.
        touched = stations if kind.follows_stations else batch.rows
        return Written(
            inserted,
            len(batch.rows) - inserted,
            len(batch.rejected),
            {row[0] for row in touched},
        )

    # ------------------------------------------------------------ the schema

    def migrate(self, migrations: dict) -> int:
        with self.transaction() as cursor:
            self.lock_schema(cursor)
            cursor.execute(SCHEMA_VERSION_TABLE.create(self.url.dialect))
            cursor.execute(self.sql.read_version)
            current = cursor.fetchone()[0] or 0
            newest = max(migrations)
            if current > newest:
                raise DatabaseRefused(
                    f"{self.url.shown} has schema version {current}, newer than this "
                    f"aqi-stream knows ({SCHEMA_VERSION}): upgrade aqi-stream"
                )
            for version in range(current + 1, newest + 1):
                for statement in migrations[version][self.url.dialect]:
                    cursor.execute(statement)
                cursor.execute(self.sql.record_version, (version,))
                log.info("database %s: schema version %d created", self.url.shown, version)
            return newest

    def lock_schema(self, cursor) -> None:
        """Keep two instances starting at once from migrating together (SQLite's BEGIN
        IMMEDIATE already does)."""

    # ------------------------------------------------------------ errors

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """The driver's errors as the three the sink tells apart; after one that means
        "wait", the next call connects again."""
        try:
            yield
        except (StaleOffsets, DatabaseRefused):
            raise
        except Exception as error:
            translated = self.translate(error)
            if translated is None:
                raise
            if isinstance(translated, DatabaseUnavailable):
                self.close()
            raise translated from None
