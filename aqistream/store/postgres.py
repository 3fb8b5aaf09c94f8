"""The PostgreSQL edge: psycopg 3, batches written with COPY.

Which errors mean "wait": the server is down, restarting, read-only, full or out of
connections (SQLSTATE classes 08, 40, 53, 55, 57, 58, 25006), or the connection broke.
Which mean "stop": a login or database the server refuses (28, 3D, 42501). Which mean "this
data": classes 22 and 23.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import psycopg.errors

from aqistream.store.database import DatabaseRefused, DatabaseUnavailable, DataRefused, SqlStore
from aqistream.store.kinds import Kind
from aqistream.store.schema import staging

CONNECT_TIMEOUT_SECONDS = 10
# Any two instances of the store migrating at once take this lock in turn.
MIGRATION_LOCK = 0x41514953  # "AQIS"
WAIT_CLASSES = ("08", "40", "53", "55", "57", "58")
REFUSED_STATES = ("28000", "28P01", "3D000", "42501")
DATA_CLASSES = ("22", "23")
# libpq reports a refused login before any SQLSTATE exists: these are its words for it.
REFUSED_WORDS = (
    "password authentication failed",
    "no password supplied",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "authentication failed",
)


class PostgresStore(SqlStore):
    def connect(self) -> psycopg.Connection:
        # autocommit: every transaction is an explicit `with connection.transaction()`.
        return psycopg.connect(
            self.url.target,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="aqi-stream store",
        )

    @contextlib.contextmanager
    def transaction(self, writes: bool = True) -> Iterator[psycopg.Cursor]:
        connection = self.connected()
        with connection.transaction(), connection.cursor() as cursor:
            yield cursor

    def lock_schema(self, cursor: psycopg.Cursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def insert_rows(self, cursor: psycopg.Cursor, kind: Kind, rows: list[tuple]) -> int:
        statements = staging(kind.table)
        try:
            # A savepoint: a row the table has already undoes this COPY alone.
            with cursor.connection.transaction():
                self.copy_rows(cursor, statements.copy_direct, rows)
            return len(rows)
        except psycopg.errors.UniqueViolation:
            pass
        cursor.execute(statements.create)
        self.copy_rows(cursor, statements.copy, rows)
        cursor.execute(statements.insert)
        return cursor.rowcount

    @staticmethod
    def copy_rows(cursor: psycopg.Cursor, statement: str, rows: list[tuple]) -> None:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def translate(self, error: Exception) -> Exception | None:
        if isinstance(error, UnicodeError):
            return DataRefused(str(error))
        if not isinstance(error, psycopg.Error):
            return None
        state = error.sqlstate or ""
        message = first_line(error)
        if state in REFUSED_STATES or (
            not state
            and isinstance(error, psycopg.OperationalError)
            and any(words in message for words in REFUSED_WORDS)
        ):
            return DatabaseRefused(f"--store: {self.url.shown}: {message}")
        if state[:2] in DATA_CLASSES or isinstance(error, psycopg.DataError):
            return DataRefused(message)
        if (
            state[:2] in WAIT_CLASSES
            or state == "25006"  # read_only_sql_transaction: a standby, or read-only mode
            or isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        ):
            return DatabaseUnavailable(message)
        return None


def first_line(error: Exception) -> str:
    """libpq's message without its hints ("Is the server running ...?") and line breaks."""
    text = str(error).strip()
    text = text.removeprefix("connection failed: ")
    return text.splitlines()[0].strip() if text else type(error).__name__
