"""What the scripts share as processes: one-line usage errors, signals, the allocator."""

from __future__ import annotations

import argparse
import ctypes
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit 2), not usage + error."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def add_loudness(parser: argparse.ArgumentParser, verbose_help: str) -> None:
    """-v (repeatable) and -q, which exclude each other."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
    loudness.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")


def number_at_least(minimum: float, kind: type = float, exclusive: bool = False) -> Callable:
    """An argparse type: a number of `kind`, at least (or above) `minimum`."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum or (exclusive and value == minimum):
            bound = "greater than" if exclusive else "at least"
            raise argparse.ArgumentTypeError(f"{text} must be {bound} {minimum:g}")
        return value

    return parse


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}


def duration_ms(text: str) -> int:
    """An argparse type: '3h', '90m', '45s', '1d', '2h30m' as milliseconds."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: write a number and a unit, like 3h, 90m, 45s or 1d"
        )
    return round(sum(float(number) * _UNIT_MS[unit] for number, unit in parts))


def stop_on_signals(stop: threading.Event, on_first: Callable[[str], None] = lambda name: None):
    """SIGINT and SIGTERM set `stop`; the loop that watches it ends cleanly."""

    def handle(signum: int, frame) -> None:
        if not stop.is_set():
            on_first(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


M_ARENA_MAX = -8  # glibc's mallopt parameter


def fewer_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas; whether it was done (False where libc is not glibc).

    glibc gives each new thread an arena of its own while there are fewer than 8 per core,
    and over a long run every arena keeps fragments of its own: the producer's fetch
    threads and librdkafka's made its memory grow with the hours. They mostly wait on
    sockets, so two arenas are enough. Call it before any thread starts.
    """
    try:
        return ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas) == 1
    except (OSError, AttributeError):
        return False
