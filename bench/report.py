"""RESULTS.md from results.json: every number in it comes from the run that wrote it."""

from __future__ import annotations

from aqistream.source.ratelimit import RATE_SHARE
from bench import (
    aggregator_figure,
    consumer_throughput,
    cost,
    cycle_throughput,
    latency,
    network,
    profiles,
    quota_efficiency,
    store_throughput,
)

# (id, what the issue asks, figure path, comparison, threshold, unit)
TARGETS = (
    ("cycle_ratio", "Cycle throughput at 1,000 stations at least 20 times the baseline's",
     ("cycle", "sizes", "1000", "ratio"), ">=", 20, "x"),
    ("cycle_seconds", "A 1,000-station cycle published in under 3 s with 20 ms API latency",
     ("cycle", "sizes", "1000", "aqi_stream", "cycle_seconds"), "<", 3, "s"),
    ("consumer_json", "Consumer at least 50,000 records/s in json format",
     ("consumer", "formats", "json", "rate"), ">=", 50_000, "/s"),
    ("consumer_pretty", "Consumer at least 20,000 records/s in pretty format",
     ("consumer", "formats", "pretty", "rate"), ">=", 20_000, "/s"),
    ("latency_p99", "End-to-end p99 under 1 s at 1,000 stations",
     ("latency", "p99"), "<", 1, "s"),
    ("producer_rss", "Producer peak RSS under 150 MB with 10,000 stations",
     ("cost", "sizes", "10000", "aqi_stream", "peak_rss_mb"), "<", 150, "MB"),
    ("network_coverage", "The whole network (world, 30,000 stations): coverage at least 99.5 %",
     ("network", "approaches", "world", "coverage_percent"), ">=", 99.5, "%"),
    ("network_median", "The whole network: median freshness under 3 minutes (the whole day)",
     ("network", "approaches", "world", "freshness_minutes", "p50"), "<", 3, "min"),
    ("network_p99", "The whole network: p99 freshness under 20 minutes (the whole day)",
     ("network", "approaches", "world", "freshness_minutes", "p99"), "<", 20, "min"),
    ("network_requests", "The whole network: at most 1.3 API requests per published reading",
     ("network", "approaches", "world", "requests_per_reading"), "<=", 1.3, ""),
    ("network_over_quota", "The whole network: 0 over-quota answers",
     ("network", "approaches", "world", "over_quota"), "<=", 0, ""),
    ("network_rss", "The whole network: producer peak RSS under 250 MB",
     ("network", "approaches", "world", "producer_peak_rss_mb"), "<", 250, "MB"),
    ("store_sqlite", "Backfill of 1,000,000 records into SQLite at least 30,000 rows/s",
     ("store", "dialects", "sqlite", "rate"), ">=", 30_000, "rows/s"),
    ("store_postgresql", "Backfill of 1,000,000 records into PostgreSQL at least 30,000 rows/s",
     ("store", "dialects", "postgresql", "rate"), ">=", 30_000, "rows/s"),
    ("store_sqlite_ratio", "Backfill into SQLite at least 20 times the naive sink's rate",
     ("store", "dialects", "sqlite", "ratio"), ">=", 20, "x"),
    ("store_postgresql_ratio", "Backfill into PostgreSQL at least 20 times the naive sink's rate",
     ("store", "dialects", "postgresql", "ratio"), ">=", 20, "x"),
    ("aggregator_rate", "aggregator.py at least 20,000 input records/s (1,000,000 records, "
     "1,000 stations, start-up included)", ("aggregator", "rate"), ">=", 20_000, "/s"),
    ("aggregator_delay_p99", "aggregator.py: a NowCast committed under 2 s (p99) after its "
     "reading's commit", ("aggregator", "delay", "p99"), "<", 2, "s"),
)  # fmt: skip

STAGES = {
    "served_to_produced": (
        "served -> produced",
        "a reading waits for the rest of its cycle's fetches: the cycle publishes one "
        "transaction once all its stations have answered (aqistream/poller.py, "
        "Poller.run_cycle then publish_waiting), so a reading fetched early in a cycle waits "
        "for nearly all of it",
    ),
    "produced_to_visible": (
        "produced -> visible",
        "the transaction's commit (aqistream/kafka/publish.py, Publisher.publish)",
    ),
    "visible_to_printed": (
        "visible -> printed",
        "consumer.py, from Kafka to stdout: aqistream/kafka/consume.py ReadingConsumer.run takes "
        "whatever has arrived without waiting (up to 500 records), and only when nothing has "
        "does it wait, for the next record alone, so a record is printed once it is fetched",
    ),
}


