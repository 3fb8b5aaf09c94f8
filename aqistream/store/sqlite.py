"""The SQLite edge: the standard library's sqlite3, one file, in WAL mode.

WAL lets `sqlite3 air_quality.db` read while the consumer writes. synchronous=NORMAL is
WAL's usual setting: a power cut may undo the last transactions, but never half of one,
and each holds its own offsets, so the next start reads those messages again: nothing
lost, nothing twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from aqistream.store.database import DatabaseRefused, DatabaseUnavailable, DataRefused, SqlStore
from aqistream.store.kinds import Kind
from aqistream.store.schema import SQLITE, insert

# Another writer (a second instance, someone's `sqlite3` session) holds the lock: wait this
# long before calling the database unavailable.
BUSY_TIMEOUT_SECONDS = 10
# Primary result codes (https://www.sqlite.org/rescode.html) that mean "not now".
WAIT = {
    3: "SQLITE_PERM",
    5: "SQLITE_BUSY",
    6: "SQLITE_LOCKED",
    8: "SQLITE_READONLY",
    10: "SQLITE_IOERR",
    13: "SQLITE_FULL",
    14: "SQLITE_CANTOPEN",
    15: "SQLITE_PROTOCOL",
}
NOT_A_DATABASE = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


class SqliteStore(SqlStore):
    def connect(self) -> sqlite3.Connection:
        # isolation_level=None: this code says BEGIN and COMMIT itself. The sink's writer
        # thread writes the batches, one at a time, never at once with the main thread.
        connection = sqlite3.connect(
            self.url.target,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    @contextlib.contextmanager
    def transaction(self, writes: bool = True) -> Iterator[sqlite3.Cursor]:
        cursor = self.connected().cursor()
        # IMMEDIATE: take the write lock now, so two instances serialise here rather than
        # fail halfway through. A read needs no lock (WAL: readers never wait for writers).
        cursor.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
        try:
            yield cursor
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def insert_rows(self, cursor: sqlite3.Cursor, kind: Kind, rows: list[tuple]) -> int:
        cursor.executemany(insert(SQLITE, kind.table), rows)
        return cursor.rowcount

    def translate(self, error: Exception) -> Exception | None:
        # A record sqlite3 cannot bind (a subclass of DatabaseError too: test it first).
        data_errors = (sqlite3.IntegrityError, sqlite3.InterfaceError, UnicodeError, OverflowError)
        if isinstance(error, data_errors):
            return DataRefused(str(error))
        if isinstance(error, sqlite3.DatabaseError):
            code = getattr(error, "sqlite_errorcode", None)
            primary = code & 0xFF if code is not None else None
            if primary in NOT_A_DATABASE:
                return DatabaseRefused(f"--store: {self.url.shown}: {error}")
            if primary in WAIT or isinstance(error, sqlite3.OperationalError):
                return DatabaseUnavailable(str(error))
        return None
