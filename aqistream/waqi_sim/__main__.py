"""python -m aqistream.waqi_sim: run the WAQI simulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

import aqistream.waqi_sim as package
from aqistream.waqi_sim.api import WaqiApi
from aqistream.waqi_sim.catalogue import MAX_GENERATED, build_catalogue
from aqistream.waqi_sim.churn import Churn, newcomer_count, plan_churn
from aqistream.waqi_sim.clock import SimulatedClock
from aqistream.waqi_sim.faults import Faults, FaultSettings
from aqistream.waqi_sim.localtime import parse_instant
from aqistream.waqi_sim.publication import Publication
from aqistream.waqi_sim.quota import DEFAULT_BURST, DEFAULT_PER_MINUTE, Quota, QuotaSettings
from aqistream.waqi_sim.served import ServedRecord
from aqistream.waqi_sim.server import WaqiHttpServer, WaqiSimulator
from aqistream.waqi_sim.thinning import DEFAULT_MAP_CAP, MapCap
from aqistream.waqi_sim.world import World

DEFAULT_CHURN_HOURS = 24.0
REALISTIC_CHURN = 0.01


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aqistream.waqi_sim",
        description="A local WAQI API (api.waqi.info) for offline runs, tests and benchmarks. "
        "Prints one line, 'WAQI simulator listening on http://HOST:PORT', then serves until "
        "SIGINT or SIGTERM.",
        epilog=package.__doc__[package.__doc__.index("WAQI endpoints") :],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8765, help="port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="fixes stations and readings (0)")
    parser.add_argument(
        "--stations",
        type=_station_count,
        default=0,
        help=f"generated stations besides the Swiss 9 (0 to {MAX_GENERATED}; default 0)",
    )
    parser.add_argument(
        "--hour-seconds",
        type=_positive,
        default=3600.0,
        help="real seconds a simulated hour lasts (3600: real time; 5: fast)",
    )
    parser.add_argument(
        "--start",
        type=_instant,
        default=None,
        help="simulated time at start, ISO 8601 like 2026-11-23T13:20:00Z (default: now)",
    )
    parser.add_argument(
        "--quota",
        type=_non_negative,
        default=DEFAULT_PER_MINUTE,
        help="requests per simulated minute per token (1000); 0 turns the quota off",
    )
    parser.add_argument(
        "--burst", type=_at_least_one, default=DEFAULT_BURST, help="quota burst size (60)"
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="T",
        help="a valid token (repeatable); without any, every non-empty token is valid",
    )
    parser.add_argument("--latency-ms", type=_non_negative, default=0.0, help="added latency")
    parser.add_argument("--jitter-ms", type=_non_negative, default=0.0, help="latency +- this")
    parser.add_argument("--error-rate", type=_rate, default=0.0, help="share of 5xx answers")
    parser.add_argument(
        "--empty-rate", type=_rate, default=0.0, help="share of 200 answers with empty bodies"
    )
    parser.add_argument(
        "--nonjson-rate", type=_rate, default=0.0, help="share of 200 answers with HTML bodies"
    )
    parser.add_argument(
        "--map-cap",
        type=_count,
        default=DEFAULT_MAP_CAP,
        help=f"about the most stations one map/bounds answer lists ({DEFAULT_MAP_CAP}; "
        "it varies by up to 2 %%); 0: no thinning",
    )
    parser.add_argument(
        "--publication-lag",
        action="store_true",
        help="a reading appears only after its station's publication lag (official: 5 min "
        "to about 2 h; crowd: 30 s to 8 min); without it, at its observation time",
    )
    parser.add_argument(
        "--churn",
        type=_churn_share,
        default=None,
        metavar="F",
        help="share of the generated stations that vanish during the churn window, and of "
        "new ones that appear in it (0 to 0.5; default 0, or 0.01 with --realistic)",
    )
    parser.add_argument(
        "--churn-hours",
        type=_positive,
        default=DEFAULT_CHURN_HOURS,
        metavar="H",
        help=f"the churn window: H simulated hours from --start ({DEFAULT_CHURN_HOURS:g})",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="the real network's habits: --publication-lag and --churn 0.01",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="access log on stderr (tokens redacted)"
    )
    args = parser.parse_args(argv)
    if args.realistic:
        args.publication_lag = True
        if args.churn is None:
            args.churn = REALISTIC_CHURN
    if args.churn is None:
        args.churn = 0.0
    if args.stations + newcomer_count(args.stations, args.churn) > MAX_GENERATED:
        parser.error(
            f"--stations {args.stations} with --churn {args.churn:g} needs more than "
            f"{MAX_GENERATED} generated stations; lower one of them"
        )
    if args.error_rate + args.empty_rate + args.nonjson_rate > 1:
        parser.error("--error-rate + --empty-rate + --nonjson-rate must not exceed 1")
    return args


def build_simulator(args: argparse.Namespace) -> WaqiSimulator:
    start = args.start if args.start is not None else time.time()
    faults = FaultSettings(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        empty_rate=args.empty_rate,
        nonjson_rate=args.nonjson_rate,
    )
    return WaqiSimulator(
        api=build_api(args, start),
        clock=SimulatedClock(start, args.hour_seconds),
        quota=Quota(QuotaSettings(per_minute=args.quota, burst=args.burst)),
        faults=Faults(faults, args.seed),
        served=ServedRecord(),
        valid_tokens=frozenset(args.token),
        access_log=args.verbose,
    )


def build_api(args: argparse.Namespace, start: float) -> WaqiApi:
    """The stations (newcomers included), their readings, their churn and the map cap."""
    newcomers = newcomer_count(args.stations, args.churn)
    catalogue = build_catalogue(args.seed, args.stations + newcomers)
    first_generated = len(catalogue.stations) - args.stations - newcomers
    generated = catalogue.stations[first_generated:]
    lives = plan_churn(
        args.seed,
        incumbents=generated[: args.stations],
        newcomers=generated[args.stations :],
        start=start,
        window_seconds=args.churn_hours * 3600,
    )
    return WaqiApi(
        catalogue,
        World(args.seed, Publication(args.seed, lagged=args.publication_lag)),
        Churn(lives),
        MapCap(args.seed, args.map_cap),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C stops it even when it was started with SIGINT ignored (the background of a
    # script, a CI runner), as it does producer.py and consumer.py (aqistream/cli.py).
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        return serve(args)
    except KeyboardInterrupt:
        return 0


def serve(args: argparse.Namespace) -> int:
    simulator = build_simulator(args)
    try:
        server = WaqiHttpServer((args.host, args.port), simulator)
    except OSError as error:
        print(
            f"WAQI simulator: cannot listen on {args.host}:{args.port}: {error.strerror}",
            file=sys.stderr,
        )
        return 1
    try:
        print(f"WAQI simulator listening on http://{args.host}:{server.port}", flush=True)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # serve_forever unwinds and main() exits 0


def _typed(convert, check, message):  # noqa: ANN001, ANN202 (argparse type factories)
    def parse(text: str):  # noqa: ANN202
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {message}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {message}")
        return value

    return parse


_port = _typed(int, lambda v: 0 <= v <= 65535, "a port (0 to 65535)")
_station_count = _typed(int, lambda v: 0 <= v <= MAX_GENERATED, f"0 to {MAX_GENERATED}")
_positive = _typed(float, lambda v: v > 0, "a positive number")
_non_negative = _typed(float, lambda v: v >= 0, "a number >= 0")
_at_least_one = _typed(int, lambda v: v >= 1, "a whole number >= 1")
_count = _typed(int, lambda v: v >= 0, "a whole number >= 0")
_churn_share = _typed(float, lambda v: 0 <= v <= 0.5, "a share between 0 and 0.5")
_rate = _typed(float, lambda v: 0 <= v <= 1, "a rate between 0 and 1")
_instant = _typed(parse_instant, lambda v: True, "an ISO 8601 time like 2026-11-23T13:20:00Z")


if __name__ == "__main__":
    sys.exit(main())
