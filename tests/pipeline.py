"""Run the real scripts against a real broker and the simulator, and count what came out.

The producer and consumer run as subprocesses (so they can be killed with SIGKILL);
the topic is read back with read_committed, the way any downstream consumer sees it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from aqistream.kafka.latest import ReadFailed, read_to_end
from tests.simulator import Simulator, running_simulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-5f3a9c"  # distinctive, so a leak is easy to find
# Well inside an hour, so the simulated clock (real speed) never reaches the next one
# during a test unless the test moves it.
START = "2026-11-23T10:05:00Z"
# For a simulator run without a quota (--quota 0): the producer need not keep to one either.
NO_QUOTA = ("--quota", "600000", "--burst", "1000")
SWISS = [
    "zurich",
    "geneva",
    "basel",
    "lausanne",
    "bern",
    "winterthur",
    "st-gallen",
    "lugano",
    "neuchatel",
]
# One message per produce request: a transaction then takes ~100 ms to send instead of
# ~10, so a kill can land between the first record reaching the broker and the commit.
SLOW_TRANSACTIONS = "[producer]\nbatch.num.messages=1\n"


def waqi_simulator(seed: int, *args: str, start: str = START) -> AbstractContextManager[Simulator]:
    """running_simulator() for a test: the world of `seed` at `start`, answering TOKEN."""
    return running_simulator("--seed", str(seed), "--start", start, "--token", TOKEN, *args)


def script_env(simulator: Simulator | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAQI_")}
    env["WAQI_TOKEN"] = TOKEN
    if simulator is not None:
        env["WAQI_API_URL"] = simulator.url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def config_file(tmp_path: Path, bootstrap_servers: str, extra: str = "") -> str:
    path = tmp_path / "config.ini"
    path.write_text(f"[default]\nbootstrap.servers={bootstrap_servers}\n{extra}")
    return str(path)


def prepare_workdir(path: Path, bootstrap_servers: str) -> Path:
    """`path` as the producer's working directory: config.ini and stations.txt (SWISS)."""
    (path / "stations.txt").write_text("\n".join(SWISS) + "\n")
    config_file(path, bootstrap_servers)
    return path


def run_script(
    script: str, *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Running:
    """A script running in the background; its output goes to files the test can read.

    Every one started is killed at the end of its test if still running (tests/conftest.py),
    so a failing test leaves no producer behind.
    """

    started: list[Running] = []

    def __init__(self, script: str, args: tuple[str, ...], env: dict[str, str], cwd: Path):
        self.out_path = cwd / f"{script}.{id(self)}.out"
        self.err_path = cwd / f"{script}.{id(self)}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / script), *args],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        Running.started.append(self)

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        """Wait up to `timeout` for the script to exit by itself; its code, or None."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send `sig` and wait; the exit code."""
        if self.alive():
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"did not exit within {timeout} s after signal {sig}:\n{self.stderr()}"
            ) from None


def start_script(script: str, *args: str, env: dict[str, str], cwd: Path) -> Running:
    return Running(script, args, env, cwd)


def run_producer_once(
    workdir: Path, simulator: Simulator | None, topic: str, *args: str, **env: str
) -> subprocess.CompletedProcess:
    """One cycle of producer.py (--once) with workdir's config.ini, publishing to `topic`."""
    return run_script(
        "producer.py", "config.ini", "--topic", topic, "--once", *args,
        env=script_env(simulator, **env), cwd=workdir,
    )  # fmt: skip


def start_producer(workdir: Path, simulator: Simulator, topic: str, *args: str) -> Running:
    """producer.py in its loop with workdir's config.ini, publishing to `topic`."""
    return start_script(
        "producer.py", "config.ini", "--topic", topic, *args,
        env=script_env(simulator), cwd=workdir,
    )  # fmt: skip


def kill_at_a_random_moment(
    producer: Running, rng: random.Random, anywhere: tuple[float, float]
) -> None:
    """SIGKILL a producer started with -v: half the time after a wait drawn from `anywhere`
    (seconds), half the time within 0.15 s of its saying it publishes, i.e. inside the
    transaction. It must still be running when the kill comes."""
    if rng.random() < 0.5:
        producer.wait_exit(timeout=rng.uniform(*anywhere))
    else:
        wait_for(
            lambda: "in one transaction" in producer.stderr(), 30, "a transaction", every=0.005
        )
        producer.wait_exit(timeout=rng.uniform(0.0, 0.15))
    assert producer.alive(), producer.stderr()
    producer.stop(signal.SIGKILL)


def read_topic(
    bootstrap_servers: str,
    topic: str,
    isolation_level: str = "read_committed",
    timeout: float = 60,
) -> list[tuple[bytes, bytes]]:
    """Every committed (key, value) of the topic, from the beginning."""
    # log_level 0: a broker a test has stopped is expected, not worth a line on stderr.
    settings = {"bootstrap.servers": bootstrap_servers, "log_level": 0}
    messages = read_to_end(settings, topic, timeout=timeout, isolation_level=isolation_level)
    return [(m.key(), m.value()) for m in messages]


def count_in(bootstrap_servers: str, topic: str) -> int:
    """How many committed messages the topic holds; 0 while it does not exist yet."""
    try:
        return len(read_topic(bootstrap_servers, topic))
    except ReadFailed:
        return 0


def readings_in(messages: list[tuple[bytes, bytes]]) -> Counter:
    """How many times each (idx, observed_at) is in the topic."""
    counts: Counter = Counter()
    for key, value in messages:
        record = json.loads(value)
        assert key == str(record["station"]["idx"]).encode()
        counts[record["station"]["idx"], record["observed_at"]] += 1
    return counts


def served_readings(simulator: Simulator, idxs: set[int] | None = None) -> set[tuple[int, str]]:
    """(idx, observed_at) of every reading the simulator answered with."""
    served = simulator.admin("GET", "/admin/served")["readings"]
    return {(r["idx"], r["observed_at"]) for r in served if idxs is None or r["idx"] in idxs}


def assert_exactly_once(published: Counter, served: set[tuple[int, str]]) -> None:
    duplicated = {reading: n for reading, n in published.items() if n > 1}
    lost = served - set(published)
    unexpected = set(published) - served
    assert not duplicated, f"published more than once: {sorted(duplicated.items())[:10]}"
    assert not lost, f"served but not published: {sorted(lost)[:10]}"
    assert not unexpected, f"published but never served: {sorted(unexpected)[:10]}"


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def write_raw(bootstrap_servers: str, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    """Write messages straight to a topic (poison among real records)."""
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    for key, value in items:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:  # the local queue holds 100,000: let the broker take some
                producer.poll(0.5)
    assert producer.flush(60) == 0


def listed_stations(simulator: Simulator, status: str, network: str, count: int) -> list[dict]:
    """`count` of the simulator's generated stations of that status and network."""
    query = f"/admin/stations?status={status}&network={network}&limit={count}"
    stations = simulator.admin("GET", query)["stations"]
    assert len(stations) == count, f"the simulator has only {len(stations)} such stations"
    return stations


def feed_line(station: dict) -> str:
    """The stations.txt line for a station of the simulator's admin listing."""
    return station["feed"].removeprefix("/feed/").rstrip("/")


def idx_of(simulator: Simulator, line: str) -> int:
    """The idx of the station a stations.txt line resolves to."""
    return simulator.get(f"/feed/{line}/", token=TOKEN).json()["data"]["idx"]


def broker_answers(bootstrap_servers: str) -> bool:
    """Whether a Kafka broker answers a metadata request there (within 2 s)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        return bool(admin.list_topics(timeout=2).brokers)
    except Exception:
        return False