def lookup(figures: dict, path: tuple[str, ...]) -> dict | None:
    value = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def targets(figures: dict) -> list[dict]:
    checked = []
    for target_id, text, path, comparison, threshold, unit in TARGETS:
        summary = lookup(figures, path)
        if isinstance(summary, int | float):  # a figure of one run: its value
            summary = {"median": summary, "min": summary, "max": summary, "runs": 1}
        median = summary["median"] if summary else None
        met = None
        if median is not None:
            met = {">=": median >= threshold, "<": median < threshold, "<=": median <= threshold}[
                comparison
            ]
        checked.append(
            {
                "id": target_id,
                "target": text,
                "threshold": threshold,
                "unit": unit,
                "measured": summary,
                "met": met,
            }
        )
    return checked


def provenance(results: dict) -> dict:
    """What a figure's run was: the command, when, on which commit, how loaded."""
    return {
        "command": results["command"],
        "date": results["date"],
        "commit": results.get("commit", "unknown"),
        "runs": results["runs"],
        "wall_seconds": results.get("wall_seconds", 0),
        "load_average_at_start": results["machine"]["load_average_at_start"],
        "confluent_kafka": results["machine"]["confluent_kafka"],
    }


def sources(results: dict) -> dict[str, dict]:
    """Each figure's run; results written by one run name it for every figure."""
    if "sources" in results:
        return results["sources"]
    return {name: provenance(results) for name in results["figures"]}


def merged(recorded: dict, run: dict) -> dict:
    """The recorded results with this run's figures in place of theirs, the others kept, and
    each figure's source: a figure of hours need not be measured again with the rest."""
    return {
        **run,
        "figures": {**recorded["figures"], **run["figures"]},
        "sources": {**sources(recorded), **{name: provenance(run) for name in run["figures"]}},
        "profiles": {**recorded.get("profiles", {}), **run.get("profiles", {})},
    }


# ------------------------------------------------------------------ formatting


def number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def spread(summary: dict | None, digits: int = 0, unit: str = "") -> str:
    """'1,020 (980 to 1,050)': the median, then min to max."""
    if not summary:
        return "not measured"
    median, low, high = (number(summary[k], digits) for k in ("median", "min", "max"))
    if summary.get("runs", 2) == 1:
        return f"{median}{unit} (1 run)"
    return f"{median}{unit} ({low} to {high})"


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def docstring(module) -> str:  # noqa: ANN001 (a module)
    """A figure module's description of its method, as prose."""
    paragraphs = module.__doc__.strip().split("\n\n")[1:]
    return "\n\n".join(" ".join(p.split()) if not p.startswith("  ") else p for p in paragraphs)


# ------------------------------------------------------------------ sections


def markdown(results: dict) -> str:
    figures = results["figures"]
    parts = [header(results), headline(figures), machine(results), runs_section(results)]
    parts.append(targets_section(results))
    if "cycle" in figures:
        parts.append(cycle_section(figures["cycle"]))
    if "latency" in figures:
        parts.append(latency_section(figures["latency"]))
    if "consumer" in figures:
        parts.append(consumer_section(figures["consumer"]))
    if "cost" in figures:
        parts.append(cost_section(figures["cost"]))
    if "quota" in figures:
        parts.append(quota_section(figures["quota"]))
    if "network" in figures:
        parts.append(network_section(figures["network"]))
    if "store" in figures:
        parts.append(store_section(figures["store"]))
    if "aggregator" in figures:
        parts.append(aggregator_section(figures["aggregator"]))
    parts.append(limits_section(results))
    return "\n".join(parts)


def header(results: dict) -> str:
    quick = (
        "\n**A --quick run: smaller sizes and fewer hours than the issue asks; not the "
        "recorded results.**\n"
        if results["quick"]
        else ""
    )
    return (
        "# aqi-stream benchmarks\n\n"
        f"Written by `{results['command']}` on {results['date']}; every figure's own run is in "
        "the table of runs below. Do not edit: run it again. "
        "Every run's raw figures are in [results.json](results.json).\n"
        f"{quick}\n"
        "Each figure is the median of its run's repetitions, with the smallest and largest "
        "in brackets, unless it says otherwise. Every ratio pairs aqi-stream and the baseline "
        "measured back to back in the same run. The baseline, "
        "[baseline_naive.py](baseline_naive.py), is the original project's approach: one "
        "`requests.get` after another with a new connection each, then produce and flush per "
        "reading. The WAQI simulator answers every request after 20 ms, with its quota off "
        "unless stated. The machine is shared: the figures are ratios and medians measured in "
        "one run, not absolutes to compare across machines.\n"
    )


def runs_section(results: dict) -> str:
    rows = []
    for name, run in sources(results).items():
        minutes, seconds = divmod(round(run["wall_seconds"]), 60)
        rows.append(
            [
                name,
                f"`{run['command']}`",
                run["date"],
                run["commit"],
                str(run["runs"]),
                f"{minutes} min {seconds} s",
                ", ".join(map(str, run["load_average_at_start"])),
                run["confluent_kafka"],
            ]
        )
    header = ["Figure", "Run", "Date", "Commit", "Repetitions", "Run's wall time",
              "Load at start", "confluent-kafka"]  # fmt: skip
    return "## Runs\n\n" + table(header, rows)


