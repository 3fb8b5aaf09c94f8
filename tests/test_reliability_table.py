"""docs/RELIABILITY.md's table: written, read back and merged (make test-reliability MERGE=1)."""

from tests.reliability import conftest as table

OLD_TABLE = """# Reliability

- Run: 2026-12-01 15:04 UTC, full iteration counts, pytest exit status 1 (FAILURES), commit 8e3eb59

| Scenario | What was broken | Times | Readings served | Lost | Duplicated | Catch-up | Notes |
|---|---|---:|---:|---:|---:|---:|---|
| 1. broker restarted | the broker | 3 | 400 | 0 | 0 | 16.7 s |  |
| 12. aggregator.py killed | kill -9 | 20 | 1440 | 0 | 0 | 2.0 s | old |
| 8. bad input | config | 8 | 2 | 0 | 0 | - | 8 of 8 |
"""


def row(scenario: str, run: str = "") -> table.Row:
    return table.Row(scenario, "kill -9", 20, 1440, 0, 0, 3.5, "new", run)


def test_a_merged_run_replaces_its_scenarios_rows_and_keeps_the_others_with_their_run():
    earlier = table.earlier_rows(OLD_TABLE)
    assert [r.run for r in earlier] == ["2026-12-01 15:04 UTC, 8e3eb59, full counts"] * 3
    assert earlier[2].catch_up_seconds is None and earlier[0].catch_up_seconds == 16.7
    latest = [row("12. aggregator.py killed", "now"), row("9. store killed", "now")]
    text = table.render(
        table.merged(earlier, latest), "2026-12-02 10:00 UTC", "abc1234", 0, [], True
    )
    lines = [line for line in text.splitlines() if line.startswith("| ") and "Scenario" not in line]
    # In the scenarios' numeric order (not 1, 12, 8, 9), each row once.
    assert [line.split(" | ")[0] for line in lines] == [
        "| 1. broker restarted", "| 8. bad input", "| 9. store killed",
        "| 12. aggregator.py killed",
    ]  # fmt: skip
    assert lines[3].endswith("| new | now |") and lines[0].endswith("8e3eb59, full counts |")
    assert "merged into the table of earlier runs" in text
    # What it wrote reads back the same.
    again = table.earlier_rows(text)
    assert [(r.scenario, r.note, r.run) for r in again] == [
        (r.scenario, r.note, r.run) for r in sorted(again, key=table.scenario_order)
    ]
    assert {r.run for r in again} == {"now", "2026-12-01 15:04 UTC, 8e3eb59, full counts"}


def test_the_latest_runs_failures_are_named():
    text = table.render([row("4. producer killed")], "d", "c", 1, ["tests/x.py::y"], False)
    assert "- Failed in the latest run: tests/x.py::y" in text
    assert "merged into" not in text and "exit status 1 (FAILURES)" in text
