"""What the windows keep of a published record: a small value, copied once per branch.

Quix Streams copies a message's value (pickle) for every branch of the pipeline after the
first, so the record is cut down to what the NowCast and the day windows read, once.
"""

from __future__ import annotations

from typing import Any

Reading = dict[str, Any]


def compact_reading(record: dict, utc: int, offset: int, published: int) -> Reading:
    """`utc`: observed_at in ms; `offset`: observed_local's offset in minutes; `published`:
    the message's Kafka timestamp."""
    return {
        "idx": record["station"]["idx"],
        "name": record["station"]["name"],
        "observed_at": record["observed_at"],
        "observed_local": record["observed_local"],
        "utc": utc,
        "offset": offset,
        "published": published,
        "aqi": record["aqi"],
        "iaqi": record["iaqi"],
    }
