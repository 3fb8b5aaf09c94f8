"""Quix Streams alone: the engine's own cost per reading on this machine, for figure 8.

An Application configured as aggregator.py's is (exactly-once, the same checkpoint
interval), doing the least a stateful stream can: it decodes each reading's JSON, keeps one
number per station in its state (a count: a RocksDB transaction and a changelog record, as
each of aggregator.py's two state stores costs) and writes one small value per reading to an
output topic. Nothing of aqi-stream's runs in it, so what aggregator.py needs beyond this is
ours; and what this needs is a floor no aggregator on Quix Streams goes below here.

    python -m bench.quix_floor BOOTSTRAP TOPIC GROUP STATE_DIR

Runs until SIGTERM or SIGINT; the harness measures it as it does aggregator.py.
"""

from __future__ import annotations

import sys
import warnings

from aqistream.windows.app import COMMIT_INTERVAL_SECONDS
from bench.topics import PARTITIONS

with warnings.catch_warnings(record=True):
    from quixstreams import Application, State
    from quixstreams.models import TopicConfig


def count(value: dict, state: State) -> dict:
    seen = (state.get("seen") or 0) + 1
    state.set("seen", seen)
    return {"idx": value["station"]["idx"], "seen": seen}


def main(bootstrap: str, topic: str, group: str, state_dir: str) -> None:
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=COMMIT_INTERVAL_SECONDS,
        state_dir=state_dir,
        loglevel="WARNING",
    )
    readings = app.topic(topic, key_deserializer="bytes", value_deserializer="json")
    output = app.topic(
        f"{topic}.floor",
        key_serializer="bytes",
        value_serializer="json",
        config=TopicConfig(num_partitions=PARTITIONS, replication_factor=1),
    )
    app.dataframe(readings).apply(count, stateful=True).to_topic(output)
    app.run()


if __name__ == "__main__":
    main(*sys.argv[1:5])
