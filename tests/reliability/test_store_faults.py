"""Scenarios 9-11: consumer.py --store killed, rebalanced, and its database taken away.

Each runs on SQLite and on PostgreSQL. The topic holds valid v1 records written straight
to it (many stations, hour after hour; a feeder thread keeps adding more where a scenario
needs it to be live). The verdict compares the topic (read_committed) with the database:
*lost* are readings of the topic with no row; *duplicated* counts rows the store inserted
twice, as recorded by a trigger in the store's own transactions (a reading committed twice
by the offsets would count even though the primary key keeps the table to one row).
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid

from aqistream.kafka.latest import read_to_end
from tests.databases import (
    as_messages,
    count_insert_attempts,
    history,
    insert_attempts,
    read_only,
    sqlite_url,
    start_store,
    stored_offsets,
    stored_readings,
    write_history,
)
from tests.pipeline import config_file, read_topic, readings_in, wait_for, write_raw
from tests.postgres_server import PASSWORD, PostgresServer, create_database
from tests.reliability.conftest import scaled
from tests.reliability.harness import Verdict

DIALECT = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def dialect_of(url: str) -> str:
    return DIALECT["sqlite" if url.startswith("sqlite") else "postgresql"]


def verdict(bootstrap_servers: str, topic: str, url: str, group: str) -> Verdict:
    in_topic = readings_in(read_topic(bootstrap_servers, topic))
    assert all(n == 1 for n in in_topic.values()), "the test wrote a reading twice"
    stored = stored_readings(url)
    attempts = insert_attempts(url)
    unexpected = set(stored) - set(in_topic)
    assert not unexpected, f"stored but never in the topic: {sorted(unexpected)[:5]}"
    lost = len(set(in_topic) - set(stored))
    duplicated = sum(n - 1 for n in stored.values()) + sum(n - 1 for n in attempts.values())
    return Verdict(len(in_topic), len(in_topic), len(stored), lost, duplicated)


def ends_of(bootstrap_servers: str, topic: str) -> dict[int, int]:
    ends: dict[int, int] = {}
    for message in read_to_end({"bootstrap.servers": bootstrap_servers}, topic, timeout=60):
        ends[message.partition()] = max(ends.get(message.partition(), 0), message.offset() + 1)
    return ends


def all_stored(url: str, bootstrap_servers: str, topic: str) -> bool:
    return stored_readings(url).total() >= len(read_topic(bootstrap_servers, topic))


class Feeder:
    """Keeps writing the next hours of a history to the topic, as a live producer would."""

    def __init__(self, bootstrap_servers: str, topic: str, records: list[dict], every=0.2):
        self.messages = as_messages(records)
        self.bootstrap_servers, self.topic, self.every = bootstrap_servers, topic, every
        self.stopped = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self.feed, daemon=True)

    def feed(self) -> None:
        while not self.stopped.wait(self.every) and self.written < len(self.messages):
            chunk = self.messages[self.written : self.written + 100]
            write_raw(self.bootstrap_servers, self.topic, chunk)
            self.written += len(chunk)

    def __enter__(self) -> Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(30)


def test_storing_consumer_killed_during_a_backfill(tmp_path, bootstrap_servers, store_url, ledger):
    """kill -9 at random moments while it backfills, then a clean finish: every record of
    the topic is one row, and the offsets stored are the topic's end."""
    rng = random.Random(9)
    topic = f"aqi_store_kills_{uuid.uuid4().hex[:8]}"
    group = f"{topic}_group"
    records = history(stations=100, hours=scaled(2000, 1000), seed=9)
    write_history(bootstrap_servers, topic, records)
    # Static membership: a restarted instance takes its partitions back at once, instead
    # of waiting for the killed one's session to time out.
    config_file(tmp_path, bootstrap_servers, f"[consumer]\ngroup.instance.id={group}-1\n")
    count_insert_attempts(store_url)
    kills = 0
    for _ in range(scaled(25, 8)):
        running = start_store(tmp_path, topic, group, store_url, "--from-beginning")
        wait_for(lambda r=running: "partitions" in r.stderr() or not r.alive(), 90,
                 "the consumer to be given its partitions", every=0.05)  # fmt: skip
        # Then a moment while it reads, decodes and writes its first batches.
        running.wait_exit(timeout=rng.uniform(0.2, 1.5))
        if not running.alive():
            break  # it finished the backfill first
        running.stop(signal.SIGKILL)
        kills += 1
    finishing = time.monotonic()
    finish = start_store(tmp_path, topic, group, store_url, "--idle-timeout", "3")
    wait_for(lambda: all_stored(store_url, bootstrap_servers, topic), 300, "every record")
    catch_up = time.monotonic() - finishing
    # It ends by itself, on its idle timeout (a SIGTERM here would race with that exit).
    assert finish.wait_exit(120) == 0, finish.stderr()
    result = verdict(bootstrap_servers, topic, store_url, group)
    offsets_right = stored_offsets(store_url, group, topic) == ends_of(bootstrap_servers, topic)
    ledger.add(
        f"9. storing consumer killed during a backfill ({dialect_of(store_url)})",
        f"kill -9 of consumer.py --store at a random moment while it backfilled "
        f"{len(records):,} records, then restart",
        kills,
        result,
        catch_up,
        f"{result.printed:,} rows; offsets stored {'=' if offsets_right else '!='} the topic's end",
    )
    result.assert_exact()
    assert kills >= scaled(15, 5), f"only {kills} kills landed during the backfill"
    assert offsets_right


