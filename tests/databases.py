"""The databases the store tests write to, read back the way a user would query them.

`query()` runs SQL on a --store URL and returns rows with the two dialects' types made
alike (PostgreSQL's timestamptz as SQLite's UTC text, its date as text, jsonb and JSON text
as Python values), so one assertion checks both.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient, NewTopic

from aqistream.record import encode_record, record_key
from aqistream.store import open_store
from aqistream.store.url import parse_store_url
from tests.pipeline import run_script, script_env, start_script, write_raw

JSON_COLUMNS = {"iaqi", "attributions"}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"  # an absolute path: four slashes in all


def query(url: str, sql: str, params: tuple = ()) -> list[dict]:
    """Rows of `sql` as dicts, values normalised across the two dialects."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            cursor = connection.execute(sql, params)
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
        finally:
            connection.close()
    else:
        with psycopg.connect(url, autocommit=True) as connection:
            cursor = connection.execute(sql.replace("?", "%s"), params)
            names = [column.name for column in cursor.description]
            rows = cursor.fetchall()
    return [
        {name: normalised(name, value) for name, value in zip(names, row, strict=True)}
        for row in rows
    ]


def normalised(name: str, value):
    if isinstance(value, datetime):
        utc = value.astimezone(UTC)
        if name == "fetched_at":  # the record's format: milliseconds
            return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
        return f"{utc:%Y-%m-%dT%H:%M:%SZ}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if name in JSON_COLUMNS and isinstance(value, str):
        return json.loads(value)
    return value


def read_only(database: Path, on: bool = True) -> None:
    """Make the SQLite file (and its WAL and shared-memory files) read-only, or writable
    again. chattr's immutable flag, not chmod: root ignores file modes, and an open file
    stays writable whatever its mode; writes to an immutable file fail even then."""
    paths = [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)


def stored_readings(url: str) -> Counter:
    """How many rows each (station_idx, observed_at) has (the key makes it at most 1)."""
    rows = query(url, "SELECT station_idx, observed_at FROM readings")
    return Counter((row["station_idx"], row["observed_at"]) for row in rows)


def stored_offsets(url: str, group: str, topic: str) -> dict[int, int]:
    rows = query(
        url,
        "SELECT kafka_partition, next_offset FROM consumer_offsets WHERE group_id = ? "
        "AND topic = ?",
        (group, topic),
    )
    return {row["kafka_partition"]: row["next_offset"] for row in rows}


# ------------------------------------------------------------ consumer.py --store


def store_args(topic: str, group: str, url: str, *args: str) -> tuple[str, ...]:
    return ("config.ini", "--topic", topic, "--group", group, "--store", url, *args)


def run_store(workdir: Path, topic: str, group: str, url: str, *args: str, timeout: float = 120):
    return run_script(
        "consumer.py", *store_args(topic, group, url, *args), env=script_env(None),
        cwd=workdir, timeout=timeout,
    )  # fmt: skip


def start_store(workdir: Path, topic: str, group: str, url: str, *args: str):
    return start_script(
        "consumer.py", *store_args(topic, group, url, *args), env=script_env(None), cwd=workdir
    )


# ------------------------------------------------------------ a history to backfill

STATION_NAMES = ("Zürich-Kaserne", "Genève-Necker", "Basel-St. Johann", "Lugano-Università",
                 "Bern-Bollwerk", "Lausanne-César-Roux", "Neuchâtel-Jeunes-Rives")  # fmt: skip


