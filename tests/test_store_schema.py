"""The schema on both real databases: created when missing, versioned, migrated, the same."""

from __future__ import annotations

import pytest

from aqistream.store import open_store
from aqistream.store.database import DatabaseRefused
from aqistream.store.schema import (
    ALERTS,
    DAILY_AQI,
    MIGRATIONS,
    NOWCASTS,
    READINGS,
    SCHEMA_VERSION,
)
from aqistream.store.url import parse_store_url
from tests.databases import execute, query

TABLES = {"readings", "stations", "consumer_offsets", "rejected", "schema_version"}
VIEWS = {"latest", "daily"}
AGGREGATES = (DAILY_AQI, NOWCASTS, ALERTS)  # aggregator.py's kinds, schema version 2


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
    tables = TABLES | {table.name for table in AGGREGATES}
    assert {name for name, kind in found.items() if kind == "table"} >= tables
    assert {name for name, kind in found.items() if kind == "view"} == VIEWS
    versions = query(store_url, "SELECT version FROM schema_version ORDER BY version")
    assert [row["version"] for row in versions] == [1, 2]
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
    assert len(query(store_url, "SELECT version FROM schema_version")) == SCHEMA_VERSION


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


def test_a_version_1_database_gains_the_aggregates_tables_and_keeps_its_rows(store_url):
    """A database made by the store before aggregator.py's kinds (schema version 1) is
    migrated in place when opened: nobody is asked to drop it."""
    assert opened(store_url, {1: MIGRATIONS[1]}) == 1
    assert not {table.name for table in AGGREGATES} & set(relations(store_url))
    execute(
        store_url,
        "INSERT INTO rejected (topic, kafka_partition, kafka_offset, reason) "
        "VALUES ('air_quality_index', 0, 41, 'kept across the migration')",
    )
    assert opened(store_url) == SCHEMA_VERSION == 2
    for table in AGGREGATES:
        assert columns(store_url, table.name) == list(table.column_names)
    (kept,) = query(store_url, "SELECT kafka_offset, reason FROM rejected")
    assert kept == {"kafka_offset": 41, "reason": "kept across the migration"}
    versions = query(store_url, "SELECT version FROM schema_version ORDER BY version")
    assert [row["version"] for row in versions] == [1, 2]
    assert opened(store_url) == 2  # and only once
    assert len(query(store_url, "SELECT version FROM schema_version")) == 2
