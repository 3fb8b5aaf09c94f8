"""Run the WAQI simulator (python -m aqistream.waqi_sim) as a subprocess for a test.

    with running_simulator("--seed", "7", "--token", "t") as sim:
        feed = sim.get("/feed/zurich/", token="t").json()
        sim.admin("POST", "/admin/clock", {"advance_hours": 1})
        served = sim.admin("GET", "/admin/served")

The simulator always listens on a free port (--port 0) and is always stopped on the way out,
also when the test fails.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
LISTENING = "WAQI simulator listening on "
START_TIMEOUT_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 10.0


class Simulator:
    """A running simulator: its base URL, a keep-alive session, and a way to stop it."""

    def __init__(self, process: subprocess.Popen[str], url: str, stderr_path: Path) -> None:
        self.process = process
        self.url = url
        self._stderr_path = stderr_path
        self.session = requests.Session()

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET a WAQI path (pass the token as token=...); redirects are not followed."""
        return self.session.get(
            self.url + path,
            params=params,
            timeout=REQUEST_TIMEOUT_SECONDS,
            allow_redirects=False,
        )

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        """Call the admin endpoint ('/admin/clock' or just 'clock') and return its JSON."""
        if not path.startswith("/"):
            path = f"/admin/{path}"
        response = self.session.request(
            method, self.url + path, json=json, timeout=REQUEST_TIMEOUT_SECONDS
        )
        if response.status_code != 200:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def stderr(self) -> str:
        """What the simulator wrote on stderr so far."""
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        self.session.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


@contextmanager
def running_simulator(
    *cli_args: str, start_timeout: float = START_TIMEOUT_SECONDS
) -> Iterator[Simulator]:
    """Start the simulator with `cli_args`, wait for its listening line, stop it at the end."""
    command = [sys.executable, "-m", "aqistream.waqi_sim", "--port", "0", *cli_args]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with tempfile.TemporaryDirectory(prefix="waqi-sim-") as scratch:
        stderr_path = Path(scratch) / "stderr.txt"
        with stderr_path.open("w", encoding="utf-8") as stderr:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
            )
        simulator = Simulator(process, url="", stderr_path=stderr_path)
        try:
            simulator.url = _wait_for_url(process, start_timeout, stderr_path)
            yield simulator
        finally:
            simulator.stop()


def _wait_for_url(process: subprocess.Popen[str], timeout: float, stderr_path: Path) -> str:
    """Read stdout until the listening line (a thread, so the wait has a deadline)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)  # end of output: the process exited

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(f"the simulator did not start within {timeout} s") from None
    if line is None or not line.startswith(LISTENING):
        process.wait(5)
        raise RuntimeError(
            f"the simulator did not start (exit {process.returncode}, stdout {line!r}): "
            + stderr_path.read_text(encoding="utf-8", errors="replace")
        )
    return line.removeprefix(LISTENING).strip()


Box = tuple[float, float, float, float]  # south, west, north, east


def cover_with_tiles(
    ask_map: Callable[[Box], list[dict]], box: Box, split_at: int, calls: list[Box]
) -> dict[int, dict]:
    """What a client does to see every station despite thinning: ask for `box`, and split a
    tile that answered `split_at` items or more into quarters. Every tile asked goes into
    `calls`; the map items found, by uid."""
    calls.append(box)
    items = ask_map(box)
    if len(items) < split_at:
        return {item["uid"]: item for item in items}
    south, west, north, east = box
    mid_lat, mid_lng = (south + north) / 2, (west + east) / 2
    found: dict[int, dict] = {}
    for quarter in (
        (south, west, mid_lat, mid_lng),
        (south, mid_lng, mid_lat, east),
        (mid_lat, west, north, mid_lng),
        (mid_lat, mid_lng, north, east),
    ):
        found |= cover_with_tiles(ask_map, quarter, split_at, calls)
    return found
