"""The benchmark figures the README quotes are the recorded run's, written by it."""

import json
from pathlib import Path

import pytest

from bench import report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = json.loads((ROOT / "bench" / "results.json").read_text())


def test_the_readme_quotes_the_recorded_headline_unchanged():
    readme = (ROOT / "README.md").read_text()
    assert report.readme_with_headline(readme, RESULTS) == readme
    assert "times the baseline's cycle throughput" in readme


def test_the_headline_between_the_markers_is_replaced_and_the_rest_kept():
    block = f"{report.README_START}\nold figures\n{report.README_END}"
    readme = f"# Title\n\nBefore.\n\n{block}\n\nAfter.\n"
    written = report.readme_with_headline(readme, RESULTS)
    assert "old figures" not in written
    assert written.startswith("# Title\n\nBefore.\n\n" + report.README_START + "\n")
    assert written.endswith(report.README_END + "\n\nAfter.\n")
    assert RESULTS["date"][:10] in written
    assert report.readme_with_headline(written, RESULTS) == written


def test_a_readme_without_the_markers_is_an_error_not_a_silent_no_op():
    with pytest.raises(ValueError, match="lacks the markers"):
        report.readme_with_headline("# Title\n", RESULTS)


# The recorded results as one run would have written them, whatever runs wrote them.
ONE_RUN = {key: value for key, value in RESULTS.items() if key != "sources"}


def recorded_run(figure: str, date: str, runs: int) -> dict:
    return {
        "command": f"python -m bench.run --only {figure}",
        "date": date,
        "commit": "abc1234",
        "runs": runs,
        "quick": False,
        "wall_seconds": 61,
        "machine": {**RESULTS["machine"], "load_average_at_start": [1.0, 1.0, 1.0]},
        "figures": {figure: RESULTS["figures"][figure]},
    }


def test_a_merged_run_replaces_its_figures_keeps_the_others_and_names_each_ones_run():
    whole = {**ONE_RUN, "commit": "0000000"}
    again = recorded_run("latency", "2030-01-02T03:04:05Z", 1)
    merged = report.merged(whole, again)
    assert merged["figures"]["cycle"] == RESULTS["figures"]["cycle"]
    assert merged["figures"]["latency"] is again["figures"]["latency"]
    assert merged["sources"]["cycle"]["date"] == ONE_RUN["date"]
    assert merged["sources"]["latency"]["date"] == "2030-01-02T03:04:05Z"
    assert merged["sources"]["latency"]["runs"] == 1
    markdown = report.markdown({**merged, "targets": report.targets(merged["figures"])})
    runs = markdown.split("## Runs", 1)[1].split("\n## ", 1)[0]
    assert "| latency | `python -m bench.run --only latency` | 2030-01-02T03:04:05Z |" in runs
    assert f"| cycle | `{ONE_RUN['command']}` | {ONE_RUN['date']} | 0000000 |" in runs
    headline = report.readme_with_headline(f"{report.README_START}\n{report.README_END}", merged)
    assert f"2 runs of `make bench` from {ONE_RUN['date'][:10]} to 2030-01-02" in headline


def test_merging_again_keeps_the_sources_of_the_first_merge():
    first = report.merged(ONE_RUN, recorded_run("latency", "2030-01-02T00:00:00Z", 1))
    second = report.merged(first, recorded_run("consumer", "2030-01-03T00:00:00Z", 3))
    assert second["sources"]["latency"]["date"] == "2030-01-02T00:00:00Z"
    assert second["sources"]["consumer"]["runs"] == 3
    assert second["sources"]["cycle"]["date"] == ONE_RUN["date"]


def test_a_profile_that_explains_two_missed_targets_is_shown_once_then_referred_to():
    figures = {"aggregator": {"cpu_seconds": {"median": 674.0}, "records": 1_000_000}}
    evidence = {"aggregator_cpu": {"samples": 0}}
    shown: set[str] = set()
    rate = report.limit_text("aggregator_rate", figures, evidence, shown)
    delay = report.limit_text("aggregator_delay_p99", figures, evidence, shown)
    assert "674 µs of CPU per reading" in rate and "674 µs of CPU per reading" in delay
    assert "No py-spy samples of aggregator.py" in rate
    assert "No py-spy samples" not in delay
    assert "The py-spy profile of aggregator.py is above." in delay


def test_the_quix_streams_floor_says_whether_the_engine_alone_reaches_the_target():
    def figures(floor_rate: float) -> dict:
        floor = {"rate": {"median": floor_rate}, "cpu_seconds": {"median": 100.0}}
        aggregator = {"cpu_seconds": {"median": 600.0}, "records": 1_000_000, "quix_floor": floor}
        return {"aggregator": aggregator}

    slow = report.limit_text("aggregator_rate", figures(6_000), {}, set())
    assert "Quix Streams alone" in slow and "100 µs of CPU a reading" in slow
    assert "the engine alone would need 2.0 cores for 20,000 readings/s" in slow
    fast = report.limit_text("aggregator_rate", figures(25_000), {}, set())
    assert "the engine alone would need" not in fast and "aggregator.py's own work" in fast


def test_report_only_judges_the_targets_again_and_writes_the_report(tmp_path):
    from bench import run

    stale = {**RESULTS, "targets": []}
    (tmp_path / "results.json").write_text(json.dumps(stale))
    assert run.main(["--report-only", "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["targets"] == report.targets(RESULTS["figures"]) != []
    assert (tmp_path / "RESULTS.md").read_text() == report.markdown(written)