README_START = "<!-- benchmark headline: written by make bench, from bench/results.json -->"
README_END = "<!-- end of benchmark headline -->"


def headline(figures: dict) -> str:
    return "## Headline\n\n" + "\n".join(headline_items(figures)) + "\n"


def readme_with_headline(readme: str, results: dict) -> str:
    """The README with the text between its benchmark markers replaced by this run's
    headline, so the figures it quotes are the run's, never typed by hand."""
    try:
        start = readme.index(README_START) + len(README_START)
        end = readme.index(README_END, start)
    except ValueError:
        raise ValueError(f"README.md lacks the markers {README_START} ... {README_END}") from None
    block = [
        "",
        f"From {headline_source(results)} (medians; the rest in "
        "[bench/RESULTS.md](bench/RESULTS.md)):",
        "",
        *headline_items(results["figures"]),
        "",
    ]
    return readme[:start] + "\n".join(block) + readme[end:]


def headline_source(results: dict) -> str:
    runs = {(run["command"], run["date"][:10]) for run in sources(results).values()}
    if len(runs) == 1:
        ((command, day),) = runs
        return f"`{command}` on {day}"
    days = sorted(day for _, day in runs)
    return f"{len(runs)} runs of `make bench` from {days[0]} to {days[-1]}"


def headline_items(figures: dict) -> list[str]:
    lines = []
    cycle = lookup(figures, ("cycle", "sizes", "1000"))
    if cycle:
        lines.append(
            f"- **{number(cycle['ratio']['median'], 1)} times the baseline's cycle throughput "
            f"at 1,000 stations**: {number(cycle['aqi_stream']['rate']['median'])} readings/s "
            f"against {number(cycle['baseline']['rate']['median'])}; a 1,000-station cycle "
            f"in {number(cycle['aqi_stream']['cycle_seconds']['median'], 2)} s against "
            f"{number(cycle['baseline']['cycle_seconds']['median'], 1)} s."
        )
    big = lookup(figures, ("cycle", "sizes", "10000"))
    if big:
        lines.append(
            f"- At 10,000 stations: {number(big['ratio']['median'], 1)} times the baseline "
            f"({number(big['aqi_stream']['rate']['median'])} readings/s)."
        )
    if "latency" in figures:
        lat = figures["latency"]
        lines.append(
            f"- End to end, 1,000 stations: p50 {number(lat['p50']['median'], 2)} s, "
            f"p99 {number(lat['p99']['median'], 2)} s."
        )
    if "consumer" in figures:
        formats = figures["consumer"]["formats"]
        lines.append(
            f"- consumer.py: {number(formats['json']['rate']['median'])} records/s as json, "
            f"{number(formats['pretty']['rate']['median'])} pretty."
        )
    rss = lookup(figures, ("cost", "sizes", "10000", "aqi_stream", "peak_rss_mb"))
    if rss:
        lines.append(f"- Producer peak RSS with 10,000 stations: {number(rss['median'])} MB.")
    if "quota" in figures:
        quota = figures["quota"]
        fixed = quota.get("fixed_requests_per_reading")
        lines.append(
            f"- {number(quota['requests_per_reading']['median'], 1)} API requests per "
            f"published reading over a simulated day"
            + (
                f" with 1,000 listed stations, cadence-aware ("
                f"{number(fixed['median'], 1)} at a fixed `--interval 600`)"
                if fixed
                else ""
            )
            + f", {quota['over_quota']} over quota."
        )
    world = lookup(figures, ("network", "approaches", "world"))
    if world:
        whole = world["freshness_minutes"] or {}
        settled = world["freshness_after_first_hour_minutes"] or {}
        fixed = lookup(figures, ("network", "approaches", "fixed_600")) or {}
        fixed_settled = fixed.get("freshness_after_first_hour_minutes") or {}
        lines.append(
            f"- **The whole network** ({number(figures['network']['stations'])} simulated "
            f"stations, `world`, {world['simulated_hours']} simulated hours at WAQI's quota): "
            "coverage "
            f"{number(world['coverage_percent'], 2)} %, freshness over the whole day p50 "
            f"{number(whole.get('p50', 0), 1)} min and p99 {number(whole.get('p99', 0), 1)} "
            f"min (after the first hour's first sweep: p50 {number(settled.get('p50', 0), 1)}, "
            f"p99 {number(settled.get('p99', 0), 1)}), "
            f"{number(world['requests_per_reading'], 2)} API requests per published "
            f"reading, {world['over_quota']} over quota"
            + (
                f"; every station listed at `--interval 600`: coverage "
                f"{number(fixed['coverage_percent'], 2)} %, p50 "
                f"{number(fixed_settled.get('p50', 0), 1)} min."
                if fixed
                else "."
            )
        )
    if "store" in figures:
        store = figures["store"]["dialects"]
        lines.append(
            f"- consumer.py --store, a backfill of {number(figures['store']['records'])} "
            f"records, start-up included: {number(store['sqlite']['rate']['median'])} rows/s "
            f"into SQLite ({number(store['sqlite']['ratio']['median'], 1)} times the naive "
            f"sink), {number(store['postgresql']['rate']['median'])} into PostgreSQL "
            f"({number(store['postgresql']['ratio']['median'], 1)} times)."
        )
    if "aggregator" in figures:
        aggregator = figures["aggregator"]
        lines.append(
            f"- aggregator.py: {number(aggregator['rate']['median'])} readings/s "
            f"({number(aggregator['records'])} readings of {number(aggregator['stations'])} "
            "stations, start-up included); a NowCast committed "
            f"{number(aggregator['delay']['p50']['median'], 2)} s (p50), "
            f"{number(aggregator['delay']['p99']['median'], 2)} s (p99) after its reading."
        )
    return lines


