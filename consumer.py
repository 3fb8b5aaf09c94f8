#!/usr/bin/env python3
"""Print air-quality readings as they arrive in Kafka (or aggregator.py's daily figures,
NowCasts and alerts, from <topic>.daily, <topic>.nowcast and <topic>.alerts), or store
them in a database.

    python consumer.py [CONFIG] [--format pretty|json] [--from-beginning] [--snapshot]
    python consumer.py [CONFIG] --store [URL] [--from-beginning]

Exit codes: 0 done (stopped, --max-records or --idle-timeout reached), 1 runtime failure,
2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from confluent_kafka import KafkaException

from aqistream.cli import ArgumentParser, add_loudness, number_at_least, stop_on_signals
from aqistream.config import ConfigError, KafkaConfig, read_kafka_config
from aqistream.kafka.consume import ConsumerOptions, Output, ReadingConsumer
from aqistream.logs import redact, setup_logging
from aqistream.store import open_store
from aqistream.store.sink import DEFAULT_GROUP as STORE_GROUP
from aqistream.store.sink import StoreOptions, StoringConsumer
from aqistream.store.url import DEFAULT_STORE, FORMS, StoreUrl, parse_store_url
from aqistream.windows.outputs import output_kind

log = logging.getLogger("aqistream.consumer")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="consumer.py", description="Print air-quality readings as they arrive in Kafka."
    )
    parser.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="librdkafka settings ([default], [consumer]); default config.ini when present, "
        "else localhost:9092",
    )
    parser.add_argument("--topic", default="air_quality_index", help="(default %(default)s)")
    parser.add_argument(
        "--group",
        help="consumer group id (default: group.id in [consumer], else aqi-stream-consumer; "
        f"with --store, {STORE_GROUP})",
    )
    parser.add_argument(
        "--store",
        nargs="?",
        const=DEFAULT_STORE,
        metavar="URL",
        help="store every record (readings, or aggregator.py's .daily, .nowcast, .alerts) in a "
        f"database instead of printing it: {FORMS} (default {DEFAULT_STORE})",
    )
    parser.add_argument(
        "--from-beginning", action="store_true", help="start from the earliest reading"
    )
    parser.add_argument(
        "--format",
        choices=("pretty", "json"),
        help="pretty (the default): one aligned line per reading; json: one JSON record per line",
    )
    parser.add_argument(
        "--station",
        action="append",
        default=[],
        metavar="IDX_OR_NAME",
        help="only this station (idx, name or part of it; repeatable)",
    )
    parser.add_argument(
        "--min-aqi", type=number_at_least(0, int), metavar="N", help="only readings with AQI >= N"
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="first print each station's current reading, then stream",
    )
    parser.add_argument(
        "--max-records", type=number_at_least(1, int), metavar="N", help="exit after N records"
    )
    parser.add_argument(
        "--idle-timeout",
        type=number_at_least(0, float, exclusive=True),
        metavar="SECONDS",
        help="exit after this long with nothing new",
    )
    add_loudness(parser, "more on stderr")
    args = parser.parse_args(argv)
    kind = output_kind(args.topic)
    if kind is not None and args.snapshot:
        parser.error(
            f"--snapshot shows each station's current reading; {args.topic} holds "
            f"{kind.kind} records (read {args.topic.removesuffix(kind.suffix)} for readings)"
        )
    if args.store is not None:
        for option, given in (
            ("--format", args.format),
            ("--snapshot", args.snapshot),
            ("--min-aqi", args.min_aqi),
        ):
            if given not in (None, False):
                parser.error(f"{option} is for printing; --store keeps every reading")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    url = None
    if args.store is not None:
        try:
            url = parse_store_url(args.store)
        except ConfigError as error:
            print(f"consumer.py: {error}", file=sys.stderr)
            return 2
    secrets = url.secrets if url is not None else ()
    setup_logging(-1 if args.quiet else args.verbose, secrets)
    stop = threading.Event()
    stop_on_signals(stop, lambda signal_name: log.info("%s: stopping", signal_name))
    try:
        config = read_kafka_config(args.config)
        # The registry's credentials too, once config.ini has named them.
        setup_logging(-1 if args.quiet else args.verbose, [*secrets, *config.secrets])
        if url is not None:
            store(args, config, url, stop)
        else:
            print_readings(args, config, stop)
    except ConfigError as error:
        print(f"consumer.py: {redact(str(error), secrets)}", file=sys.stderr)
        return 2
    except KafkaException as error:
        print(f"consumer.py: Kafka failed: {error.args[0].str()}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Piped into `head` and the like: the reader has gone, which is not an error.
        # (stdout now points nowhere, so Python's own flush at exit has nothing to complain of.)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def print_readings(args: argparse.Namespace, config: KafkaConfig, stop: threading.Event) -> None:
    options = ConsumerOptions(
        topic=args.topic,
        group=args.group,
        from_beginning=args.from_beginning,
        format=args.format or "pretty",
        stations=args.station,
        min_aqi=args.min_aqi,
        snapshot=args.snapshot,
        max_records=args.max_records,
        idle_timeout=args.idle_timeout,
        # https://no-color.org: any non-empty NO_COLOR turns colour off.
        colour=sys.stdout.isatty() and not os.environ.get("NO_COLOR"),
        header=sys.stdout.isatty(),
    )
    consumer = ReadingConsumer(config, options, Output(sys.stdout.buffer, options), stop)
    log.info(
        "reading %s at %s as group %s%s",
        args.topic,
        config.bootstrap_servers,
        consumer.group,
        f", schemas from {consumer.values.url}" if consumer.values.uses_registry else "",
    )
    counts = consumer.run()
    kind = output_kind(args.topic)
    noun = "readings" if kind is None else f"{kind.kind} records"
    log.info("%d %s printed, %d invalid records skipped", counts.printed, noun, counts.invalid)


def store(
    args: argparse.Namespace, config: KafkaConfig, url: StoreUrl, stop: threading.Event
) -> None:
    """--store: every committed reading into the database, exactly once."""
    options = StoreOptions(
        topic=args.topic,
        group=args.group,
        from_beginning=args.from_beginning,
        stations=args.station,
        max_records=args.max_records,
        idle_timeout=args.idle_timeout,
    )
    consumer = StoringConsumer(config, options, open_store(url), stop)
    progress = consumer.run()
    log.info(progress.summary(consumer.clock()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
