"""Micro benchmark: ValueCodec.decode per value, plain JSON against the registry's wire format.

    python -m bench.value_decode URL     (a schema registry, e.g. make registry-up's)

Registers the record's schema under a throw-away subject, then decodes the same reading
(simulator-like, about 1 KB) many times in each form; prints microseconds per value. Not a
FIGURE of bench/run.py: it writes nothing, and says what it measured.
"""

from __future__ import annotations

import sys
import time
import uuid

from aqistream.kafka.values import ValueCodec
from tests.test_values import RECORD

ROUNDS = 20_000


def per_value(decode, value: bytes, rounds: int = ROUNDS) -> float:
    """Microseconds per call, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            decode(value)
        best = min(best, (time.perf_counter() - started) / rounds)
    return best * 1e6


def main(argv: list[str]) -> int:
    url = argv[0]
    topic = f"bench_value_decode_{uuid.uuid4().hex[:8]}"
    plain, wire = ValueCodec({}), ValueCodec({"url": url})
    wire.register(topic)
    plain_value, wire_value = plain.encode(topic, RECORD), wire.encode(topic, RECORD)
    assert wire.decode(topic, wire_value).record == plain.decode(topic, plain_value).record
    print(f"plain JSON:  {per_value(lambda v: plain.decode(topic, v), plain_value):6.1f} µs")
    print(f"wire format: {per_value(lambda v: wire.decode(topic, v), wire_value):6.1f} µs")
    print(f"({len(plain_value)} bytes a value, best of 3 x {ROUNDS:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