def machine(results: dict) -> str:
    m = results["machine"]
    rows = [
        ["CPU", f"{m['cpu']}, {m['cores']} cores"],
        ["Memory", f"{m['memory_gib']} GiB"],
        ["Load average at start (1, 5, 15 min)", ", ".join(map(str, m["load_average_at_start"]))],
        ["OS", m["os"]],
        ["Python", m["python"]],
        ["Kafka", f"{m['kafka']} at {m['bootstrap_servers']}"],
        ["confluent-kafka / librdkafka", f"{m['confluent_kafka']} / {m['librdkafka']}"],
    ]  # fmt: skip
    return "## Machine\n\n" + table(["", ""], rows)


def targets_section(results: dict) -> str:
    rows = []
    for target in results.get("targets", []):
        digits = {"x": 1, "s": 2, "%": 2, "min": 1, "": 2}.get(target["unit"], 0)
        unit = {"x": " times", "s": " s", "/s": " records/s", "rows/s": " rows/s", "MB": " MB",
                "%": " %", "min": " min", "": ""}[target["unit"]]  # fmt: skip
        met = {True: "met", False: "**missed**", None: "not measured"}[target["met"]]
        rows.append([target["target"], spread(target["measured"], digits, unit), met])
    return "## Targets of this round\n\n" + table(["Target", "Measured", ""], rows)


def cycle_section(cycle: dict) -> str:
    rows = []
    for size, figure in cycle["sizes"].items():
        boxed = " (time-boxed)" if figure["baseline"]["time_boxed"] else ""
        rows.append(
            [
                number(int(size)),
                spread(figure["aqi_stream"]["rate"]),
                spread(figure["baseline"]["rate"]) + boxed,
                spread(figure["ratio"], 1, " x"),
                spread(figure["aqi_stream"]["cycle_seconds"], 2),
                spread(figure["baseline"]["cycle_seconds"], 1),
            ]
        )
    boxes = ", ".join(
        f"{number(int(size))} stations: it fetched for {seconds:g} s and then published"
        for size, seconds in cycle["baseline_time_box_seconds"].items()
        if size in cycle["sizes"]
    )
    note = (
        f"\nTime-boxed baseline runs ({boxes}): a partial cycle, its rate over the stations it "
        "got to. A sequential cycle costs the same per station from the first to the last, so "
        "the rate is the whole cycle's; a whole one would take minutes per run.\n"
        if boxes
        else ""
    )
    return (
        "## 1. Cycle throughput\n\n"
        "Readings fetched and published per second in one cycle (every station has a new "
        f"reading). aqi-stream: `producer.py --once --workers {cycle['workers']}`, its own "
        "rate limiter off like the simulator's quota. Simulator: "
        f"`{cycle['simulator']}`.\n\n"
        + table(
            [
                "Stations",
                "aqi-stream readings/s",
                "baseline readings/s",
                "ratio",
                "aqi-stream cycle s",
                "baseline cycle s",
            ],
            rows,
        )  # fmt: skip
        + note
        + "\n"
        + docstring(cycle_throughput)
        + "\n"
    )


