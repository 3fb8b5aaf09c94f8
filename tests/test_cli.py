"""What the scripts share on the command line."""

from __future__ import annotations

import argparse

import pytest

from aqistream.cli import duration_ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [("3h", 10_800_000), ("90m", 5_400_000), ("45s", 45_000), ("1d", 86_400_000),
     ("2h30m", 9_000_000), ("0.5h", 1_800_000), (" 3H ", 10_800_000), ("0s", 0)],
)  # fmt: skip
def test_durations(text, ms):
    assert duration_ms(text) == ms


@pytest.mark.parametrize("text", ["3", "h", "", "3 hours", "-1h", "3h3", "1w"])
def test_what_is_not_a_duration(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is not a duration"):
        duration_ms(text)
