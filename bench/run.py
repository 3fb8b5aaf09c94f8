"""Run the benchmarks and write bench/results.json and bench/RESULTS.md.

    python -m bench.run [--runs N] [--only FIGURE ...] [--quick] [--out DIR]
    python -m bench.run --only FIGURE ... --merge   # these figures again, the rest kept
    python -m bench.run --report-only      # RESULTS.md again from results.json

A run that writes to bench/ (not --quick) also rewrites the headline the README quotes.

Needs a Kafka broker (`make bench` starts one unless one answers at localhost:9092); starts
its own WAQI simulators. The whole set takes hours (the network figure alone a simulated
day); --merge measures the figures of --only again and keeps the recorded others, each figure
labelled in RESULTS.md with the run that measured it. --quick (fewer stations and hours, for
trying the harness out) writes to a temporary directory unless --out says otherwise, never
over the recorded results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka.admin import AdminClient

from bench import (
    aggregator_figure,
    consumer_throughput,
    cost,
    cycle_throughput,
    latency,
    machine,
    network,
    profiles,
    quota_efficiency,
    report,
    store_throughput,
)
from bench.harness import Harness
from bench.topics import Topics

BENCH_DIR = Path(__file__).resolve().parent
FIGURES = {
    "cycle": cycle_throughput.measure,
    "latency": latency.measure,
    "consumer": consumer_throughput.measure,
    "quota": quota_efficiency.measure,
    "network": network.measure,
    "store": store_throughput.measure,
    "aggregator": aggregator_figure.measure,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each figure (5)")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(FIGURES), default=None, help="run only these figures"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the recorded figures that --only does not measure, each with its own run",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the harness")
    parser.add_argument("--no-profile", action="store_true", help="skip profiling missed targets")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default bench/)")
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: judge the targets and write RESULTS.md again from the "
        "results.json in --out",
    )
    return parser.parse_args(argv)


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every `with` block stops what it started."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def check_broker(bootstrap_servers: str) -> None:
    try:
        AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=15)
    except Exception as error:  # noqa: BLE001 (any failure means the same to the user)
        raise SystemExit(
            f"bench: no Kafka broker answers at {bootstrap_servers} ({error}); "
            "`make bench` starts one"
        ) from None


def write_reports(out: Path, results: dict) -> None:
    """RESULTS.md in `out`; and the README's headline when these are the recorded results."""
    (out / "RESULTS.md").write_text(report.markdown(results))
    if out.resolve() == BENCH_DIR and not results["quick"]:
        readme = BENCH_DIR.parent / "README.md"
        readme.write_text(report.readme_with_headline(readme.read_text(), results))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.merge and (args.quick or not args.only):
        raise SystemExit("bench: --merge needs --only FIGURE ... and is not for --quick runs")
    if args.report_only:
        out = args.out or BENCH_DIR
        results = json.loads((out / "results.json").read_text())
        results["targets"] = report.targets(results["figures"])  # as the report defines them
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_reports(out, results)
        return 0
    stop_on_sigterm()
    check_broker(args.bootstrap_servers)
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="aqi-bench-quick-")) if args.quick else BENCH_DIR
    )
    workdir = Path(tempfile.mkdtemp(prefix="aqi-bench-"))
    topics = Topics(args.bootstrap_servers)
    harness = Harness(workdir, args.bootstrap_servers, args.runs, args.quick, topics)
    started = time.perf_counter()
    results: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "make bench" if argv == [] else "python -m bench.run " + " ".join(argv),
        "machine": machine.describe(args.bootstrap_servers),
        "runs": args.runs,
        "quick": args.quick,
        "commit": machine.commit(),
        "figures": {},
    }
    succeeded = False
    try:
        for name in args.only or FIGURES:
            harness.log(f"figure {name}: starting")
            results["figures"][name] = FIGURES[name](harness)
        if "cycle" in results["figures"]:
            results["figures"]["cost"] = cost.derive(results["figures"]["cycle"])
        measured = report.targets(results["figures"])
        missed = [target for target in measured if target["met"] is False]
        if missed and not args.no_profile:
            results["profiles"] = profiles.diagnose(harness, missed)
        results["wall_seconds"] = time.perf_counter() - started
        if args.merge:
            results = report.merged(json.loads((out / "results.json").read_text()), results)
        results["targets"] = report.targets(results["figures"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_reports(out, results)
        harness.log(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
        succeeded = True
    except KeyboardInterrupt:
        harness.log("interrupted: stopping what was started")
        return 130
    finally:
        topics.delete_everything()
        if succeeded:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            harness.log(f"the logs of the failed run are in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
