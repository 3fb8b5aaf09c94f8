"""Deterministic noise: numbers in [0, 1) fixed by (seed, station, what, when), never by hash().

blake2b keeps them the same on every machine and Python version, so one --seed gives the same
world everywhere.
"""

from __future__ import annotations

import hashlib


def unit(seed: int, idx: int, what: str, when: int | str = 0) -> float:
    """A number in [0, 1) fixed by its arguments."""
    text = f"{seed}:{idx}:{what}:{when}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2.0**64
