"""What the scripts share as processes."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from aqistream.cli import duration_ms

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "ms"),
    [("3h", 10_800_000), ("90m", 5_400_000), ("45s", 45_000), ("1d", 86_400_000),
     ("2h30m", 9_000_000), ("0.5h", 1_800_000), (" 3H ", 10_800_000), ("0s", 0)],
)  # fmt: skip
def test_durations(text, ms):
    assert duration_ms(text) == ms


@pytest.mark.parametrize("text", ["3", "h", "", "3 hours", "-1h", "3h3", "1w"])
def test_what_is_not_a_duration(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is not a duration"):
        duration_ms(text)


# Twelve threads allocating at once, then glibc's own count of its arenas (malloc_info).
ARENAS = """
import ctypes, sys, threading
from aqistream.cli import fewer_malloc_arenas
capped = sys.argv[1] == "capped" and fewer_malloc_arenas()
together = threading.Barrier(12)
def work():
    kept = [bytearray(4000) for _ in range(100)]
    together.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.open_memstream.restype = ctypes.c_void_p
text, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = ctypes.c_void_p(libc.open_memstream(ctypes.byref(text), ctypes.byref(size)))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(capped, ctypes.string_at(text, size.value).count(b"<heap nr="))
"""


def arenas(mode: str) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", ARENAS, mode], cwd=ROOT, capture_output=True, text=True, check=True
    )
    capped, count = done.stdout.split()
    return capped, int(count)


def test_malloc_arenas_are_capped_where_threads_would_each_get_one():
    assert arenas("capped") == ("True", 2)
    capped, count = arenas("free")
    assert capped == "False" and count > 2  # what the cap saves: an arena a thread