def test_two_storing_consumers_in_a_group_with_a_kill_and_a_restart(
    tmp_path, bootstrap_servers, store_url, ledger
):
    """A and B split the partitions; B is killed (its partitions go to A once its session
    times out), then B starts again (the group splits them again). Records keep coming."""
    topic = f"aqi_store_group_{uuid.uuid4().hex[:8]}"
    group = f"{topic}_group"
    records = history(stations=60, hours=scaled(400, 200), seed=10)
    backlog = len(records) // 2
    write_history(bootstrap_servers, topic, records[:backlog])
    config_file(tmp_path, bootstrap_servers)
    count_insert_attempts(store_url)
    with Feeder(bootstrap_servers, topic, records[backlog:]) as feeder:
        first = start_store(tmp_path, topic, group, store_url, "--from-beginning", "-v")
        second = start_store(tmp_path, topic, group, store_url, "--from-beginning", "-v")
        wait_for(lambda: "partitions" in first.stderr() and "partitions" in second.stderr(),
                 90, "both to get partitions")  # fmt: skip
        wait_for(lambda: stored_readings(store_url).total() > backlog // 2, 90, "rows")
        second.stop(signal.SIGKILL)
        # A gets B's partitions after B's session times out (10 s), reading them from the
        # database's offsets.
        assignments = first.stderr().count("partitions")
        wait_for(lambda: first.stderr().count("partitions") > assignments, 90, "A to take over")
        third = start_store(tmp_path, topic, group, store_url, "-v")
        wait_for(lambda: "partitions" in third.stderr(), 90, "the restarted B's share")
        wait_for(lambda: feeder.written == len(records) - backlog, 120, "the feeder to finish")
        fed = time.monotonic()
    wait_for(lambda: all_stored(store_url, bootstrap_servers, topic), 120, "every record stored")
    catch_up = time.monotonic() - fed
    assert first.stop() == 0 and third.stop() == 0
    assignments = first.stderr().count("partitions")
    result = verdict(bootstrap_servers, topic, store_url, group)
    ledger.add(
        f"10. two storing consumers, one killed and restarted ({dialect_of(store_url)})",
        "two consumer.py --store in one group; kill -9 of one (the other takes its "
        "partitions), then a restart (they split again), while records keep arriving",
        1,
        result,
        catch_up,
        f"{result.printed:,} rows; {assignments} assignments for the instance that stayed",
    )
    result.assert_exact()
    assert stored_offsets(store_url, group, topic) == ends_of(bootstrap_servers, topic)


OUTAGE_SECONDS = 14


def test_postgresql_stopped_mid_run_and_started_again(tmp_path, bootstrap_servers, ledger):
    server = PostgresServer().up()
    try:
        url = create_database(server.url())
        what = "PostgreSQL stopped (pg_ctl stop -m fast) mid-run, started again"
        outage(tmp_path, bootstrap_servers, url, server.stop, server.start, what, ledger)
    finally:
        server.down()


def test_sqlite_file_made_read_only_mid_run_and_writable_again(tmp_path, bootstrap_servers, ledger):
    database = tmp_path / "outage.db"
    what = "the SQLite file made read-only (chattr +i) mid-run, writable again"
    outage(
        tmp_path, bootstrap_servers, sqlite_url(database),
        lambda: read_only(database), lambda: read_only(database, on=False), what, ledger,
    )  # fmt: skip


def outage(tmp_path, bootstrap_servers: str, url: str, take_away, give_back, what, ledger):
    """Take the database away for longer than max.poll.interval.ms while records keep
    coming: the consumer says so once, keeps polling (so the group keeps it: no
    rebalance), and stores everything once the database is back."""
    # librdkafka's minimum for max.poll.interval.ms is the session timeout (10 s).
    config_file(tmp_path, bootstrap_servers, "[consumer]\nmax.poll.interval.ms=10000\n")
    topic = f"aqi_store_outage_{uuid.uuid4().hex[:8]}"
    group = f"{topic}_group"
    records = history(stations=40, hours=scaled(300, 150), seed=11)
    backlog = len(records) // 3
    write_history(bootstrap_servers, topic, records[:backlog])
    count_insert_attempts(url)
    with Feeder(bootstrap_servers, topic, records[backlog:], every=0.1) as feeder:
        running = start_store(tmp_path, topic, group, url, "--from-beginning")
        wait_for(lambda: stored_readings(url).total() > backlog // 2, 90, "the first rows")
        take_away()
        try:
            wait_for(lambda: "unavailable" in running.stderr(), 60, "the outage to be said")
            running.wait_exit(timeout=OUTAGE_SECONDS)
        finally:
            give_back()
        back = time.monotonic()
        wait_for(lambda: feeder.written == len(records) - backlog, 120, "the feeder")
    wait_for(lambda: all_stored(url, bootstrap_servers, topic), 120, "every record stored")
    catch_up = time.monotonic() - back
    assert running.stop() == 0, running.stderr()
    stderr = running.stderr()
    result = verdict(bootstrap_servers, topic, url, group)
    ledger.add(
        f"11. database taken away mid-run ({dialect_of(url)})",
        f"{what} after {OUTAGE_SECONDS} s (longer than max.poll.interval.ms), while records "
        "kept arriving",
        1,
        result,
        catch_up,
        f"said once ({stderr.count('unavailable')} line); "
        f"{stderr.count('partitions') - 1} rebalances meanwhile",
    )
    result.assert_exact()
    assert stderr.count("unavailable") == 1, stderr
    assert "is back: storing again" in stderr
    assert stderr.count("partitions") == 1, f"the group dropped the consumer: {stderr}"
    assert PASSWORD not in stderr + running.stdout()
