"""The processes a benchmark measures: the WAQI simulator, producer.py, consumer.py, the baseline.

Each runs as a subprocess, as a user would run it. Its CPU time and peak memory come from the
kernel when it ends (wait4's rusage, for that one process), or from /proc/PID/status while it
runs. Every process dies with the harness, however the harness ends (PR_SET_PDEATHSIG), and
is stopped by whoever started it, also on Ctrl-C or failure (the `with` blocks).
Linux only, like the rest of the harness.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TOKEN = "bench-token-7c41"
SIMULATOR_START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Run in the child before exec: the kernel sends it SIGTERM when the harness dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def script_env(api_url: str | None = None) -> dict[str, str]:
    """The environment of every script: the bench token, the simulator, unbuffered output."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("WAQI_")}
    env["WAQI_TOKEN"] = TOKEN
    if api_url is not None:
        env["WAQI_API_URL"] = api_url
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass(frozen=True)
class Usage:
    """What a finished process cost."""

    exit_code: int
    wall_seconds: float  # from start to exit, as the harness saw it
    cpu_seconds: float  # user + system
    peak_rss_mb: float  # high-water mark of resident memory

    def to_json(self) -> dict:
        return {
            "exit_code": self.exit_code,
            "wall_seconds": round(self.wall_seconds, 4),
            "cpu_seconds": round(self.cpu_seconds, 4),
            "peak_rss_mb": round(self.peak_rss_mb, 2),
        }


class Process:
    """A started subprocess; wait() or stop() returns its Usage, once it has exited."""

    def __init__(
        self,
        command: list[str],
        *,
        name: str,
        env: dict[str, str],
        cwd: Path,
        stdout: int | IO = subprocess.DEVNULL,
        stderr: int | IO = subprocess.DEVNULL,
    ):
        self.name = name
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=die_with_parent,
        )
        self.usage: Usage | None = None
        self.timed_out = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> IO[bytes]:
        assert self.popen.stdout is not None, "started without stdout=PIPE"
        return self.popen.stdout

    @property
    def stderr(self) -> IO[bytes]:
        assert self.popen.stderr is not None, "started without stderr=PIPE"
        return self.popen.stderr

    def peak_rss_mb(self) -> float | None:
        """VmHWM of a running process (None once it has exited)."""
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def wait(self, timeout: float) -> Usage:
        """Wait for the exit; kill it and raise TimeoutError after `timeout` seconds."""
        if self.usage is not None:
            return self.usage
        watchdog = threading.Timer(timeout, self._kill_for_timeout)
        watchdog.daemon = True
        watchdog.start()
        try:
            # wait4, not waitpid: the rusage is this process's own, not all children's.
            _, status, rusage = os.wait4(self.pid, 0)
        finally:
            watchdog.cancel()
        ended = time.perf_counter()
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        self.usage = Usage(
            exit_code=self.popen.returncode,
            wall_seconds=ended - self.started,
            cpu_seconds=rusage.ru_utime + rusage.ru_stime,
            peak_rss_mb=rusage.ru_maxrss / 1024,  # kilobytes on Linux
        )
        if self.timed_out:
            raise TimeoutError(f"{self.name} did not finish within {timeout:g} s")
        return self.usage

    def _kill_for_timeout(self) -> None:
        self.timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def stop(self, timeout: float = 30.0) -> Usage:
        """SIGTERM (the scripts finish their cycle and exit), SIGKILL if that takes too long."""
        if self.usage is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                return self.wait(timeout)
            except TimeoutError:
                pass  # killed by the watchdog; usage is recorded
        assert self.usage is not None
        return self.usage


@contextlib.contextmanager
def started(process: Process) -> Iterator[Process]:
    """Stop `process` on the way out, whatever happens inside."""
    try:
        yield process
    finally:
        process.stop()


class Lines:
    """The lines of a child's pipe, each with the time it arrived here (read on a thread).

    Timestamped on arrival, so "when did the consumer print it" is the harness's clock, the
    same wall clock the simulator records its answers on.
    """

    def __init__(self, pipe: IO[bytes], clock: Callable[[], float] = time.time):
        self.lines: list[tuple[float, bytes]] = []
        self.closed = threading.Event()
        self.clock = clock
        self.pipe = pipe
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in iter(self.pipe.readline, b""):
            self.lines.append((self.clock(), line))
        self.closed.set()

    def __len__(self) -> int:
        return len(self.lines)

    def first(self, text: bytes) -> tuple[float, bytes] | None:
        """The first line containing `text`, with its arrival time."""
        return next((entry for entry in list(self.lines) if text in entry[1]), None)

    def text(self) -> str:
        return b"".join(line for _, line in list(self.lines)).decode(errors="replace")


def python_script(script: str, *args: str) -> list[str]:
    return [PYTHON, str(ROOT / script), *args]


class Simulator:
    """A running WAQI simulator (python -m aqistream.waqi_sim) on a free port."""

    LISTENING = "WAQI simulator listening on "

    def __init__(self, workdir: Path, *args: str):
        self.stderr_path = workdir / f"simulator-{time.monotonic_ns()}.err"
        with open(self.stderr_path, "wb") as stderr:
            self.process = Process(
                [PYTHON, "-m", "aqistream.waqi_sim", "--port", "0", *args],
                name="the WAQI simulator",
                env=script_env(),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        self.session = requests.Session()
        try:
            self.url = self._wait_for_url()
        except BaseException:
            self.stop()
            raise

    def _wait_for_url(self) -> str:
        lines: queue.Queue[str] = queue.Queue()

        def read_first_line() -> None:
            lines.put(self.process.stdout.readline().decode())

        threading.Thread(target=read_first_line, daemon=True).start()
        try:
            line = lines.get(timeout=SIMULATOR_START_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(
                f"the WAQI simulator did not start within {SIMULATOR_START_TIMEOUT:g} s"
            ) from None
        if not line.startswith(self.LISTENING):
            raise RuntimeError(f"the WAQI simulator did not start: {self.stderr()[-2000:]}")
        return line.removeprefix(self.LISTENING).strip()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, f"{self.url}/admin/{path}", json=body, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"simulator {method} /admin/{path}: {response.text}")
        return response.json()

    def reporting_stations(self, count: int) -> list[dict]:
        """`count` stations that publish a new reading every hour."""
        stations = self.admin("GET", f"stations?status=reporting&limit={count}")["stations"]
        if len(stations) < count:
            raise RuntimeError(f"the simulator has only {len(stations)} reporting stations")
        return stations

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> Usage:
        self.session.close()
        return self.process.stop()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def station_line(station: dict) -> str:
    """A simulator station's line of stations.txt (`@idx` or `A123`), from its feed path."""
    return station["feed"].removeprefix("/feed/").rstrip("/")


def write_stations(path: Path, stations: list[dict]) -> Path:
    """A stations.txt with one line per simulator station."""
    lines = [station_line(station) for station in stations]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_for(condition: Any, timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
