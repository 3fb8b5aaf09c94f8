"""The database sink: `consumer.py --store` keeps the whole history in SQLite or PostgreSQL.

schema.py (tables, views, migrations, both dialects side by side), rows.py (record -> row),
kinds.py (which table a topic's records go to), url.py (the --store URL), database.py (one
batch, one transaction), sqlite.py and postgres.py (the two edges), sink.py (the loop),
progress.py (its lines on stderr).
"""

from __future__ import annotations

from aqistream.store.database import SqlStore
from aqistream.store.schema import SQLITE
from aqistream.store.url import StoreUrl


def open_store(url: StoreUrl) -> SqlStore:
    """The store for a parsed URL (psycopg is imported only for PostgreSQL)."""
    if url.dialect == SQLITE:
        from aqistream.store.sqlite import SqliteStore

        return SqliteStore(url)
    from aqistream.store.postgres import PostgresStore

    return PostgresStore(url)
