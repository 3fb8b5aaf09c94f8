#!/usr/bin/env python3
"""Poll WAQI for the stations in stations.txt and publish every new reading to Kafka, once.

    python producer.py [CONFIG] [--stations FILE] [--topic NAME] [--interval SECONDS] [--once]
                       [--metrics-port N] [--time-scale N]

Without --interval each station is fetched when its next reading is due (cadence-aware);
with it, every station every SECONDS.

The WAQI token is read from WAQI_TOKEN, in the environment or in .env. Exit codes: 0 done,
1 runtime failure, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from aqistream.cli import (
    ArgumentParser,
    add_loudness,
    fewer_malloc_arenas,
    number_at_least,
    stop_on_signals,
)
from aqistream.config import TOKEN_HELP, ConfigError, read_kafka_config, waqi_token
from aqistream.kafka.publish import Fenced, Publisher
from aqistream.logs import setup_logging
from aqistream.metrics import Metrics
from aqistream.poller import Poller
from aqistream.source.clock import ApiClock
from aqistream.source.ratelimit import RateLimiter
from aqistream.source.stations import AreaQuery, StationList, StationsError
from aqistream.source.waqi import DEFAULT_API_URL, InvalidToken, WaqiClient

log = logging.getLogger("aqistream.producer")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="producer.py",
        description="Publish every new WAQI air-quality reading to Kafka, exactly once.",
        epilog="The WAQI token is read from WAQI_TOKEN (environment or .env), never from "
        "the command line.",
    )
    parser.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="librdkafka settings ([default], [producer]); default config.ini when present, "
        "else localhost:9092",
    )
    parser.add_argument(
        "--stations",
        default="stations.txt",
        metavar="FILE",
        help="stations to poll, one per line (default stations.txt)",
    )
    parser.add_argument(
        "--topic", default="air_quality_index", help="Kafka topic (default air_quality_index)"
    )
    parser.add_argument(
        "--interval",
        type=number_at_least(0, float, exclusive=True),
        default=None,
        metavar="SECONDS",
        help="fetch every station every SECONDS, the fixed-interval way (default: each "
        "station when its next reading is due)",
    )
    parser.add_argument(
        "--once", action="store_true", help="run one full sweep, publish it, and exit"
    )
    parser.add_argument(
        "--api-url",
        default=os.environ.get("WAQI_API_URL", DEFAULT_API_URL),
        metavar="URL",
        help=f"WAQI API base URL (default $WAQI_API_URL or {DEFAULT_API_URL})",
    )
    parser.add_argument(
        "--quota",
        type=number_at_least(0, float, exclusive=True),
        default=1000.0,
        metavar="PER_MINUTE",
        help="API requests per minute, retries included (default 1000)",
    )
    parser.add_argument(
        "--burst",
        type=number_at_least(1, int),
        default=60,
        metavar="N",
        help="API requests allowed at once (default 60)",
    )
    parser.add_argument(
        "--workers",
        type=number_at_least(1, int),
        default=32,
        metavar="N",
        help="concurrent API requests (default 32; at most --burst minus 1)",
    )
    parser.add_argument(
        "--metrics-port",
        type=number_at_least(1, int),
        default=None,
        metavar="N",
        help="serve Prometheus metrics at http://HOST:N/metrics",
    )
    parser.add_argument(
        "--time-scale",
        type=number_at_least(0, float, exclusive=True),
        default=1.0,
        metavar="N",
        help="the API's clock runs N times as fast as real time (a simulator's fast clock; "
        "default 1); --quota and --interval stay in real time",
    )
    parser.add_argument(
        "--partitions",
        type=number_at_least(1, int),
        default=3,
        metavar="N",
        help="partitions of topics created here (default 3)",
    )
    parser.add_argument(
        "--replication-factor",
        type=number_at_least(1, int),
        default=None,
        metavar="N",
        help="replication factor of topics created here (default: the broker's)",
    )
    add_loudness(parser, "also one line per published reading (-vv: and librdkafka's log)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    fewer_malloc_arenas()  # before the fetch threads and librdkafka's start
    stop = threading.Event()
    stop_on_signals(stop, lambda name: log.info("%s: finishing the cycle, then exiting", name))
    try:
        token = waqi_token()
        config = read_kafka_config(args.config)
        setup_logging(-1 if args.quiet else args.verbose, secrets=[token, *config.secrets])
        if not args.api_url.startswith(("http://", "https://")):
            raise ConfigError(f"--api-url {args.api_url!r} is not an http:// or https:// URL")
        stations = StationList(args.stations, log)
        publisher = Publisher(config, args.topic, args.partitions, args.replication_factor or -1)
        metrics = Metrics(args.quota)
        if args.metrics_port is not None:
            serve_metrics(metrics, args.metrics_port)
        client = WaqiClient(
            token,
            args.api_url,
            RateLimiter.within_quota(args.quota, args.burst, args.workers),
            workers=args.workers,
            stop=stop,
            clock=ApiClock(args.time_scale),
            on_request=metrics.request,
        )
        poller = Poller(stations, client, publisher, args.workers, stop, metrics=metrics)
        log.info(
            "%s %s from %s %s; publishing to %s at %s",
            "polling" if args.interval or args.once else "following",
            what_is_listed(stations.current()),
            args.stations,
            f"every {args.interval:g} s" if args.interval else "each when its next reading is due",
            args.topic,
            config.bootstrap_servers,
        )
        return poller.run(args.interval, args.once)
    except (ConfigError, StationsError) as error:
        print(f"producer.py: {error}", file=sys.stderr)
        return 2
    except InvalidToken as error:
        print(
            f"producer.py: the WAQI API refused WAQI_TOKEN ({error}): {TOKEN_HELP} "
            "as WAQI_TOKEN=...",
            file=sys.stderr,
        )
        return 2
    except Fenced as error:
        print(f"producer.py: stopping: {error}", file=sys.stderr)
        return 1


def what_is_listed(lines: list) -> str:
    """'9 stations', 'world', '3 stations and 2 areas'."""
    areas = [line for line in lines if isinstance(line, AreaQuery)]
    stations = len(lines) - len(areas)
    parts = [f"{stations} stations"] if stations or not areas else []
    if len(areas) == 1:
        parts.append(areas[0].text if areas[0].text.lower() == "world" else "1 area")
    elif areas:
        parts.append(f"{len(areas)} areas")
    return " and ".join(parts)


def serve_metrics(metrics: Metrics, port: int) -> None:
    try:
        metrics.serve(port)
    except OSError as error:
        raise ConfigError(
            f"--metrics-port {port}: cannot listen there ({error.strerror}); choose a free port"
        ) from None
    log.info("Prometheus metrics at http://localhost:%d/metrics", port)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
