#!/usr/bin/env python3
"""Windowed air-quality figures from the readings in Kafka, exactly once (Quix Streams).

    python aggregator.py [CONFIG] [--topic NAME] [--grace DURATION] [-v|-q]

Reads <topic> and publishes <topic>.daily (per station and local day, with the US-EPA daily
AQI), <topic>.nowcast (the EPA NowCast on every reading) and <topic>.alerts (NowCast
category changes). Exit codes: 0 stopped, 1 runtime failure, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import sys

from aqistream.cli import ArgumentParser, add_loudness, duration_ms
from aqistream.config import ConfigError, read_kafka_config
from aqistream.logs import setup_logging
from aqistream.windows.app import (
    DEFAULT_GROUP,
    Aggregation,
    AggregatorOptions,
    Counts,
    RepeatFilter,
    Stopper,
    duration_text,
)

log = logging.getLogger("aqistream.aggregator")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="aggregator.py",
        description="Daily AQI, NowCast and alerts from the readings in Kafka, exactly once.",
    )
    parser.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="librdkafka settings ([default], [producer], [consumer]); default config.ini "
        "when present, else localhost:9092",
    )
    parser.add_argument(
        "--topic", default="air_quality_index", help="the readings' topic (default %(default)s)"
    )
    parser.add_argument(
        "--grace",
        type=duration_ms,
        default="3h",
        metavar="DURATION",
        help="how long after a local day ends its readings still count, e.g. 3h, 90m (default 3h)",
    )
    parser.add_argument(
        "--group",
        help=f"consumer group id (default: group.id in [consumer], else {DEFAULT_GROUP})",
    )
    parser.add_argument(
        "--state-dir",
        default="aggregator-state",
        metavar="DIR",
        help="where the windows' local state lives (a cache of Kafka's changelog topics; "
        "default %(default)s)",
    )
    add_loudness(parser, "also one line per closed day and per alert (-vv: and the Kafka log)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    setup_logging(-1 if args.quiet else args.verbose)
    quix = logging.getLogger("quixstreams")
    quix.setLevel(logging.DEBUG if args.verbose > 1 else logging.WARNING)
    quix.addFilter(RepeatFilter())
    stopper = Stopper()
    stopper.install()
    counts = Counts()
    options = AggregatorOptions(args.topic, args.grace, args.group, args.state_dir)
    try:
        config = read_kafka_config(args.config)
        # The registry's credentials, once config.ini has named them, never in a line.
        setup_logging(-1 if args.quiet else args.verbose, config.secrets)
        aggregation = Aggregation(config, options, counts)
        aggregation.check_settings()
        log.info(
            "aggregating %s at %s as group %s; grace %s",
            args.topic,
            config.bootstrap_servers,
            aggregation.group,
            duration_text(args.grace),
        )
        aggregation.run(stopper)
    except ConfigError as error:
        print(f"aggregator.py: {error}", file=sys.stderr)
        return 2
    log.info(counts.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