def latency_section(lat: dict) -> str:
    rows = [[q, spread(lat[q], 3, " s")] for q in ("p50", "p95", "p99")]
    stage_rows = [
        [
            STAGES[name][0],
            spread(values["p50"], 3, " s"),
            spread(values["p99"], 3, " s"),
            STAGES[name][1],
        ]
        for name, values in lat["stages"].items()
    ]
    readings = sum(run["readings"] for run in lat["runs"])
    duplicates = sum(run["duplicates"] for run in lat["runs"])
    cycles = [run["producer_cycle_seconds"]["median"] for run in lat["runs"]]
    return (
        "## 2. End-to-end latency\n\n"
        f"{number(lat['stations'])} stations, {lat['hours_per_run']} simulated hours a run, "
        f"{number(readings)} readings in all ({duplicates} printed twice); producer "
        f"`--interval {lat['interval']:g} --workers {lat['workers']}`, its cycles lasting "
        f"{number(min(cycles), 2)} to {number(max(cycles), 2)} s (median of each run). "
        f"Simulator: `{lat['simulator']}`.\n\n"
        + table(["", "served -> printed by consumer.py"], rows)
        + "\nWhere the time goes, per reading (each stage's p50 and p99; medians over the runs):"
        + "\n\n"
        + table(["Stage", "p50", "p99", "What it is"], stage_rows)
        + "\n"
        + docstring(latency)
        + "\n"
    )


def consumer_section(consumer: dict) -> str:
    rows = [
        [
            form,
            spread(figure["rate"]),
            spread(figure["rate_after_first"]),
            spread(figure["cpu_seconds"], 1),
            spread(figure["peak_rss_mb"]),
        ]
        for form, figure in consumer["formats"].items()
    ]
    fill = consumer["fill"]
    return (
        "## 3. Consumer throughput\n\n"
        f"{number(consumer['records'])} records ({fill['hours']} hours of 1,000 stations, "
        f"written in {number(fill['seconds'], 1)} s). The headline is the first column, start-up "
        "included (what a user sees).\n\n"
        + table(
            [
                "Format",
                "records/s, start-up included",
                "records/s after the first record",
                "CPU s",
                "peak RSS MB",
            ],
            rows,
        )  # fmt: skip
        + "\n"
        + docstring(consumer_throughput)
        + "\n"
    )


def cost_section(figure: dict) -> str:
    names = {"aqi_stream": "aqi-stream", "baseline": "baseline"}
    rows = []
    for size, programs in figure["sizes"].items():
        for program, values in programs.items():
            boxed = " (time-boxed)" if values["time_boxed"] else ""
            rows.append(
                [
                    f"{names[program]}, {number(int(size))} stations{boxed}",
                    spread(values["published"]),
                    spread(values["cpu_seconds_per_1000"], 2),
                    spread(values["peak_rss_mb"]),
                ]
            )
    growth = figure.get("aqi_stream_rss_mb_per_1000_more")
    growth_line = (
        f"\naqi-stream's peak RSS grows by {number(growth, 1)} MB per 1,000 more readings in a "
        "cycle (from the 1,000- to the 10,000-station medians).\n"
        if growth is not None
        else ""
    )
    return (
        "## 4. Cost\n\n"
        + table(
            ["Process, cycle", "readings published", "CPU s per 1,000 readings", "peak RSS MB"],
            rows,
        )
        + growth_line
        + "\n"
        + docstring(cost)
        + "\n"
    )


def quota_section(quota: dict) -> str:
    day = quota["runs"][0]
    hourly = quota["hourly_requests_per_reading"]
    fixed = quota.get("fixed_runs", [None])[0]
    rows = [
        ["API requests per published reading", spread(quota["requests_per_reading"], 2)],
        ["  the same, hour by hour", spread(hourly, 2) if hourly else "not measured"],
        ["  the fixed-interval way (`--interval 600`)",
         spread(quota["fixed_requests_per_reading"], 2) if fixed else "not measured"],
        ["  its API requests / readings published",
         f"{number(fixed['requests'])} / {number(fixed['published'])}" if fixed else "-"],
        ["coverage: readings made available that the topic holds",
         covered(day)],
        ["  the fixed-interval way", covered(fixed) if fixed else "not measured"],
        ["API requests", number(day["requests"])],
        ["readings published (committed in the topic)", number(day["published"])],
        ["distinct readings the API served", number(day["readings_served"])],
        ["over-quota answers", number(quota["over_quota"])],
        ["producer cycles", number(day["cycles"])],
        ["producer CPU s per 1,000 published readings",
         number(day["producer_cpu_seconds"] / day["published"] * 1000, 2)],
        ["producer peak RSS MB", number(day["producer_peak_rss_mb"] or 0)],
    ]  # fmt: skip
    days = quota["days"]
    return (
        "## 5. Quota efficiency\n\n"
        f"{number(quota['stations'])} stations, {quota['simulated_hours']} simulated hours, "
        f"{days} simulated day{'s' if days > 1 else ''}: a day lasts "
        f"{quota['simulated_hours'] * quota['hour_seconds'] / 60:g} real minutes at the "
        "fastest clock the scaled interval holds at, so this figure is one run (the hour-by-"
        "hour line shows its spread within the day), not a median of five. Producer "
        f"`--quota {quota['producer_quota_per_minute']:.0f} --burst 60`, cadence-aware, and "
        f"with `--interval {quota['producer_interval']:.2f}` for the fixed way. Simulator: "
        f"`{quota['simulator']}`.\n\n"
        + table(["", ""], rows)
        + "\n"
        + docstring(quota_efficiency)
        + "\n"
    )


