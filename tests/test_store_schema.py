"""The schema on both real databases: created when missing, versioned, migrated, the same."""

from __future__ import annotations

import pytest

from aqistream.store import open_store
from aqistream.store.database import DatabaseRefused
from aqistream.store.schema import MIGRATIONS, POSTGRESQL, READINGS, SCHEMA_VERSION, SQLITE, Table
from aqistream.store.url import parse_store_url
from tests.databases import query

TABLES = {"readings", "stations", "consumer_offsets", "rejected", "schema_version"}
VIEWS = {"latest", "daily"}


def relations(url: str) -> dict[str, str]:
    """name -> 'table' or 'view'."""
    if url.startswith("sqlite"):
        rows = query(url, "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')")
        return {row["name"]: row["type"] for row in rows}
    rows = query(
        url,
        "SELECT table_name AS name, table_type AS type FROM information_schema.tables "
        "WHERE table_schema = 'public'",
    )
    return {row["name"]: "view" if row["type"] == "VIEW" else "table" for row in rows}


def columns(url: str, table: str) -> list[str]:
    if url.startswith("sqlite"):
        return [row["name"] for row in query(url, f"SELECT name FROM pragma_table_info('{table}')")]
    rows = query(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        (table,),
    )
    return [row["column_name"] for row in rows]


def opened(url: str, migrations=MIGRATIONS) -> int:
    store = open_store(parse_store_url(url))
    try:
        return store.open(migrations)
    finally:
        store.close()


def test_a_new_database_gets_every_table_and_view_at_the_current_version(store_url):
    assert opened(store_url) == SCHEMA_VERSION
    found = relations(store_url)
    assert {name for name, kind in found.items() if kind == "table"} >= TABLES
    assert {name for name, kind in found.items() if kind == "view"} == VIEWS
    assert [row["version"] for row in query(store_url, "SELECT version FROM schema_version")] == [1]
    # Both dialects, one column list: the databases cannot drift apart.
    assert columns(store_url, "readings") == list(READINGS.column_names)
    assert columns(store_url, "latest") == list(READINGS.column_names)
    assert columns(store_url, "daily") == [
        "station_idx", "station_name", "day", "readings", "mean_aqi", "min_aqi", "max_aqi",
        "mean_pm25", "mean_pm10",
    ]  # fmt: skip


def test_opening_again_changes_nothing(store_url):
    opened(store_url)
    opened(store_url)
    assert len(query(store_url, "SELECT version FROM schema_version")) == 1


def test_a_database_of_a_newer_schema_is_refused_not_damaged(store_url):
    opened(store_url)
    query_url = store_url
    if store_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as connection:
            connection.execute("INSERT INTO schema_version (version) VALUES (99)")
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as connection:
            connection.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(DatabaseRefused, match="schema version 99, newer than this aqi-stream"):
        opened(query_url)


def test_a_version_1_database_migrates_to_version_2_and_keeps_its_rows(store_url):
    """The path issue 12 takes: a new table in MIGRATIONS[2], applied to a database that
    already holds data, without asking anyone to drop it."""
    opened(store_url)
    query(store_url, "SELECT 1")  # the v1 database exists
    extra = Table(
        "daily_aqi",
        (
            ("station_idx", "INTEGER NOT NULL", "integer NOT NULL"),
            ("day", "TEXT NOT NULL", "date NOT NULL"),
            ("aqi", "INTEGER", "integer"),
        ),
        ("station_idx", "day"),
    )
    version_2 = {**MIGRATIONS, 2: {d: (extra.create(d),) for d in (SQLITE, POSTGRESQL)}}
    assert opened(store_url, version_2) == 2
    assert "daily_aqi" in relations(store_url)
    versions = query(store_url, "SELECT version FROM schema_version ORDER BY version")
    assert [row["version"] for row in versions] == [1, 2]
    assert opened(store_url, version_2) == 2  # and only once
