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
