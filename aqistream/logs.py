"""Logging for the command-line scripts: one readable line per event, on stderr, no secrets."""

from __future__ import annotations

import logging
import sys

MIN_SECRET_LENGTH = 6


class RedactingFormatter(logging.Formatter):
    """Removes secrets from the finished line, tracebacks included."""

    def __init__(self, secrets: list[str]):
        super().__init__("%(asctime)s %(message)s", datefmt="%H:%M:%S")
        # A secret of a few characters would blank out every word that contains them.
        self.secrets = [secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH]

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.levelno >= logging.WARNING:
            # Only what needs attention is labelled; the rest reads as plain progress.
            line = line.replace(" ", f" {record.levelname}: ", 1)
        return redact(line, self.secrets)


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """`text` with every secret (of MIN_SECRET_LENGTH characters or more) replaced by ***."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, "***")
    return text


def setup_logging(verbosity: int, secrets: list[str] = ()) -> None:
    """verbosity: -1 warnings only, 0 one line per cycle, 1 one line per reading too,
    2 and librdkafka's own log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(list(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.getLogger("aqistream").setLevel(level)
    # librdkafka reports every refused connection, every second; the scripts say it once
    # in their own words, so its own log is shown only with -vv.
    logging.getLogger("aqistream.librdkafka").setLevel(
        logging.INFO if verbosity > 1 else logging.CRITICAL + 1
    )
    # psycopg warns about a COPY it could not end when the server has gone; the store says
    # that in its own words.
    logging.getLogger("psycopg").setLevel(logging.INFO if verbosity > 1 else logging.ERROR)
