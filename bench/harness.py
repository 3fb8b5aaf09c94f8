"""What every figure needs from the run: where to work, how often, which broker, names, a log,
and producer.py and consumer.py started the same way in every figure."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import Process, python_script, script_env
from bench.topics import Topics

# Every figure's simulator: a fixed latency per request, as the issue asks.
API_LATENCY_MS = 20
# aqi-stream's settings in every figure where WAQI's quota is off: its own limiter must be
# off too (far above what a 2-core machine can request), and enough requests in flight to
# hide 20 ms of latency.
WORKERS = 32
UNLIMITED_QUOTA = ("--quota", "6000000", "--burst", "10000")


def alternating(names: Iterable[str], run: int) -> list[str]:
    """`names` in order on even runs, reversed on odd ones, so none always goes first."""
    ordered = list(names)
    return ordered if run % 2 == 0 else ordered[::-1]


@dataclass
class Harness:
    workdir: Path
    bootstrap_servers: str
    runs: int  # repetitions of each measurement (the figures are medians over them)
    quick: bool  # smaller sizes, for trying the harness out; never for RESULTS.md
    topics: Topics
    started: float = field(default_factory=time.perf_counter)

    @property
    def config_file(self) -> Path:
        """A config.ini for the scripts, so a config.ini in the repo never leaks in."""
        path = self.workdir / "config.ini"
        if not path.exists():
            path.write_text(f"[default]\nbootstrap.servers={self.bootstrap_servers}\n")
        return path

    def producer_args(self, stations: Path, topic: str, api_url: str, *options: str) -> list[str]:
        """producer.py's arguments in every figure: `stations` into `topic`, WORKERS at a time."""
        return [
            str(self.config_file), "--stations", str(stations), "--topic", topic,
            "--api-url", api_url, "--workers", str(WORKERS), *options,
        ]  # fmt: skip

    def start_producer(self, stations: Path, topic: str, api_url: str, *options: str) -> Process:
        """producer.py running, its log (stderr) piped here."""
        return Process(
            python_script("producer.py", *self.producer_args(stations, topic, api_url, *options)),
            name="producer.py",
            env=script_env(api_url),
            cwd=self.workdir,
            stderr=subprocess.PIPE,
        )

    def consumer_command(self, topic: str, group: str, form: str, *options: str) -> list[str]:
        """consumer.py reading `topic` from the beginning as `group`, in format `form`."""
        return python_script(
            "consumer.py", str(self.config_file), "--topic", topic, "--group", group,
            "--from-beginning", "--format", form, *options,
        )  # fmt: skip

    def log(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"[bench {elapsed:6.0f} s] {message}", file=sys.stderr, flush=True)