def covered(run: dict) -> str:
    """'100.00 % (2,686 of 2,686)', or 'not measured' for a run recorded before coverage."""
    if "coverage_percent" not in run:
        return "not measured"
    return (
        f"{number(run['coverage_percent'], 2)} % ({number(run['readings_covered'])} of "
        f"{number(run['readings_available'])}), {number(run['duplicates'])} twice"
    )


NETWORK_NAMES = {
    "world": "aqi-stream, `world`",
    "fixed_600": "every station, `--interval 600`",
    "fixed_1800": "every station, `--interval 1800`",
}


def network_section(figure: dict) -> str:
    approaches = figure["approaches"]
    header = ["", *(NETWORK_NAMES[name] for name in approaches)]

    def row(label: str, cell) -> list[str]:  # noqa: ANN001 (a function of a run)
        return [label, *(cell(result) for result in approaches.values())]

    def fresh(key: str, quantile: str):  # noqa: ANN202
        return lambda r: number(r[key][quantile], 1) if r[key] else "none"

    settled, whole = "freshness_after_first_hour_minutes", "freshness_minutes"
    rows = [
        row("coverage (readings published / made available)",
            lambda r: f"{number(r['coverage_percent'], 2)} %"),
        row("readings made available / published",
            lambda r: f"{number(r['readings_available'])} / {number(r['readings_covered'])}"),
        row("freshness p50, after the first hour (simulated min)", fresh(settled, "p50")),
        row("freshness p95, after the first hour", fresh(settled, "p95")),
        row("freshness p99, after the first hour", fresh(settled, "p99")),
        row("freshness p50 / p99, the whole run",
            lambda r: f"{fresh(whole, 'p50')(r)} / {fresh(whole, 'p99')(r)}"),
        row("API requests per published reading", lambda r: number(r["requests_per_reading"], 2)),
        row("API requests", lambda r: number(r["requests"])),
        row("over-quota answers", lambda r: number(r["over_quota"])),
        row("readings published twice", lambda r: number(r["duplicates"])),
        row("producer cycle (simulated min, median)",
            lambda r: number(r["cycle_minutes"], 1) if r.get("cycle_minutes") else "-"),
        row("producer CPU s", lambda r: number(r["producer_cpu_seconds"])),
        row("producer peak RSS MB", lambda r: number(r["producer_peak_rss_mb"])),
    ]  # fmt: skip
    rows.insert(0, row("simulated hours, at (times real time)",
                       lambda r: f"{r['simulated_hours']} h at {r['speed']:g}x"))  # fmt: skip
    return (
        "## 6. The whole network\n\n"
        f"{number(figure['stations'])} simulated stations, WAQI's quota "
        f"({figure['producer_quota']}), the producer's `--quota` scaled to the clock of each "
        f"run. Simulator: `{figure['simulator']} --hour-seconds ...`.\n\n"
        + table(header, rows)
        + "\n"
        + fixed_interval_text(approaches)
        + "\n"
        + docstring(network)
        + "\n"
    )


def store_section(store: dict) -> str:
    names = {"sqlite": "SQLite", "postgresql": f"PostgreSQL {store['postgresql_version']}"}
    rows = [
        [
            names[dialect],
            spread(figure["rate"]),
            spread(figure["naive_rate"]),
            spread(figure["ratio"], 1, " x"),
            spread(figure["cpu_seconds"], 1),
            spread(figure["peak_rss_mb"]),
        ]
        for dialect, figure in store["dialects"].items()
    ]
    fill = store["fill"]
    return (
        "## 7. Store throughput\n\n"
        f"A backfill of {number(store['records'])} records ({fill['hours']} hours of 1,000 "
        f"stations, written in {number(fill['seconds'], 1)} s) by `consumer.py --store`, "
        "start-up included; the naive sink over the first "
        f"{number(store['naive_records'])} records only (a prefix: at its rate the whole "
        "backfill would take hours).\n\n"
        + table(
            [
                "Database",
                "aqi-stream rows/s",
                f"naive sink rows/s (first {number(store['naive_records'])})",
                "ratio",
                "aqi-stream CPU s",
                "aqi-stream peak RSS MB",
            ],
            rows,
        )  # fmt: skip
        + "\n"
        + docstring(store_throughput)
        + "\n"
    )


