"""The database schema, versioned, with the SQL of both dialects side by side.

Every table is one list of (column, SQLite type, PostgreSQL type), so the two databases
cannot drift apart; the few statements whose text differs (views, upserts) are written
out for each dialect next to each other. SQL text holds no values: every value is a
parameter.

Migrations: MIGRATIONS[n] brings a database from version n - 1 to n, and `schema_version`
records each version applied. A database is migrated when the store opens it; one newer
than this code is refused. To add a record kind: add its table here as the next
MIGRATIONS entry (a `Table` and `create_statements`), bump SCHEMA_VERSION, and register
the kind in aqistream/store/kinds.py. Version 2 added aggregator.py's three kinds
(daily_aqi, nowcast, alerts): a version-1 database gains them and keeps its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

SQLITE, POSTGRESQL = "sqlite", "postgresql"
DIALECTS = (SQLITE, POSTGRESQL)
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str, str], ...]  # (name, SQLite type, PostgreSQL type)
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.columns)

    def create(self, dialect: str) -> str:
        kind = 1 if dialect == SQLITE else 2
        lines = [f"  {column[0]} {column[kind]}" for column in self.columns]
        lines.append(f"  PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n" + ",\n".join(lines) + "\n)"


# SQLite keeps times as text in one format, UTC, so that they sort: YYYY-MM-DDTHH:MM:SSZ.
UTC_NOW = {
    SQLITE: "(strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
    POSTGRESQL: "now()",
}

READINGS = Table(
    "readings",
    (
        ("station_idx", "INTEGER NOT NULL", "integer NOT NULL"),  # crowd stations: negative
        ("observed_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("observed_local", "TEXT NOT NULL", "text NOT NULL"),  # with the station's own offset
        ("station_name", "TEXT NOT NULL", "text NOT NULL"),
        ("lat", "REAL", "double precision"),
        ("lng", "REAL", "double precision"),
        ("aqi", "INTEGER", "integer"),
        ("dominant_pollutant", "TEXT", "text"),
        # The common US-EPA sub-indices and weather values of `iaqi`, one column each.
        ("pm25", "REAL", "double precision"),
        ("pm10", "REAL", "double precision"),
        ("o3", "REAL", "double precision"),
        ("no2", "REAL", "double precision"),
        ("so2", "REAL", "double precision"),
        ("co", "REAL", "double precision"),
        ("t", "REAL", "double precision"),
        ("h", "REAL", "double precision"),
        ("p", "REAL", "double precision"),
        ("w", "REAL", "double precision"),
        ("iaqi", "TEXT NOT NULL", "jsonb NOT NULL"),  # every key WAQI sent
        ("attributions", "TEXT NOT NULL", "jsonb NOT NULL"),
        ("fetched_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("kafka_partition", "INTEGER NOT NULL", "integer NOT NULL"),
        ("kafka_offset", "INTEGER NOT NULL", "bigint NOT NULL"),
    ),
    ("station_idx", "observed_at"),
)
IAQI_COLUMNS = ("pm25", "pm10", "o3", "no2", "so2", "co", "t", "h", "p", "w")

STATIONS = Table(
    "stations",
    (
        ("station_idx", "INTEGER NOT NULL", "integer NOT NULL"),
        ("name", "TEXT NOT NULL", "text NOT NULL"),
        ("lat", "REAL", "double precision"),
        ("lng", "REAL", "double precision"),
        ("url", "TEXT", "text"),
        ("first_observed_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("last_observed_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("last_aqi", "INTEGER", "integer"),
    ),
    ("station_idx",),
)

# Where each consumer group is in each partition: written in the same transaction as the
# rows those offsets cover, so the two never disagree (Kafka's "storing offsets outside
# Kafka"). next_offset is the offset of the next message to store.
CONSUMER_OFFSETS = Table(
    "consumer_offsets",
    (
        ("group_id", "TEXT NOT NULL", "text NOT NULL"),
        ("topic", "TEXT NOT NULL", "text NOT NULL"),
        ("kafka_partition", "INTEGER NOT NULL", "integer NOT NULL"),
        ("next_offset", "INTEGER NOT NULL", "bigint NOT NULL"),
        ("updated_at", f"TEXT NOT NULL DEFAULT {UTC_NOW[SQLITE]}",
         f"timestamptz NOT NULL DEFAULT {UTC_NOW[POSTGRESQL]}"),
    ),
    ("group_id", "topic", "kafka_partition"),
)  # fmt: skip

# Messages that are not valid records: visible in SQL, skipped, never blocking a partition.
REJECTED = Table(
    "rejected",
    (
        ("topic", "TEXT NOT NULL", "text NOT NULL"),
        ("kafka_partition", "INTEGER NOT NULL", "integer NOT NULL"),
        ("kafka_offset", "INTEGER NOT NULL", "bigint NOT NULL"),
        ("reason", "TEXT NOT NULL", "text NOT NULL"),
        ("first_bytes", "BLOB", "bytea"),  # the first 200 bytes of the value
        ("rejected_at", f"TEXT NOT NULL DEFAULT {UTC_NOW[SQLITE]}",
         f"timestamptz NOT NULL DEFAULT {UTC_NOW[POSTGRESQL]}"),
    ),
    ("topic", "kafka_partition", "kafka_offset"),
)  # fmt: skip

SCHEMA_VERSION_TABLE = Table(
    "schema_version",
    (
        ("version", "INTEGER NOT NULL", "integer NOT NULL"),
        ("applied_at", f"TEXT NOT NULL DEFAULT {UTC_NOW[SQLITE]}",
         f"timestamptz NOT NULL DEFAULT {UTC_NOW[POSTGRESQL]}"),
    ),
    ("version",),
)  # fmt: skip

# aggregator.py's three kinds (schemas/daily-v1.json, nowcast-v1.json, alert-v1.json), one
# row per value: what a query filters or sorts on in columns, the rest as the value has it.
# Per station and the station's own local day: the key of `<topic>.daily`.
DAILY_AQI = Table(
    "daily_aqi",
    (
        ("station_idx", "INTEGER NOT NULL", "integer NOT NULL"),
        ("day", "TEXT NOT NULL", "date NOT NULL"),  # the local calendar day, YYYY-MM-DD
        ("station_name", "TEXT NOT NULL", "text NOT NULL"),
        ("day_start", "TEXT NOT NULL", "timestamptz NOT NULL"),  # its local midnights, in UTC
        ("day_end", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("start_local", "TEXT NOT NULL", "text NOT NULL"),  # the same with the offset
        ("end_local", "TEXT NOT NULL", "text NOT NULL"),
        ("hours", "REAL NOT NULL", "double precision NOT NULL"),  # 23, 24 or 25
        ("readings", "INTEGER NOT NULL", "integer NOT NULL"),
        ("coverage", "REAL NOT NULL", "double precision NOT NULL"),
        ("first_observed_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("last_observed_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("mean_aqi", "REAL", "double precision"),  # WAQI's aqi over the day
        ("min_aqi", "INTEGER", "integer"),
        ("max_aqi", "INTEGER", "integer"),
        # EPA's daily AQI: the 24-hour mean concentration's; null on an incomplete day.
        ("pm25_aqi", "INTEGER", "integer"),
        ("pm25_category", "TEXT", "text"),
        ("pm25_concentration", "REAL", "double precision"),
        ("pm25_hours", "INTEGER", "integer"),
        ("pm10_aqi", "INTEGER", "integer"),
        ("pm10_category", "TEXT", "text"),
        ("pm10_concentration", "REAL", "double precision"),
        ("pm10_hours", "INTEGER", "integer"),
        ("iaqi", "TEXT NOT NULL", "jsonb NOT NULL"),  # every sub-index: mean, max, readings
        ("kafka_partition", "INTEGER NOT NULL", "integer NOT NULL"),
        ("kafka_offset", "INTEGER NOT NULL", "bigint NOT NULL"),
    ),
    ("station_idx", "day"),
)

# One per reading: the key of `<topic>.nowcast`.
NOWCASTS = Table(
    "nowcast",
    (
        ("station_idx", "INTEGER NOT NULL", "integer NOT NULL"),
        ("observed_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("observed_local", "TEXT NOT NULL", "text NOT NULL"),
        ("station_name", "TEXT NOT NULL", "text NOT NULL"),
        ("aqi", "INTEGER", "integer"),  # the higher of the two; null when neither is known
        ("category", "TEXT", "text"),
        ("dominant", "TEXT", "text"),
        ("pm25_aqi", "INTEGER", "integer"),
        ("pm25_category", "TEXT", "text"),
        ("pm25_concentration", "REAL", "double precision"),
        ("pm25_hours", "INTEGER", "integer"),  # of the 12 with a value
        ("pm10_aqi", "INTEGER", "integer"),
        ("pm10_category", "TEXT", "text"),
        ("pm10_concentration", "REAL", "double precision"),
        ("pm10_hours", "INTEGER", "integer"),
        ("kafka_partition", "INTEGER NOT NULL", "integer NOT NULL"),
        ("kafka_offset", "INTEGER NOT NULL", "bigint NOT NULL"),
    ),
    ("station_idx", "observed_at"),
)

# One per change of a station's NowCast category, at the reading that changed it.
ALERTS = Table(
    "alerts",
    (
        ("station_idx", "INTEGER NOT NULL", "integer NOT NULL"),
        ("observed_at", "TEXT NOT NULL", "timestamptz NOT NULL"),
        ("observed_local", "TEXT NOT NULL", "text NOT NULL"),
        ("station_name", "TEXT NOT NULL", "text NOT NULL"),
        ("previous", "TEXT", "text"),  # null: the station's first category
        ("category", "TEXT NOT NULL", "text NOT NULL"),
        ("aqi", "INTEGER NOT NULL", "integer NOT NULL"),
        ("dominant", "TEXT NOT NULL", "text NOT NULL"),
        ("kafka_partition", "INTEGER NOT NULL", "integer NOT NULL"),
        ("kafka_offset", "INTEGER NOT NULL", "bigint NOT NULL"),
    ),
    ("station_idx", "observed_at"),
)

# Each station's newest reading: the stations table knows which it is (primary-key lookups).
LATEST_VIEW = """CREATE VIEW latest AS
SELECT r.* FROM readings r
JOIN stations s ON s.station_idx = r.station_idx AND s.last_observed_at = r.observed_at"""

# Per station and the station's own local calendar day (the date of observed_local).
DAILY_VIEW = {
    SQLITE: """CREATE VIEW daily AS
