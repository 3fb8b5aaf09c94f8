"""Readings as the producer publishes them, made from the simulator's world without HTTP.

The simulator's pure parts (catalogue, world, responses) give what WAQI would serve for a
station at an instant, daylight saving included; aqistream.record.normalise makes it the
published record. Tests write these straight into a topic, in the order they choose.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from aqistream.record import encode_record, normalise, record_key
from aqistream.waqi_sim.catalogue import REPORTING, Station, build_catalogue
from aqistream.waqi_sim.responses import feed_data
from aqistream.waqi_sim.world import World

HOUR = 3600


def reporting_stations(seed: int, count: int, generated: int = 400) -> list[Station]:
    """The Swiss 9 first, then reporting official stations around the world."""
    catalogue = build_catalogue(seed, generated)
    chosen = [
        station
        for station in catalogue.stations
        if station.status == REPORTING and not station.is_crowd
    ]
    if len(chosen) < count:
        raise ValueError(f"only {len(chosen)} reporting stations among {generated} generated")
    return chosen[:count]


def reading_at(world: World, station: Station, observed: int) -> dict:
    """The record the producer would publish for `station`'s reading observed at `observed`."""
    reading = world.reading_at(station, observed, observed)
    data = feed_data(station, reading, None, None)
    fetched = datetime.fromtimestamp(observed + 120, UTC)
    return normalise(data, f"@{station.idx}", fetched)


def hourly_readings(
    seed: int, stations: list[Station], start: str, hours: int, skip=lambda station, hour: False
) -> list[dict]:
    """Each station's reading every hour from `start` (its report second after each UTC
    hour), oldest first, in the order a producer polling them all would publish them;
    `skip(station, hour)` leaves a reading out (a gap)."""
    world = World(seed)
    first = int(datetime.fromisoformat(start).timestamp()) // HOUR * HOUR
    records = []
    for hour in range(hours):
        for station in stations:
            if not skip(station, hour):
                records.append(
                    reading_at(world, station, first + hour * HOUR + station.report_second)
                )
    return records


def create_topic(bootstrap_servers: str, topic: str, partitions: int = 3) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(topic, partitions)])[topic].result(30)


def write_records(
    bootstrap_servers: str,
    topic: str,
    records: Iterable[dict],
    partition: int | None = None,
) -> int:
    """Write records keyed by station as the producer does (or all to `partition`)."""
    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 20})
    written = 0
    for record in records:
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, key=record_key(record), value=encode_record(record), **extra)
        written += 1
        if written % 10_000 == 0:
            producer.flush(30)
    assert producer.flush(30) == 0
    return written


def shifted(record: dict, hours: float) -> dict:
    """A copy of `record` observed `hours` later (same values, same offset)."""
    delta = timedelta(hours=hours)
    moved = dict(record)
    observed = datetime.fromisoformat(record["observed_at"]) + delta
    local = datetime.fromisoformat(record["observed_local"]) + delta
    moved["observed_at"] = observed.strftime("%Y-%m-%dT%H:%M:%SZ")
    moved["observed_local"] = local.isoformat(timespec="seconds")
    return moved
