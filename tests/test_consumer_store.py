"""consumer.py --store against the real broker and real databases, SQLite and PostgreSQL.

Each test runs the real script as a subprocess and compares what the database holds with
what the topic holds (read back with read_committed). Every test runs once per database.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import uuid
from collections import defaultdict
from statistics import mean

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from aqistream.kafka.latest import read_to_end
from aqistream.record import decode_record
from aqistream.store.rows import reading_row
from aqistream.store.schema import READINGS
from tests.databases import (
    as_messages,
    count_insert_attempts,
    create_topic,
    execute,
    history,
    query,
    read_only,
    run_store,
    sqlite_url,
    start_store,
    stored_offsets,
    stored_readings,
    write_history,
)
from tests.pipeline import config_file, run_producer_once, wait_for, waqi_simulator, write_raw
from tests.postgres_server import PASSWORD, PostgresServer, create_database


@pytest.fixture
def group() -> str:
    return f"test_store_{uuid.uuid4().hex[:10]}"


def assert_no_secret(*outputs: str) -> None:
    for output in outputs:
        assert PASSWORD not in output, output


def topic_messages(bootstrap_servers: str, topic: str) -> list:
    return list(read_to_end({"bootstrap.servers": bootstrap_servers}, topic, timeout=60))


def expected_rows(messages) -> dict[tuple, dict]:
    """(station_idx, observed_at) -> the row the store should hold, from the topic."""
    rows = {}
    for message in messages:
        row = reading_row(decode_record(message.value()), message.partition(), message.offset())
        values = dict(zip(READINGS.column_names, row, strict=True))
        values["iaqi"], values["attributions"] = (
            json.loads(values["iaqi"]),
            json.loads(values["attributions"]),
        )
        rows[values["station_idx"], values["observed_at"]] = values
    return rows


def test_every_published_reading_is_one_row_and_a_second_run_writes_nothing(
    workdir, topic_name, group, store_url, bootstrap_servers
):
    with waqi_simulator(11, "--quota", "0") as sim:
        for _ in range(2):
            result = run_producer_once(workdir, sim, topic_name, "-q")
            assert result.returncode == 0, result.stderr
            sim.admin("POST", "/admin/clock", {"advance_hours": 1})
    messages = topic_messages(bootstrap_servers, topic_name)
    assert len(messages) == 18

    first = run_store(workdir, topic_name, group, store_url, "--from-beginning",
                      "--idle-timeout", "2")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert f"storing {topic_name} from " in first.stderr and " as group " in first.stderr
    assert "new to the database for this group, from the beginning" in first.stderr
    assert "18 readings of 9 stations stored in" in first.stderr
    rows = query(store_url, "SELECT * FROM readings")
    stored = {(row["station_idx"], row["observed_at"]): row for row in rows}
    assert stored == expected_rows(messages)  # every column of every reading

    ends = {}
    for message in messages:
        ends[message.partition()] = max(ends.get(message.partition(), 0), message.offset() + 1)
    assert stored_offsets(store_url, group, topic_name) == ends

    second = run_store(workdir, topic_name, group, store_url, "--idle-timeout", "2")
    assert second.returncode == 0, second.stderr
    assert "from the offsets stored in the database" in second.stderr
    assert "0 readings of 0 stations stored;" in second.stderr
    assert len(query(store_url, "SELECT * FROM readings")) == 18
    assert_no_secret(first.stderr, second.stderr)


def test_latest_and_daily_views_give_what_the_records_say(
    workdir, topic_name, group, store_url, bootstrap_servers
):
    # 6 stations, 60 hours: their local days (UTC-1 to UTC+3) cross UTC midnight differently.
    records = history(6, 60, seed=3)
    write_history(bootstrap_servers, topic_name, records)
    result = run_store(workdir, topic_name, group, store_url, "--from-beginning",
                       "--idle-timeout", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stored_readings(store_url).total() == len(records)

    newest = {}
    for record in records:
        idx = record["station"]["idx"]
        if idx not in newest or record["observed_at"] > newest[idx]["observed_at"]:
            newest[idx] = record
    latest = query(store_url, "SELECT station_idx, observed_at, aqi, pm25 FROM latest")
    shown = {row["station_idx"]: (row["observed_at"], row["aqi"], row["pm25"]) for row in latest}
    assert shown == {
        idx: (r["observed_at"], r["aqi"], r["iaqi"]["pm25"]) for idx, r in newest.items()
    }

    days = defaultdict(list)
    for record in records:
        days[record["station"]["idx"], record["observed_local"][:10]].append(record)
    daily = query(store_url, "SELECT * FROM daily")
    assert len(daily) == len(days)
    for row in daily:
        mine = days[row["station_idx"], row["day"]]
        aqis = [r["aqi"] for r in mine if r["aqi"] is not None]
        assert row["station_name"] == mine[0]["station"]["name"]
        assert row["readings"] == len(mine)
        assert row["mean_aqi"] == pytest.approx(mean(aqis))
        assert (row["min_aqi"], row["max_aqi"]) == (min(aqis), max(aqis))
        assert row["mean_pm25"] == pytest.approx(mean(r["iaqi"]["pm25"] for r in mine))
        assert row["mean_pm10"] == pytest.approx(mean(r["iaqi"]["pm10"] for r in mine))

    stations = query(store_url, "SELECT * FROM stations")
    assert {row["station_idx"]: row["last_observed_at"] for row in stations} == {
        idx: r["observed_at"] for idx, r in newest.items()
    }
    assert all(row["first_observed_at"] == records[0]["observed_at"] for row in stations)


POISON = [
    (b"1", b"\xff\xfe not even text", "value is not UTF-8 text"),
    (b"1", b"not json", "value is not JSON"),
    (None, b"[1, 2, 3]", "value is a JSON array"),
    (b"1", b'{"schema_version": 2, "source": "waqi"}', "schema_version is 2"),
    (b"1", None, "empty message"),
    (b"1", b"[" * 100_000, "nested too deeply|recursion depth"),
]


def test_poison_messages_are_rows_of_rejected_and_every_real_one_is_stored(
    workdir, topic_name, group, store_url, bootstrap_servers
):
    records = history(4, 10, seed=5)
    hostile = history(1, 1, seed=6)[0]
    hostile["station"]["idx"] = -77
    hostile["station"]["name"] = "Bad \ud800 name \x00 here"
    messages = as_messages(records[:20])
    messages += [(key, value) for key, value, _ in POISON[:3]]
    messages.append((b"-77", json.dumps(hostile).encode()))
    messages += as_messages(records[20:])
    messages += [(key, value) for key, value, _ in POISON[3:]]
    create_topic(bootstrap_servers, topic_name)
    write_raw(bootstrap_servers, topic_name, messages)

    result = run_store(workdir, topic_name, group, store_url, "--from-beginning",
                       "--idle-timeout", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stored_readings(store_url).total() == len(records) + 1
    (stored_hostile,) = query(
        store_url, "SELECT station_name FROM readings WHERE station_idx = ?", (-77,)
    )
    assert stored_hostile["station_name"] == "Bad  name  here"
    rejected = query(store_url, "SELECT * FROM rejected ORDER BY kafka_partition, kafka_offset")
    assert len(rejected) == len(POISON)
    messages = topic_messages(bootstrap_servers, topic_name)
    where = {m.value(): (m.partition(), m.offset()) for m in messages}
    by_place = {(r["kafka_partition"], r["kafka_offset"]): r for r in rejected}
    for _, value, why in POISON:
        partition, offset = where[value]
        row = by_place[partition, offset]
        assert row["topic"] == topic_name
        assert why.split("|")[0] in row["reason"] or why.split("|")[-1] in row["reason"]
        expected = value[:200] if value is not None else None
        assert (bytes(row["first_bytes"]) if row["first_bytes"] is not None else None) == expected
        assert f"partition {partition} offset {offset}: " in result.stderr
    assert f"{len(POISON)} rejected" in result.stderr


def test_station_filter_and_max_records(workdir, topic_name, group, store_url, bootstrap_servers):
    records = history(3, 10, seed=8)
    write_history(bootstrap_servers, topic_name, records)
    wanted = records[0]["station"]["idx"]
    only = run_store(workdir, topic_name, group, store_url, "--from-beginning",
                     "--idle-timeout", "2", "--station", f"@{wanted}")  # fmt: skip
    assert only.returncode == 0, only.stderr
    assert {idx for idx, _ in stored_readings(store_url)} == {wanted}
    assert stored_readings(store_url).total() == 10

    limited = run_store(workdir, topic_name, group + "-limited", store_url, "--from-beginning",
                        "--max-records", "7")  # fmt: skip
    assert limited.returncode == 0, limited.stderr
    assert sum(stored_offsets(store_url, group + "-limited", topic_name).values()) == 7


def test_sigterm_commits_the_open_batch_and_the_kafka_offsets_follow_the_database(
    workdir, topic_name, group, store_url, bootstrap_servers
):
    write_history(bootstrap_servers, topic_name, history(5, 20, seed=9))
    running = start_store(workdir, topic_name, group, store_url, "--from-beginning")
    wait_for(lambda: stored_total(store_url) == 100,
             60, "the readings stored")  # fmt: skip
    assert running.stop(signal.SIGTERM, timeout=30) == 0, running.stderr()
    assert "SIGTERM: stopping" in running.stderr()
    database = stored_offsets(store_url, group, topic_name)
    assert sum(database.values()) == 100
    # Kafka's copy (for kafka-consumer-groups and the like) is the database's.
    reader = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group})
    try:
        asked = [TopicPartition(topic_name, p) for p in database]
        kafka = {tp.partition: tp.offset for tp in reader.committed(asked, timeout=10)}
    finally:
        reader.close()
    assert kafka == database


def stored_total(url: str) -> int:
    try:
        return stored_readings(url).total()
    except (sqlite3.Error, Exception):  # not created yet
        return 0


# ------------------------------------------------------------ bad URLs, refused logins


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://aqi:hunter2-pw@localhost/air", "unknown database scheme 'mysql://'"),
        ("sqlite://air.db", "three slashes"),
        ("sqlite:///no/such/directory/air.db", "no directory"),
        ("postgresql://aqi:hunter2-pw@localhost:99999/air", "not a valid PostgreSQL URL"),
    ],
)
def test_a_bad_url_is_one_line_and_exit_2(workdir, topic_name, group, url, says):
    result = run_store(workdir, topic_name, group, url)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("consumer.py: --store: ") and says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "hunter2-pw" not in result.stderr


def test_store_options_that_are_for_printing_are_refused(workdir, topic_name, group):
    result = run_store(workdir, topic_name, group, "sqlite:///x.db", "--format", "json")
    assert result.returncode == 2
    assert "--format is for printing" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_refused_login_or_database_is_one_line_exit_2_and_no_password(
    workdir, topic_name, group, postgres_admin_url, tmp_path
):
    database = create_database(postgres_admin_url)
    wrong = database.replace(f":{PASSWORD}@", ":wrong-password-3f9@")
    result = run_store(workdir, topic_name, group, wrong)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("consumer.py: --store: postgresql://aqi_test:***@")
    assert "password authentication failed" in line
    assert "wrong-password-3f9" not in result.stderr

    missing = database.rsplit("/", 1)[0] + "/no_such_database"
    result = run_store(workdir, topic_name, group, missing)
    assert result.returncode == 2, result.stderr
    assert 'database "no_such_database" does not exist' in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert_no_secret(result.stderr)

    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("this is not a database " * 100)
    result = run_store(workdir, topic_name, group, sqlite_url(not_a_database))
    assert result.returncode == 2, result.stderr
    assert "file is not a database" in result.stderr and len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------ a database down at start


def test_postgresql_down_at_start_is_waited_for_then_everything_stored(
    workdir, topic_name, group, bootstrap_servers
):
    records = history(3, 10, seed=10)
    write_history(bootstrap_servers, topic_name, records)
    server = PostgresServer().up()
    try:
        url = create_database(server.url())
        server.stop()
        running = start_store(workdir, topic_name, group, url, "--from-beginning",
                              "--idle-timeout", "3")  # fmt: skip
        wait_for(lambda: "unavailable" in running.stderr(), 60, "the outage to be reported")
        server.start()
        assert running.wait_exit(120) == 0, running.stderr()
        assert running.stderr().count("unavailable") == 1, running.stderr()
        assert "is back: storing again" in running.stderr()
        stored = stored_readings(url)
        assert stored.total() == len(records) == len(stored)
        assert_no_secret(running.stderr(), running.stdout())
    finally:
        server.down()


def test_sqlite_read_only_at_start_is_waited_for_then_everything_stored(
    workdir, tmp_path, topic_name, group, bootstrap_servers
):
    records = history(3, 10, seed=11)
    write_history(bootstrap_servers, topic_name, records)
    database = tmp_path / "read-only.db"
    url = sqlite_url(database)
    sqlite3.connect(database).close()  # an empty database file
    read_only(database)
    try:
        running = start_store(workdir, topic_name, group, url, "--from-beginning",
                              "--idle-timeout", "3")  # fmt: skip
        wait_for(lambda: "unavailable" in running.stderr(), 60, "the refusal to be reported")
        assert "readonly" in running.stderr() or "read-only" in running.stderr()
    finally:
        read_only(database, on=False)
    assert running.wait_exit(120) == 0, running.stderr()
    assert running.stderr().count("unavailable") == 1, running.stderr()
    stored = stored_readings(url)
    assert stored.total() == len(records) == len(stored)


# ------------------------------------------------------------ a rebalance while it is away


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_rebalance_while_the_database_is_away_holds_the_partitions_until_it_is_back(
    dialect, workdir, tmp_path, topic_name, group, bootstrap_servers
):
    """The topic grows a partition while the database is away: the new assignment cannot
    learn its offsets, so it is held (paused) and placed once the database is back."""
    config_file(workdir, bootstrap_servers, "[consumer]\ntopic.metadata.refresh.interval.ms=1000\n")
    records = history(10, 60, seed=12)
    write_history(bootstrap_servers, topic_name, records[:300])
    server = PostgresServer().up() if dialect == "postgresql" else None
    try:
        if server is not None:
            url = create_database(server.url())
            take_away, give_back = server.stop, server.start
        else:
            database = tmp_path / "away.db"
            url = sqlite_url(database)
            take_away, give_back = (
                (lambda: read_only(database)),
                (lambda: read_only(database, on=False)),
            )
        running = start_store(workdir, topic_name, group, url, "--from-beginning", "-v")
        wait_for(lambda: stored_total(url) == 300, 60, "the first readings")
        take_away()
        try:
            admin = AdminClient({"bootstrap.servers": bootstrap_servers})
            for future in admin.create_partitions([NewPartitions(topic_name, 4)]).values():
                future.result(30)
            write_raw(bootstrap_servers, topic_name, as_messages(records[300:]))
            wait_for(lambda: "held until the database" in running.stderr(), 60,
                     "the new assignment to be held")  # fmt: skip
        finally:
            give_back()
        wait_for(lambda: stored_total(url) == len(records), 90, "every reading stored")
        assert running.stop() == 0, running.stderr()
        stderr = running.stderr()
        assert stderr.count("unavailable") == 1, stderr
        # Partition 3 was placed from the database only once it was back.
        assert stderr.index("3@0: new to the database") > stderr.index("held until"), stderr
        stored = stored_readings(url)
        assert len(stored) == stored.total() == len(records)
        ends = {}
        for message in topic_messages(bootstrap_servers, topic_name):
            ends[message.partition()] = max(ends.get(message.partition(), 0), message.offset() + 1)
        assert len(ends) == 4 and stored_offsets(url, group, topic_name) == ends
        assert_no_secret(stderr)
    finally:
        if server is not None:
            server.down()


REFUSE = {  # a rule a database administrator added: the database itself refuses the row
    "sqlite": (
        "CREATE TRIGGER refuse BEFORE INSERT ON readings WHEN NEW.station_idx = -99 "
        "BEGIN SELECT RAISE(ABORT, 'station -99 is not allowed here'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.station_idx = -99 THEN RAISE EXCEPTION USING ERRCODE = 'check_violation', "
        "MESSAGE = 'station -99 is not allowed here'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION refuse()",
    ),
}


def test_a_record_the_database_refuses_is_rejected_and_never_blocks_its_partition(
    workdir, topic_name, group, store_url, bootstrap_servers
):
    records = history(4, 30, seed=13)
    refused = history(1, 1, seed=14)[0]
    refused["station"]["idx"] = -99
    write_history(bootstrap_servers, topic_name, records[:60] + [refused] + records[60:])
    dialect = "sqlite" if store_url.startswith("sqlite") else "postgresql"
    count_insert_attempts(store_url)  # the schema first, then the administrator's rule
    for statement in REFUSE[dialect]:
        execute(store_url, statement)
    result = run_store(workdir, topic_name, group, store_url, "--from-beginning",
                       "--idle-timeout", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "storing its" in result.stderr and "one at a time" in result.stderr
    stored = stored_readings(store_url)
    assert len(stored) == stored.total() == len(records)
    assert -99 not in {idx for idx, _ in stored}
    (row,) = query(store_url, "SELECT * FROM rejected")
    assert row["reason"].startswith("the database refused it: ")
    assert "station -99 is not allowed here" in row["reason"]
    assert sum(stored_offsets(store_url, group, topic_name).values()) == len(records) + 1
