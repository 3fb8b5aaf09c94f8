"""What every figure needs from the run: where to work, how often, which broker, names, a log."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.topics import Topics

# Every figure's simulator: a fixed latency per request, as the issue asks.
API_LATENCY_MS = 20
# aqi-stream's settings in every figure where WAQI's quota is off: its own limiter must be
# off too (far above what a 2-core machine can request), and enough requests in flight to
# hide 20 ms of latency.
WORKERS = 32
UNLIMITED_QUOTA = ("--quota", "6000000", "--burst", "10000")


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

    def log(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"[bench {elapsed:6.0f} s] {message}", file=sys.stderr, flush=True)
