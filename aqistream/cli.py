"""What producer.py and consumer.py share on the command line: one-line usage errors, signals."""

from __future__ import annotations

import argparse
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
