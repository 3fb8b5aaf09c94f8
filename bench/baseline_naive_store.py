#!/usr/bin/env python3
"""The naive database sink: how the usual tutorials move a Kafka topic into a database.

    python bench/baseline_naive_store.py --topic T --group G --url URL --max-records N
        [--bootstrap-servers localhost:9092]

For each message: json.loads, one INSERT of its row, one COMMIT; Kafka's offsets committed
by the client in the background (enable.auto.commit), so it is at-least-once at best: a
crash between a commit in the database and Kafka's auto-commit inserts rows again. URL:
sqlite:///PATH (sqlite3 with its defaults) or postgresql://... (psycopg, autocommit off).
Its table has the columns aqi-stream's `readings` has, with the same primary key; it uses
nothing of aqistream.

Prints one JSON line on stdout: records, seconds (from the first message to the last
commit; the harness times the process from start to exit).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time

from confluent_kafka import Consumer

COLUMNS = (
    "station_idx", "observed_at", "observed_local", "station_name", "lat", "lng", "aqi",
    "dominant_pollutant", "pm25", "pm10", "o3", "no2", "so2", "co", "t", "h", "p", "w",
    "iaqi", "attributions", "fetched_at", "kafka_partition", "kafka_offset",
)  # fmt: skip
TABLE = """CREATE TABLE IF NOT EXISTS naive_readings (
  station_idx integer, observed_at text, observed_local text, station_name text,
  lat double precision, lng double precision, aqi integer, dominant_pollutant text,
  pm25 double precision, pm10 double precision, o3 double precision, no2 double precision,
  so2 double precision, co double precision, t double precision, h double precision,
  p double precision, w double precision, iaqi text, attributions text, fetched_at text,
  kafka_partition integer, kafka_offset bigint, PRIMARY KEY (station_idx, observed_at))"""


def row_of(record: dict, partition: int, offset: int) -> tuple:
    station, iaqi = record["station"], record["iaqi"]
    geo = station.get("geo") or [None, None]
    return (
        station["idx"], record["observed_at"], record["observed_local"], station["name"],
        geo[0], geo[1], record["aqi"], record["dominant_pollutant"],
        *(iaqi.get(name) for name in ("pm25", "pm10", "o3", "no2", "so2", "co", "t", "h", "p",
                                      "w")),
        json.dumps(iaqi), json.dumps(record["attributions"]), record["fetched_at"],
        partition, offset,
    )  # fmt: skip


def connect(url: str):
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        marks = ", ".join("?" * len(COLUMNS))
    else:
        import psycopg

        connection = psycopg.connect(url)
        marks = ", ".join(["%s"] * len(COLUMNS))
    connection.execute(TABLE)
    connection.commit()
    insert = f"INSERT INTO naive_readings ({', '.join(COLUMNS)}) VALUES ({marks})"
    return connection, insert


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--max-records", type=int, required=True)
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    args = parser.parse_args(argv)
    connection, insert = connect(args.url)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap_servers,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([args.topic])
    stored = 0
    started = None
    while stored < args.max_records:
        message = consumer.poll(1.0)
        if message is None or message.error() is not None:
            continue
        started = started or time.perf_counter()
        record = json.loads(message.value())
        cursor = connection.cursor()
        cursor.execute(insert, row_of(record, message.partition(), message.offset()))
        connection.commit()
        stored += 1
    seconds = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    connection.close()
    print(json.dumps({"records": stored, "seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
