"""consumer.py against a real Kafka broker, fed by the real producer and the WAQI simulator.

Every test runs the real script as a subprocess, in a consumer group of its own, and compares
what it printed with what the topic holds (read back with read_committed).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from aqistream.kafka.latest import read_to_end
from aqistream.record import encode_record
from aqistream.render import RESET, aqi_category, format_pretty
from tests.kafka_cluster import LocalKafka
from tests.pipeline import (
    ROOT,
    broker_answers,
    config_file,
    read_topic,
    run_producer_once,
    run_script,
    script_env,
    start_script,
    wait_for,
    waqi_simulator,
    write_raw,
)

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
INVALID = "skipping an invalid record at"

ZURICH, BASEL, GENEVA = 5419, 5411, 5413


@pytest.fixture
def sim():
    # From well inside an hour (START): the simulated clock reaches the next one only when a
    # test moves it, so each producer cycle publishes exactly one new reading per station.
    with waqi_simulator(11, "--quota", "0") as s:
        yield s


@pytest.fixture
def workdir(tmp_path, bootstrap_servers):
    """The shipped stations.txt, not conftest's SWISS list."""
    (tmp_path / "stations.txt").write_text((ROOT / "stations.txt").read_text())
    config_file(tmp_path, bootstrap_servers)
    return tmp_path


@pytest.fixture
def group() -> str:
    """A consumer group no other test uses."""
    return f"test_group_{uuid.uuid4().hex[:10]}"


def publish_cycle(workdir: Path, sim, topic: str) -> None:
    """One producer cycle: one new reading per station (the simulated hour has moved)."""
    result = run_producer_once(workdir, sim, topic, "-q")
    assert result.returncode == 0, result.stderr


def next_hour(sim) -> None:
    sim.admin("POST", "/admin/clock", {"advance_hours": 1})


def consume(workdir: Path, topic: str, group: str, *args: str) -> subprocess.CompletedProcess:
    return run_script(
        "consumer.py", "config.ini", "--topic", topic, "--group", group, *args,
        env=consumer_env(), cwd=workdir,
    )  # fmt: skip


def start_consumer(workdir: Path, topic: str, group: str, *args: str):
    return start_script(
        "consumer.py", "config.ini", "--topic", topic, "--group", group, *args,
        env=consumer_env(), cwd=workdir,
    )  # fmt: skip


def consumer_env(**extra: str) -> dict[str, str]:
    env = script_env(None, **extra)
    if "NO_COLOR" not in extra:
        env.pop("NO_COLOR", None)
    return env


def published(bootstrap_servers: str, topic: str) -> list[str]:
    """The topic's committed values, as text."""
    return [value.decode() for _, value in read_topic(bootstrap_servers, topic)]


def lines_of(output: str) -> list[str]:
    return output.splitlines()


def idxs_of(lines: list[str]) -> list[int]:
    return [json.loads(line)["station"]["idx"] for line in lines]


def assert_no_duplicates(lines: list[str]) -> None:
    repeated = [line[:120] for line, n in Counter(lines).items() if n > 1]
    assert not repeated, f"printed more than once: {repeated}"


