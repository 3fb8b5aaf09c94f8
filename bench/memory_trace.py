"""Run producer.py under tracemalloc and say where its memory is when a cycle's fetches end.

    python -m bench.memory_trace OUT.json PRODUCER_ARGS...

The end of the fetch phase is when a cycle holds the most: each answer is turned into a
record as it arrives, and every new record waits there for the cycle's transaction. The
largest allocation sites alive at that moment (file and line) go to OUT.json. Diagnosis
only: tracemalloc makes the producer several times slower and bigger, so its figures are
not the benchmark's.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
import tracemalloc
from collections.abc import Iterator

from aqistream import poller
from bench.processes import ROOT

TOP = 8


def main(argv: list[str]) -> None:
    out, producer_args = argv[0], argv[1:]
    fetch_concurrently = poller.fetch_concurrently

    def fetch_and_trace(*args: object, **kwargs: object) -> Iterator[poller.Fetched]:
        # poller.fetch_concurrently yields each answer as it arrives: pass them on, and
        # trace once the last one has been taken.
        fetched = 0
        for result in fetch_concurrently(*args, **kwargs):
            fetched += 1
            yield result
        snapshot = tracemalloc.take_snapshot()
        traced = tracemalloc.get_traced_memory()[0]
        sites = snapshot.statistics("lineno")[:TOP]
        with open(out, "w") as report:
            json.dump(
                {
                    "stations_fetched": fetched,
                    "traced_mb": traced / 1e6,
                    "sites": [
                        {
                            "file": short_path(site.traceback[0].filename),
                            "line": site.traceback[0].lineno,
                            "mb": site.size / 1e6,
                            "blocks": site.count,
                        }
                        for site in sites
                    ],
                },
                report,
            )

    poller.fetch_concurrently = fetch_and_trace
    tracemalloc.start()
    sys.argv = [str(ROOT / "producer.py"), *producer_args]
    runpy.run_path(str(ROOT / "producer.py"), run_name="__main__")


def short_path(filename: str) -> str:
    """The repo's files from its root, libraries from their package, the stdlib from Lib."""
    for prefix in ("site-packages/", str(ROOT) + "/"):
        if prefix in filename:
            return filename.split(prefix, 1)[1]
    return re.sub(r".*/lib/python3\.\d+/", "", filename)


if __name__ == "__main__":
    main(sys.argv[1:])