def aggregator_section(figure: dict) -> str:
    records = figure["records"]
    delays = [
        [f"NowCast delay {q}", spread(figure["delay"][q], 3, " s")] for q in ("p50", "p95", "p99")
    ]
    rows = [
        ["readings/s, start-up included", spread(figure["rate"])],
        ["CPU s per run", spread(figure["cpu_seconds"])],
        ["CPU µs per reading", number(cpu_per_reading(figure, records), 0)],
        ["peak RSS MB", spread(figure["peak_rss_mb"])],
    ]
    floor = figure.get("quix_floor")
    if floor:
        rows += [
            ["Quix Streams alone: readings/s", spread(floor["rate"])],
            ["Quix Streams alone: CPU µs per reading", number(cpu_per_reading(floor, records), 0)],
        ]
    rows += delays
    fill = figure["fill"]
    return (
        "## 8. aggregator.py\n\n"
        f"{number(figure['records'])} readings ({fill['hours']} hours of "
        f"{number(figure['stations'])} stations, written in {number(fill['seconds'], 1)} s); "
        f"the delay over {figure['delay_hours']} simulated hours a run.\n\n"
        + table(["", ""], rows)
        + "\n"
        + docstring(aggregator_figure)
        + "\n"
    )


def cpu_per_reading(run: dict, records: int) -> float:
    """Median CPU microseconds per input reading (start-up included) of a throughput run."""
    return run["cpu_seconds"]["median"] / records * 1e6


def threshold_of(target_id: str) -> float:
    return next(target[4] for target in TARGETS if target[0] == target_id)


def fixed_interval_text(approaches: dict) -> str:
    """What the fixed-interval runs achieved and why, from their own numbers."""
    parts = []
    for name in ("fixed_600", "fixed_1800"):
        run = approaches.get(name)
        if not run or not run.get("cycle_minutes"):
            continue
        interval = 600 if name == "fixed_600" else 1800
        settled = run["freshness_after_first_hour_minutes"] or {}
        behind = run["cycle_minutes"] > interval / 60
        parts.append(
            f"At `--interval {interval}` every one of the {number(run['stations_listed'] or 0)} "
            f"listed stations is asked each cycle, and a cycle took "
            f"{number(run['cycle_minutes'], 1)} simulated minutes"
            + (
                ", longer than the interval: the quota, not the interval, sets the pace"
                if behind
                else ""
            )
            + f". So a reading waits for the station's next turn and then for the end of its "
            f"cycle, which publishes in one transaction: p50 {number(settled.get('p50', 0), 1)} "
            f"min; and {percent(1 - 1 / max(1.0, run['requests_per_reading']))} of the answers "
            f"held nothing new ({number(run['requests_per_reading'], 2)} requests per published "
            "reading)."
        )
    return (" ".join(parts) + "\n") if parts else ""


def limits_section(results: dict) -> str:
    missed = [t for t in results.get("targets", []) if t["met"] is False]
    if not missed:
        return "## What limits the missed targets\n\nEvery target was met.\n"
    evidence = results.get("profiles", {})
    parts = ["## What limits the missed targets\n"]
    if evidence.get("skipped"):
        parts.append(f"CPU profiles skipped: {evidence['skipped']}.\n")
    shown: set[str] = set()
    for target in missed:
        parts.append(f"### {target['target']}\n")
        parts.append(limit_text(target["id"], results["figures"], evidence, shown))
    return "\n".join(parts)


# Profiles that explain more than one target: shown under the first, referred to after.
SHARED_PROFILES = {
    "producer_cpu": ("producer.py", "The py-spy profile of the producer's cycles is above."),
    "aggregator_cpu": ("aggregator.py", "The py-spy profile of aggregator.py is above."),
}


def limit_text(target_id: str, figures: dict, evidence: dict, shown: set[str]) -> str:
    """Why a target was missed; a profile already shown above is referred to, not repeated."""
    text = limit_summary(target_id, figures, evidence)
    profile = profiles.TARGET_EVIDENCE.get(target_id)
    if profile not in SHARED_PROFILES or profile not in evidence:
        return text
    program, above = SHARED_PROFILES[profile]
    if profile in shown:
        return text + "\n" + above + "\n"
    shown.add(profile)
    return text + "\n" + cpu_profile(evidence[profile], program)


