"""producer.py and stations.txt: every line form, duplicates, live edits, malformed files."""

from __future__ import annotations

import os

import pytest

from tests.pipeline import (
    NO_QUOTA,
    count_in,
    idx_of,
    listed_stations,
    read_topic,
    readings_in,
    run_producer_once,
    run_script,
    script_env,
    start_producer,
    wait_for,
    waqi_simulator,
)


@pytest.fixture
def sim():
    with waqi_simulator(8, "--quota", "0", "--stations", "100") as simulator:
        yield simulator


def touch_later(path) -> None:
    """Make sure an edit is seen as a change even within the file system's time resolution."""
    status = os.stat(path)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))


def test_every_line_form_resolves_to_its_station(workdir, sim, topic_name, bootstrap_servers):
    crowd_idx = listed_stations(sim, "reporting", "crowd", 1)[0]["idx"]
    official_idx = listed_stations(sim, "reporting", "official", 1)[0]["idx"]
    (workdir / "stations.txt").write_text(
        "# the forms a line can take\n"
        "\n"
        "basel                 # a city name, with a trailing comment\n"
        f"@{official_idx}\n"
        f"A{-crowd_idx}\n"
        "geo:46.2;6.14         # nearest to Geneva\n"
        "   \n"
    )
    result = run_producer_once(workdir, sim, topic_name, *NO_QUOTA)
    assert result.returncode == 0, result.stderr
    published = readings_in(read_topic(bootstrap_servers, topic_name))
    assert {idx for idx, _ in published} == {
        idx_of(sim, "basel"),
        official_idx,
        crowd_idx,
        idx_of(sim, "geo:46.2;6.14"),
    }


def test_a_live_edit_is_picked_up_without_a_restart(workdir, sim, topic_name, bootstrap_servers):
    stations = workdir / "stations.txt"
    stations.write_text("zurich\n")
    producer = start_producer(workdir, sim, topic_name, "--interval", "0.3", *NO_QUOTA)
    try:
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 1, 60, "zurich")
        stations.write_text("zurich\nbasel\nlugano\n")
        touch_later(stations)
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 3, 60, "the added ones")
    finally:
        assert producer.stop() == 0
    assert "reloaded, 3 stations (2 added, 0 removed)" in producer.stderr()


def test_a_malformed_edit_while_running_keeps_the_old_list_and_is_logged_once(
    workdir, sim, topic_name, bootstrap_servers
):
    stations = workdir / "stations.txt"
    stations.write_text("zurich\nbasel\n")
    producer = start_producer(workdir, sim, topic_name, "--interval", "0.2", *NO_QUOTA)
    try:
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 2, 60, "two readings")
        stations.write_text("zurich\ngeo:91;8\n")
        touch_later(stations)
        wait_for(lambda: "stations.txt:2:" in producer.stderr(), 30, "the error")
        cycles = producer.stderr().count("cycle ")
        wait_for(lambda: producer.stderr().count("cycle ") >= cycles + 5, 30, "five more cycles")
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        wait_for(lambda: count_in(bootstrap_servers, topic_name) == 4, 60, "basel still polled")
    finally:
        assert producer.stop() == 0
    log = producer.stderr()
    assert log.count("latitude must be between -90 and 90") == 1
    assert "still polling the previous 2 stations" in log


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"zurich\nbasel\ngeo:47.3;north\n", "stations.txt:3:"),
        (b"zurich\n@12ab\n", "stations.txt:2:"),
        (b"# nothing but a comment\n\n", "stations.txt: no stations listed"),
        (b"", "stations.txt: no stations listed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "stations.txt"),
    ],
    ids=["bad-geo", "bad-idx", "only-comments", "empty", "binary-garbage"],
)
def test_a_bad_stations_file_at_start_is_exit_2_with_file_and_line(
    workdir, sim, topic_name, bootstrap_servers, content, expected
):
    (workdir / "stations.txt").write_bytes(content)
    result = run_producer_once(workdir, sim, topic_name)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    assert result.stderr.startswith(f"producer.py: {expected}")
    assert count_in(bootstrap_servers, topic_name) == 0  # nothing published, no topic made


def test_a_missing_stations_file_is_exit_2(workdir, sim, topic_name):
    result = run_script(
        "producer.py",
        "config.ini",
        "--topic",
        topic_name,
        "--stations",
        "nope.txt",
        env=script_env(sim),
        cwd=workdir,
    )
    assert result.returncode == 2
    assert "nope.txt" in result.stderr and result.stderr.count("\n") == 1
