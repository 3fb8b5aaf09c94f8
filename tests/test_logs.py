"""aqistream/logs.py: readable lines, and the token never in them."""

from __future__ import annotations

import logging
import sys

from aqistream.logs import RedactingFormatter


def line(formatter: logging.Formatter, message: str, level: int = logging.INFO) -> str:
    record = logging.LogRecord("aqistream", level, __file__, 1, message, None, None)
    return formatter.format(record)


def test_the_secret_is_redacted_wherever_it_appears():
    formatter = RedactingFormatter(["s3cr3t-token"])
    text = line(formatter, "GET /feed/zurich/?token=s3cr3t-token failed (s3cr3t-token)")
    assert "s3cr3t-token" not in text
    assert text.endswith("GET /feed/zurich/?token=*** failed (***)")


def test_a_traceback_is_redacted_too():
    formatter = RedactingFormatter(["s3cr3t-token"])
    try:
        raise RuntimeError("while fetching ?token=s3cr3t-token")
    except RuntimeError:
        record = logging.LogRecord(
            "aqistream", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    assert "s3cr3t-token" not in formatter.format(record)


def test_only_warnings_and_errors_are_labelled():
    formatter = RedactingFormatter([])
    assert "WARNING: " in line(formatter, "careful", logging.WARNING)
    assert "INFO" not in line(formatter, "cycle 1: ...")


def test_a_too_short_secret_does_not_blank_out_every_word():
    formatter = RedactingFormatter(["t"])
    assert line(formatter, "stations").endswith("stations")