def limit_summary(target_id: str, figures: dict, evidence: dict) -> str:
    if target_id == "latency_p99":
        stages = figures["latency"]["stages"]
        ranked = sorted(stages, key=lambda name: -stages[name]["p99"]["median"])
        return "The stages of figure 2, largest p99 first:\n\n" + "".join(
            f"- {STAGES[name][0]}, p99 {number(stages[name]['p99']['median'], 3)} s: "
            f"{STAGES[name][1]}.\n"
            for name in ranked
        )
    if target_id in ("cycle_ratio", "cycle_seconds"):
        cpu = lookup(figures, ("cost", "sizes", "1000", "aqi_stream", "cpu_seconds_per_1000"))
        return (
            "A cycle is bound by CPU, not by the API's latency: 1,000 requests of 20 ms over "
            "32 connections need about 0.6 s of waiting, and aqi-stream's producer spends "
            + (f"{number(cpu['median'], 2)} CPU seconds per 1,000 readings " if cpu else "")
            + "(start-up included) on 2 cores it shares with the simulator and the broker. "
            "In the profile below, a thread blocked in a socket read or on a lock still counts "
            "as a sample: the waits for locks are threads queueing for the connection pool "
            "and the GIL, the HTTP client's own share is the CPU it spends per request.\n"
        )
    if target_id in ("consumer_json", "consumer_pretty"):
        by_format = evidence.get("consumer_cpu", {})
        return "".join(cpu_profile(profile, "consumer.py") for profile in by_format.values())
    if target_id.startswith("store_"):
        dialect = target_id.removeprefix("store_").removesuffix("_ratio")
        profile = evidence.get("store_cpu", {}).get(dialect)
        return cpu_profile(profile, f"consumer.py --store ({dialect})") if profile else ""
    if target_id == "producer_rss":
        return memory_text(figures, evidence.get("producer_memory"))
    if target_id in ("network_median", "network_p99"):
        figure = figures["network"]
        world = figure["approaches"]["world"]
        whole = world["freshness_minutes"] or {}
        settled = world["freshness_after_first_hour_minutes"] or {}
        sweep_minutes = figure["stations"] / (network.WAQI_QUOTA * RATE_SHARE)
        return (
            f"After the first hour, freshness p50 {number(settled.get('p50', 0), 1)} min and "
            f"p99 {number(settled.get('p99', 0), 1)} min: the whole day's tail is its first "
            f"hour. At start each of the {number(figure['stations'])} stations has a reading "
            f"not yet published, and their first feeds take {number(sweep_minutes)} minutes of "
            "the quota. The changes seen after the first look at a station are taken before "
            "that backlog, but a reading that appeared before its station's first look (the "
            "producer's start and discovery) is part of it and waits for it (the worst "
            f"{number(whole.get('max', 0), 1)} min).\n"
        )
    if target_id in ("aggregator_rate", "aggregator_delay_p99"):
        figure = figures["aggregator"]
        text = (
            f"aggregator.py spends {number(cpu_per_reading(figure, figure['records']))} µs of "
            "CPU per reading (one process, start-up included), on a machine of 2 cores it "
            "shares with the broker. Quix Streams handles one message at a time in Python: "
            "every reading goes through its consumer, two state stores (the NowCast's history "
            "and the day window, each a RocksDB transaction with JSON serialisation and "
            "changelog records) and its producer, and outputs become visible when a checkpoint "
            "commits (every half second). More partitions and instances in the group scale it "
            "out.\n"
        )
        floor = figure.get("quix_floor")
        if floor:
            rate, target = floor["rate"]["median"], threshold_of("aggregator_rate")
            floor_us = cpu_per_reading(floor, figure["records"])
            text += (
                f"\nQuix Streams alone (bench/quix_floor.py: the same readings through an "
                "application configured as aggregator.py's, exactly-once, one number of state "
                f"per station, one small output a reading) managed {number(rate)} readings/s "
                f"with {number(floor_us)} µs of CPU a reading: "
                + (
                    "below the target before any of aggregator.py's work: the engine alone "
                    f"would need {number(target * floor_us / 1e6, 1)} cores for "
                    f"{number(target)} readings/s, on a machine of 2 it shares with the broker."
                    if rate < target
                    else "the rest of the CPU above is aggregator.py's own work."
                )
                + "\n"
            )
        return text
    return ""


def cpu_profile(profile: dict, program: str) -> str:
    if not profile.get("samples"):
        return f"No py-spy samples of {program}.\n"
    rows = [[stage["stage"], percent(stage["share"])] for stage in profile["categories"]]
    top = [[f"`{leaf['frames']}`", percent(leaf["share"])] for leaf in profile["leaves"]]
    return (
        f"py-spy, {program}, {profile['what']}: {number(profile['samples'])} samples of its "
        "active threads, by stage (the deepest frame that says which):\n\n"
        + table(["Stage", "share of samples"], rows)
        + "\nThe deepest frames with the largest share (frame < its caller < theirs):\n\n"
        + table(["Frames", "share"], top)
    )


def memory_text(figures: dict, trace: dict | None) -> str:
    growth = lookup(figures, ("cost", "aqi_stream_rss_mb_per_1000_more"))
    text = ""
    if growth is not None:
        text += (
            f"Peak RSS grows with the stations of a cycle, by {number(growth, 1)} MB per 1,000 "
            "(figure 4).\n\n"
        )
    if not trace:
        return text + "No memory trace was taken.\n"
    rows = [
        [f"`{site['file']}:{site['line']}`", number(site["mb"], 1), number(site["blocks"])]
        for site in trace["sites"]
    ]
    text += (
        f"tracemalloc at the end of a {number(trace['stations_fetched'])}-station cycle's "
        f"fetches ({number(trace['traced_mb'], 1)} MB traced; tracemalloc's own overhead "
        "is not in it):\n\n" + table(["Allocated at", "MB", "blocks"], rows)
    )
    return text