SELECT r.station_idx, s.name AS station_name, substr(r.observed_local, 1, 10) AS day,
       count(*) AS readings, avg(r.aqi) AS mean_aqi, min(r.aqi) AS min_aqi,
       max(r.aqi) AS max_aqi, avg(r.pm25) AS mean_pm25, avg(r.pm10) AS mean_pm10
FROM readings r JOIN stations s ON s.station_idx = r.station_idx
GROUP BY r.station_idx, s.name, substr(r.observed_local, 1, 10)""",
    POSTGRESQL: """CREATE VIEW daily AS
SELECT r.station_idx, s.name AS station_name, left(r.observed_local, 10)::date AS day,
       count(*) AS readings, avg(r.aqi)::double precision AS mean_aqi, min(r.aqi) AS min_aqi,
       max(r.aqi) AS max_aqi, avg(r.pm25) AS mean_pm25, avg(r.pm10) AS mean_pm10
FROM readings r JOIN stations s ON s.station_idx = r.station_idx
GROUP BY r.station_idx, s.name, left(r.observed_local, 10)""",
}


def create_statements(dialect: str, tables: tuple[Table, ...]) -> tuple[str, ...]:
    return tuple(table.create(dialect) for table in tables)


# version -> dialect -> statements, applied in one transaction with the version's row.
MIGRATIONS: dict[int, dict[str, tuple[str, ...]]] = {
    1: {
        dialect: (
            *create_statements(dialect, (READINGS, STATIONS, CONSUMER_OFFSETS, REJECTED)),
            LATEST_VIEW,
            DAILY_VIEW[dialect],
        )
        for dialect in DIALECTS
    },
    2: {dialect: create_statements(dialect, (DAILY_AQI, NOWCASTS, ALERTS)) for dialect in DIALECTS},
}

# ------------------------------------------------------------ statements the store runs


def placeholders(dialect: str, count: int) -> str:
    mark = "?" if dialect == SQLITE else "%s"
    return ", ".join([mark] * count)


def insert(dialect: str, table: Table, on_conflict: str = "DO NOTHING") -> str:
    columns = table.column_names
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({placeholders(dialect, len(columns))}) "
        f"ON CONFLICT ({', '.join(table.primary_key)}) {on_conflict}"
    )


# The stations table follows the readings: the first and last observation seen, and the
# name, place and AQI of the newest. (SQLite's two-argument min/max are PostgreSQL's
# LEAST/GREATEST.)
_NEWER = "excluded.last_observed_at >= stations.last_observed_at"
_STATION_UPDATE = {
    dialect: (
        f"DO UPDATE SET name = CASE WHEN {_NEWER} THEN excluded.name ELSE stations.name END, "
        f"lat = CASE WHEN {_NEWER} THEN excluded.lat ELSE stations.lat END, "
        f"lng = CASE WHEN {_NEWER} THEN excluded.lng ELSE stations.lng END, "
        f"url = CASE WHEN {_NEWER} THEN excluded.url ELSE stations.url END, "
        f"last_aqi = CASE WHEN {_NEWER} THEN excluded.last_aqi ELSE stations.last_aqi END, "
        f"first_observed_at = {least}(stations.first_observed_at, excluded.first_observed_at), "
        f"last_observed_at = {greatest}(stations.last_observed_at, excluded.last_observed_at)"
    )
    for dialect, least, greatest in ((SQLITE, "min", "max"), (POSTGRESQL, "LEAST", "GREATEST"))
}


@dataclass(frozen=True)
class Statements:
    """The SQL the store runs against one dialect."""

    insert_readings: str
    upsert_station: str
    insert_rejected: str
    read_offsets: str
    claim_offset: str
    # Moves a partition's offset on only from where this instance believes it is: when
    # another instance of the group has stored further, nothing matches, and the batch
    # is rolled back rather than stored twice or moving the offset backwards.
    advance_offset: str
    read_version: str
    record_version: str


def statements(dialect: str) -> Statements:
    mark = "?" if dialect == SQLITE else "%s"
    return Statements(
        insert_readings=insert(dialect, READINGS),
        upsert_station=insert(dialect, STATIONS, _STATION_UPDATE[dialect]),
        insert_rejected=(
            "INSERT INTO rejected (topic, kafka_partition, kafka_offset, reason, first_bytes) "
            f"VALUES ({placeholders(dialect, 5)}) "
            "ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING"
        ),
        read_offsets=(
            "SELECT kafka_partition, next_offset FROM consumer_offsets "
            f"WHERE group_id = {mark} AND topic = {mark}"
        ),
        claim_offset=(
            "INSERT INTO consumer_offsets (group_id, topic, kafka_partition, next_offset) "
            f"VALUES ({placeholders(dialect, 4)}) "
            "ON CONFLICT (group_id, topic, kafka_partition) DO NOTHING"
        ),
        advance_offset=(
            f"UPDATE consumer_offsets SET next_offset = {mark}, updated_at = {UTC_NOW[dialect]} "
            f"WHERE group_id = {mark} AND topic = {mark} AND kafka_partition = {mark} "
            f"AND next_offset = {mark}"
        ),
        read_version="SELECT max(version) FROM schema_version",
        record_version=f"INSERT INTO schema_version (version) VALUES ({mark})",
    )


SQL = {dialect: statements(dialect) for dialect in DIALECTS}


# PostgreSQL's bulk paths. COPY straight into the table, the usual case: the offsets already
# keep a batch from holding rows stored before. When the primary key finds one all the same
# (a reading published twice), COPY into a temporary table of the same columns (emptied at
# each commit) and one INSERT ... SELECT with the ON CONFLICT guard of a plain insert.
@dataclass(frozen=True)
class Staging:
    copy_direct: str
    create: str
    copy: str
    insert: str


def staging(table: Table) -> Staging:
    columns = ", ".join(table.column_names)
    incoming = f"{table.name}_incoming"
    return Staging(
        copy_direct=f"COPY {table.name} ({columns}) FROM STDIN",
        create=f"CREATE TEMP TABLE IF NOT EXISTS {incoming} (LIKE {table.name}) "
        "ON COMMIT DELETE ROWS",
        copy=f"COPY {incoming} ({columns}) FROM STDIN",
        insert=f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {incoming} "
        f"ON CONFLICT ({', '.join(table.primary_key)}) DO NOTHING",
    )