def committed_offsets(bootstrap_servers: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of the topic (negative: none)."""
    reader = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group})
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        asked = [TopicPartition(topic, p) for p in partitions]
        return {tp.partition: tp.offset for tp in reader.committed(asked, timeout=10)}
    finally:
        reader.close()


def offsets_of(bootstrap_servers: str, topic: str) -> dict[bytes | None, tuple[int, int]]:
    """(partition, offset) of every committed value of the topic (all distinct)."""
    messages = read_to_end({"bootstrap.servers": bootstrap_servers}, topic, timeout=60)
    return {m.value(): (m.partition(), m.offset()) for m in messages}


def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """Per partition, the offset after its last record: where a group that read all is."""
    ends: dict[int, int] = {}
    for partition, offset in offsets_of(bootstrap_servers, topic).values():
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


def newest_per_station(records: list[str]) -> list[str]:
    """(`.latest` holds older readings too until the broker compacts it.)"""
    newest: dict[int, dict] = {}
    for record in map(json.loads, records):
        idx = record["station"]["idx"]
        if idx not in newest or newest[idx]["observed_at"] < record["observed_at"]:
            newest[idx] = record
    return [r for r in records if json.loads(r) in newest.values()]


# ------------------------------------------------------------ json output, --max-records


def test_json_lines_are_the_published_records_one_per_line(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    records = published(bootstrap_servers, topic_name)
    assert len(records) == 9

    started = time.monotonic()
    result = consume(workdir, topic_name, group, "--from-beginning", "--format", "json",
                     "--idle-timeout", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 2, "left before the idle timeout"
    assert result.stdout.endswith("\n")
    assert sorted(lines_of(result.stdout)) == sorted(records)  # byte for byte, nothing else
    assert "9 readings printed, 0 invalid records skipped" in result.stderr


def test_max_records_ends_the_run_after_that_many(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    records = published(bootstrap_servers, topic_name)
    result = consume(workdir, topic_name, group, "--from-beginning", "--format", "json",
                     "--max-records", "4")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = lines_of(result.stdout)
    assert len(lines) == 4
    assert set(lines) <= set(records)
    assert_no_duplicates(lines)
    # Only what was printed is committed: the next run of the group prints the other 5.
    rest = consume(workdir, topic_name, group, "--format", "json", "--idle-timeout", "2")
    assert rest.returncode == 0, rest.stderr
    assert sorted(lines + lines_of(rest.stdout)) == sorted(records)


# ------------------------------------------------------------ pretty output

CATEGORIES = [  # (aqi, the category shown)
    (23, "Good"),
    (75, "Moderate"),
    (125, "Unhealthy for Sensitive Groups"),
    (175, "Unhealthy"),
    (250, "Very Unhealthy"),
    (350, "Hazardous"),
    (None, "no data"),
]


def crafted_record(idx: int, name: str, aqi: int | None, **changes) -> dict:
    record = {
        "schema_version": 1,
        "source": "waqi",
        "station": {"idx": idx, "name": name, "geo": [47.377, 8.53], "url": None, "query": name},
        "observed_at": "2026-11-23T13:00:00Z",
        "observed_local": "2026-11-23T14:00:00+01:00",
        "aqi": aqi,
        "dominant_pollutant": "pm25" if aqi is not None else None,
        "iaqi": {"pm25": aqi, "pm10": 9} if aqi is not None else {"pm10": 9},
        "attributions": [{"name": "World Air Quality Index Project", "url": "https://waqi.info/"}],
        "fetched_at": "2026-11-23T13:07:12.345Z",
    }
    record.update(changes)
    return record


def run_on_terminal(workdir: Path, *args: str, env: dict[str, str]) -> str:
    """consumer.py with its stdout on a pseudo-terminal; what it showed there."""
    leader, follower = pty.openpty()
    with open(workdir / "terminal.err", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "consumer.py"), *args],
            env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=follower, stderr=stderr,
        )  # fmt: skip
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process has exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(10) == 0, (workdir / "terminal.err").read_text()
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return shown.decode().replace("\r\n", "\n")  # the terminal turns \n into \r\n


def test_pretty_lines_show_every_aqi_category_with_colour_only_on_a_terminal(
    workdir, topic_name, group, bootstrap_servers
):
    records = [
        crafted_record(90000 + n, f"Town {n}", aqi) for n, (aqi, label) in enumerate(CATEGORIES)
    ]
    # One key, one partition: the lines come out in this order.
    write_raw(bootstrap_servers, topic_name, [(b"90000", encode_record(r)) for r in records])
    args = ("config.ini", "--topic", topic_name, "--from-beginning", "--max-records", "7")

    piped = consume(workdir, topic_name, group, "--from-beginning", "--max-records", "7")
    assert piped.returncode == 0, piped.stderr
    plain = lines_of(piped.stdout)
    assert plain == [format_pretty(r, colour=False) for r in records]  # no header when piped
    assert "\x1b" not in piped.stdout
    for line, record, (aqi, label) in zip(plain, records, CATEGORIES, strict=True):
        assert record["station"]["name"] in line
        assert re.search(rf"\s{'-' if aqi is None else aqi} {label}\s", line), line
        assert line.startswith("2026-11-23 14:00 +01:00  ")
        assert line.rstrip().endswith(f"{'-' if aqi is None else aqi}      9")  # PM2.5, PM10

    coloured = lines_of(run_on_terminal(workdir, *args, "--group", group + "-tty",
                                        env=consumer_env()))  # fmt: skip
    header, *lines = coloured
    assert "STATION" in ANSI_ESCAPE.sub("", header) and "PM2.5" in header
    assert [ANSI_ESCAPE.sub("", line) for line in lines] == plain
    colours = []
    for line, (aqi, label) in zip(lines, CATEGORIES, strict=True):
        colour = aqi_category(aqi).colour
        aqi_text = "-" if aqi is None else str(aqi)
        assert f"{colour}{aqi_text:>4} {label}{RESET}" in line, repr(line)
        colours.append(colour)
    assert len(set(colours)) == len(CATEGORIES), "two categories share a colour"

    no_color = run_on_terminal(workdir, *args, "--group", group + "-no-color",
                               env=consumer_env(NO_COLOR="1"))  # fmt: skip
    assert "\x1b" not in no_color
    assert lines_of(no_color)[1:] == plain
    assert "STATION" in lines_of(no_color)[0]


# ------------------------------------------------------------ filters and --snapshot


def test_station_and_min_aqi_filters_print_only_matching_readings(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    records = [json.loads(r) for r in published(bootstrap_servers, topic_name)]

    by_station = consume(
        workdir, topic_name, group + "-stations", "--from-beginning", "--format", "json",
        "--idle-timeout", "2",
        "--station", "zurich",  # part of the name, accents ignored ("Zürich-Kaserne")
        "--station", f"@{BASEL}",  # an idx
        "--station", "GENEVA",  # the stations.txt line ("Genève-Necker")
    )  # fmt: skip
    assert by_station.returncode == 0, by_station.stderr
    assert sorted(idxs_of(lines_of(by_station.stdout))) == sorted([ZURICH, BASEL, GENEVA])

    aqis = sorted(r["aqi"] for r in records)
    threshold = aqis[len(aqis) // 2]
    expected = sorted(r["station"]["idx"] for r in records if r["aqi"] >= threshold)
    assert 0 < len(expected) < len(records), "the threshold must keep some readings, not all"
    by_aqi = consume(workdir, topic_name, group + "-aqi", "--from-beginning", "--format", "json",
                     "--idle-timeout", "2", "--min-aqi", str(threshold))  # fmt: skip
    assert by_aqi.returncode == 0, by_aqi.stderr
    assert sorted(idxs_of(lines_of(by_aqi.stdout))) == expected


def test_snapshot_prints_each_station_current_reading_then_only_new_ones(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)
    current = newest_per_station(published(bootstrap_servers, f"{topic_name}.latest"))
    assert len(current) == 9

    running = start_consumer(workdir, topic_name, group, "--snapshot", "--format", "json")
    wait_for(lambda: len(lines_of(running.stdout())) >= 9, 60, "the snapshot")
    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)
    wait_for(lambda: len(lines_of(running.stdout())) >= 18, 60, "the new readings")
    assert running.stop(signal.SIGINT) == 0, running.stderr()

    shown = {json.loads(r)["station"]["idx"]: json.loads(r)["observed_at"] for r in current}
    newer = [
        r
        for r in published(bootstrap_servers, topic_name)
        if json.loads(r)["observed_at"] > shown[json.loads(r)["station"]["idx"]]
    ]
    lines = lines_of(running.stdout())
    assert sorted(lines[:9]) == sorted(current)  # the snapshot: cycle 2, one per station
    # Then only cycle 3: the stream's cycles 1 and 2, older or shown already, are skipped.
    assert sorted(lines[9:]) == sorted(newer) and len(newer) == 9
    assert_no_duplicates(lines)


# ------------------------------------------------------------ offsets: where a run starts


def test_a_group_resumes_where_it_left_off_and_from_beginning_starts_over(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    first_cycle = published(bootstrap_servers, topic_name)
    json_args = ("--format", "json", "--idle-timeout", "2")

    first = consume(workdir, topic_name, group, "--from-beginning", *json_args)
    assert sorted(lines_of(first.stdout)) == sorted(first_cycle), first.stderr

    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)
    second_cycle = sorted(set(published(bootstrap_servers, topic_name)) - set(first_cycle))
    assert len(second_cycle) == 9
    second = consume(workdir, topic_name, group, *json_args)
    assert sorted(lines_of(second.stdout)) == second_cycle, second.stderr  # nothing old

    third = consume(workdir, topic_name, group, *json_args)
    assert third.returncode == 0, third.stderr
    assert third.stdout == ""

    again = consume(workdir, topic_name, group, "--from-beginning", *json_args)
    assert sorted(lines_of(again.stdout)) == sorted(first_cycle + second_cycle), again.stderr


def test_a_new_group_starts_with_readings_published_after_it_joined(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    old = set(published(bootstrap_servers, topic_name))
    running = start_consumer(workdir, topic_name, group, "--format", "json", "-v")
    wait_for(lambda: "assigned" in running.stderr(), 60, "the group to assign partitions")
    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)
    new = set(published(bootstrap_servers, topic_name)) - old
    wait_for(lambda: len(lines_of(running.stdout())) >= 9, 60, "the new readings")
    assert running.stop(signal.SIGTERM) == 0, running.stderr()
    assert sorted(lines_of(running.stdout())) == sorted(new)


def test_sigint_commits_leaves_the_group_and_exits_0_promptly(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    running = start_consumer(workdir, topic_name, group, "--from-beginning", "--format", "json")
    wait_for(lambda: len(lines_of(running.stdout())) >= 9, 60, "the readings")
    # At once, before the periodic commit (every 5 s): the commit on the way out counts.
    stopping = time.monotonic()
    assert running.stop(signal.SIGINT, timeout=20) == 0, running.stderr()
    assert time.monotonic() - stopping < 10
    ends = end_offsets(bootstrap_servers, topic_name)
    assert committed_offsets(bootstrap_servers, group, topic_name) == ends
    # It left: the group is empty now, not waiting for a member's session to expire.
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    description = admin.describe_consumer_groups([group])[group].result()
    assert description.state == ConsumerGroupState.EMPTY
    assert description.members == []


def test_two_consumers_in_a_group_share_the_readings_and_print_each_once(
    workdir, sim, topic_name, group, bootstrap_servers
):
    publish_cycle(workdir, sim, topic_name)
    args = ("--format", "json", "-v")  # -v: each assignment on stderr
    first = start_consumer(workdir, topic_name, group, "--from-beginning", *args)
    wait_for(lambda: len(lines_of(first.stdout())) >= 9, 60, "the first readings")
    second = start_consumer(workdir, topic_name, group, *args)
    # The rebalance hands the first one part of its partitions again: it goes on from where
    # it was in them, not from the beginning once more.
    wait_for(lambda: "assigned" in second.stderr(), 60, "the second one to join")
    wait_for(lambda: first.stderr().count("assigned") >= 2, 60, "the first one's new share")
    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)
    wait_for(lambda: len(lines_of(first.stdout() + second.stdout())) >= 18, 60, "new readings")
    assert first.stop() == 0 and second.stop() == 0
    both = lines_of(first.stdout()) + lines_of(second.stdout())
    assert_no_duplicates(both)
    assert sorted(both) == sorted(published(bootstrap_servers, topic_name))
    assert lines_of(second.stdout()), "the second consumer got no share of the new readings"


# ------------------------------------------------------------ bad data, bad config


def poison() -> list[tuple[bytes | None, bytes | None, str]]:
    """(key, value, why it is not a record) of messages a consumer must survive."""
    v2 = crafted_record(1, "Elsewhere", 5, schema_version=2)
    no_aqi = crafted_record(1, "Elsewhere", 5)
    del no_aqi["aqi"]
    return [
        (b"5419", b"\xff\xfe not even text", "value is not UTF-8 text"),
        (b"5419", b"not json", "value is not JSON"),
        (b"5411", b'{"hello": "world"}', "schema_version is None"),
        (None, b"[1, 2, 3]", "value is a JSON array"),
        (b"5413", encode_record(v2), "schema_version is 2, expected 1"),
        (b"5413", encode_record(no_aqi), "aqi is missing"),
        (b"5419", None, "empty message"),
        (b"5411", b"[" * 100_000, "nested too deeply|recursion depth"),
    ]


def test_poison_messages_are_reported_once_and_skipped(
    workdir, sim, topic_name, group, bootstrap_servers
):
    bad = poison()
    # Valid records all the same, which only a careful reader prints right: a lone surrogate
    # (not encodable as UTF-8) and an escape sequence in a name; JSON spread over lines.
    hostile = json.dumps(crafted_record(-77, "Bad \ud800 name \x1b[31m red", 42)).encode()
    spread = json.dumps(crafted_record(-78, "Spread over lines", 43), indent=2).encode()
    publish_cycle(workdir, sim, topic_name)
    write_raw(bootstrap_servers, topic_name, [(key, value) for key, value, _ in bad[:4]])
    write_raw(bootstrap_servers, topic_name, [(b"-77", hostile), (b"-78", spread)])
    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)
    write_raw(bootstrap_servers, topic_name, [(key, value) for key, value, _ in bad[4:]])
    where = offsets_of(bootstrap_servers, topic_name)
    readings = [v.decode() for v in where if v not in {hostile, spread, *(b for _, b, _ in bad)}]
    assert len(readings) == 18
    args = ("--from-beginning", "--idle-timeout", "3")

    as_json = consume(workdir, topic_name, group + "-json", *args, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    lines = lines_of(as_json.stdout)
    assert sorted(lines) == sorted(
        [*readings, hostile.decode(), spread.decode().replace("\n", " ")]
    )
    assert f"20 readings printed, {len(bad)} invalid records skipped" in as_json.stderr
    warnings = [line for line in as_json.stderr.splitlines() if INVALID in line]
    assert len(warnings) == len(bad), as_json.stderr
    for _, value, why in bad:
        partition, offset = where[value]
        (warning,) = [w for w in warnings if f" partition {partition} offset {offset}: " in w]
        assert f"{INVALID} {topic_name} partition {partition} offset {offset}: " in warning
        assert re.search(why, warning), warning

    pretty = consume(workdir, topic_name, group + "-pretty", *args)
    assert pretty.returncode == 0, pretty.stderr
    assert len(lines_of(pretty.stdout)) == 20
    assert "Bad   name  [31m red" in pretty.stdout and "\x1b" not in pretty.stdout
    assert f"20 readings printed, {len(bad)} invalid records skipped" in pretty.stderr


def test_bad_configuration_is_one_line_on_stderr_and_exit_2(workdir, topic_name, group):
    config_file(workdir, "localhost:9092", "[consumer]\nno.such.setting=1\n")
    result = consume(workdir, topic_name, group)
    assert result.returncode == 2
    assert result.stderr.startswith("consumer.py: config.ini: ")
    assert "no.such.setting" in result.stderr and len(result.stderr.splitlines()) == 1

    result = consume(workdir, topic_name, group, "--min-aqi", "-1")
    assert result.returncode == 2
    assert "--min-aqi" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_reader_that_goes_away_ends_the_consumer_quietly(workdir, sim, topic_name, group):
    publish_cycle(workdir, sim, topic_name)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "consumer.py"), "config.ini", "--topic", topic_name,
         "--group", group, "--from-beginning", "--format", "json"],
        env=consumer_env(), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout.readline().startswith(b'{"schema_version":1')
        process.stdout.close()  # like `| head -n 1`
        next_hour(sim)
        publish_cycle(workdir, sim, topic_name)  # something to write to the closed pipe
        assert process.wait(30) == 0
        stderr = process.stderr.read().decode()
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ------------------------------------------------------------ crashes and outages


def test_kill_9_then_restart_resumes_after_the_last_committed_offset(
    workdir, sim, topic_name, group, bootstrap_servers
):
    json_args = ("--format", "json")
    publish_cycle(workdir, sim, topic_name)
    cycle_1 = set(published(bootstrap_servers, topic_name))
    killed = start_consumer(workdir, topic_name, group, "--from-beginning", *json_args)
    wait_for(lambda: len(lines_of(killed.stdout())) >= 9, 60, "the first readings")
    ends = end_offsets(bootstrap_servers, topic_name)
    wait_for(lambda: committed_offsets(bootstrap_servers, group, topic_name) == ends, 30,
             "the periodic commit")  # fmt: skip
    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)
    wait_for(lambda: len(lines_of(killed.stdout())) >= 18, 60, "the second readings")
    killed.stop(signal.SIGKILL)  # most likely before committing them
    committed = committed_offsets(bootstrap_servers, group, topic_name)
    next_hour(sim)
    publish_cycle(workdir, sim, topic_name)

    restarted = consume(workdir, topic_name, group, *json_args, "--idle-timeout", "3")
    assert restarted.returncode == 0, restarted.stderr
    where = offsets_of(bootstrap_servers, topic_name)
    not_committed = {v.decode() for v, (p, offset) in where.items() if offset >= committed[p]}
    assert sorted(lines_of(restarted.stdout)) == sorted(not_committed)
    assert not cycle_1 & set(lines_of(restarted.stdout)), "printed committed readings again"
    printed = set(lines_of(killed.stdout())) | set(lines_of(restarted.stdout))
    assert printed == {v.decode() for v in where}, "skipped readings"


def test_broker_outage_makes_it_wait_and_resume_where_it_was(tmp_path, sim, topic_name, group):
    kafka = LocalKafka(tmp_path / "kafka").up()
    try:
        workdir = tmp_path / "work"
        workdir.mkdir()
        (workdir / "stations.txt").write_text((ROOT / "stations.txt").read_text())
        config_file(workdir, kafka.bootstrap_servers)
        publish_cycle(workdir, sim, topic_name)
        running = start_consumer(workdir, topic_name, group, "--from-beginning", "--format", "json")
        wait_for(lambda: len(lines_of(running.stdout())) >= 9, 60, "the first readings")

        # Most likely before the periodic commit, and for longer than the session timeout
        # (10 s): the group drops the consumer and the commit is lost, but the consumer
        # still goes on from what it printed, not from the group's offsets.
        kafka.stop_node(1)
        down_since = time.monotonic()
        wait_for(lambda: "Kafka unreachable" in running.stderr(), 30, "the outage to be noticed")
        wait_for(lambda: time.monotonic() - down_since > 12, 30, "12 s of outage", every=0.5)
        kafka.start_node(1)
        wait_for(lambda: broker_answers(kafka.bootstrap_servers), 90, "the broker to be back")
        next_hour(sim)
        publish_cycle(workdir, sim, topic_name)
        wait_for(lambda: len(lines_of(running.stdout())) >= 18, 90, "the readings after it")
        assert running.alive()
        lines = lines_of(running.stdout())
        assert sorted(lines) == sorted(published(kafka.bootstrap_servers, topic_name))
        # Said once (twice at most, if a rebalance came between), not every second.
        assert running.stderr().count("Kafka unreachable") <= 2, running.stderr()
        assert "reading again" in running.stderr()

        # Stopped while Kafka is down, it cannot commit, but it still exits 0 promptly.
        kafka.stop_node(1)
        stopping = time.monotonic()
        assert running.stop(signal.SIGTERM, timeout=30) == 0, running.stderr()
        assert time.monotonic() - stopping < 10
    finally:
        kafka.down()