def history(stations: int, hours: int, seed: int = 1) -> list[dict]:
    """`hours` hours of valid v1 records for `stations` stations (about a third of them
    crowd stations, with negative idx), hour by hour, with realistic values."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    places = []
    for number in range(stations):
        idx = -(100_000 + number) if number % 3 == 2 else 7_000 + number
        name = f"{STATION_NAMES[number % len(STATION_NAMES)]} {number}, Switzerland"
        offset = timedelta(hours=(number % 5) - 1)  # some stations east, some west of UTC
        places.append((idx, name, round(rng.uniform(45.8, 47.8), 3),
                       round(rng.uniform(5.9, 10.5), 3), offset, rng.uniform(10, 120)))  # fmt: skip
    records = []
    for hour in range(hours):
        observed = start + timedelta(hours=hour)
        for idx, name, lat, lng, offset, level in places:
            pm25 = max(1, round(level * rng.uniform(0.6, 1.4)))
            iaqi = {"pm25": pm25, "pm10": max(1, round(pm25 * 0.4)),
                    "o3": round(rng.uniform(2, 40), 1), "t": round(rng.uniform(-8, 12), 1),
                    "h": rng.randint(40, 99), "p": round(rng.uniform(990, 1030), 1),
                    "w": round(rng.uniform(0, 9), 1)}  # fmt: skip
            if idx > 0:
                iaqi["no2"] = round(rng.uniform(1, 30), 1)
            aqi = None if rng.random() < 0.02 else max(iaqi["pm25"], iaqi["pm10"])
            local = (observed + offset).replace(tzinfo=None)
            records.append(
                {
                    "schema_version": 1,
                    "source": "waqi",
                    "station": {
                        "idx": idx,
                        "name": name,
                        "geo": [lat, lng],
                        "url": f"https://aqicn.org/station/@{abs(idx)}/",
                        "query": f"@{idx}",
                    },  # fmt: skip
                    "observed_at": f"{observed:%Y-%m-%dT%H:%M:%SZ}",
                    "observed_local": f"{local:%Y-%m-%dT%H:%M:%S}{offset_text(offset)}",
                    "aqi": aqi,
                    "dominant_pollutant": "pm25" if aqi is not None else None,
                    "iaqi": iaqi,
                    "attributions": [
                        {"name": "World Air Quality Index Project", "url": "https://waqi.info/"}
                    ],  # fmt: skip
                    "fetched_at": f"{observed + timedelta(minutes=7):%Y-%m-%dT%H:%M:%S}.123Z",
                }
            )
    return records


def offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def as_messages(records: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(record_key(record), encode_record(record)) for record in records]


def write_history(bootstrap_servers: str, topic: str, records: list[dict]) -> None:
    """A new topic of 3 partitions holding `records`, written straight to it."""
    write_raw(bootstrap_servers, create_topic(bootstrap_servers, topic), as_messages(records))


def create_topic(bootstrap_servers: str, topic: str, partitions: int = 3) -> str:
    """A topic with as many partitions as producer.py makes (so two instances share it)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, partitions)]).values():
        future.result(60)
    return topic


# ------------------------------------------------------------ what the primary key caught

# A trigger that records every row the store tried to insert, in the same transaction: a
# crashed transaction records nothing, so more attempts than distinct readings would mean
# a reading committed twice by the offsets, caught only by the primary key.
ATTEMPTS = {
    "sqlite": (
        "CREATE TABLE attempts (station_idx INTEGER, observed_at TEXT)",
        "CREATE TRIGGER count_attempts BEFORE INSERT ON readings BEGIN "
        "INSERT INTO attempts VALUES (NEW.station_idx, NEW.observed_at); END",
    ),
    "postgresql": (
        "CREATE TABLE attempts (station_idx integer, observed_at timestamptz)",
        "CREATE FUNCTION count_attempt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO attempts VALUES (NEW.station_idx, NEW.observed_at); RETURN NEW; END $$",
        "CREATE TRIGGER count_attempts BEFORE INSERT ON readings FOR EACH ROW "
        "EXECUTE FUNCTION count_attempt()",
    ),
}


def count_insert_attempts(url: str) -> None:
    """Create the store's schema, then the trigger that counts insert attempts."""
    store = open_store(parse_store_url(url))
    store.open()
    store.close()
    for statement in ATTEMPTS["sqlite" if url.startswith("sqlite") else "postgresql"]:
        execute(url, statement)


def execute(url: str, statement: str) -> None:
    """One statement of DDL, committed."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            connection.execute(statement)
    else:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(statement)


def insert_attempts(url: str) -> Counter:
    rows = query(url, "SELECT station_idx, observed_at FROM attempts")
    return Counter((row["station_idx"], row["observed_at"]) for row in rows)
