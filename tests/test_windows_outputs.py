"""The three kinds on the wire: what aggregator.py builds passes its JSON Schema and decoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from aqistream.record import InvalidRecord
from aqistream.windows import daily
from aqistream.windows.outputs import ALERT, DAILY, NOWCAST, output_kind
from tests.test_windows_daily import hours_of, record, summarise
from tests.test_windows_nowcast import feed, reading

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def samples() -> dict[str, list[dict]]:
    local = hours_of("2026-11-24", 0, 23, "+01:00", "+01:00", 99)
    days = [daily.daily_record(5419, *summarise([record(t) for t in local]))]
    days.append(daily.daily_record(5419, *summarise([record(local[3], aqi=None, t=2.0)])))
    results = feed([reading(h, pm25=v, pm10=30) for h, v in enumerate([20, 20, 90, 90, 160])])
    nowcasts = [figures for figures, _ in results]
    alerts = [alert for _, alert in results if alert]
    return {"daily": days, "nowcast": nowcasts, "alert": alerts}


@pytest.mark.parametrize(
    ("kind", "schema"),
    [(DAILY, "daily-v1.json"), (NOWCAST, "nowcast-v1.json"), (ALERT, "alert-v1.json")],
)
def test_what_the_aggregator_builds_is_valid_and_decodes(kind, schema):
    built = samples()[kind.kind]
    assert built
    check = validator(schema)
    for value in built:
        errors = [error.message for error in check.iter_errors(value)]
        assert not errors, errors
        assert kind.decode(json.dumps(value).encode()) == value


@pytest.mark.parametrize("kind", [DAILY, NOWCAST, ALERT])
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda v: v.update(kind="other"), "kind is 'other'"),
        (lambda v: v.update(schema_version=2), "schema_version is 2"),
        (lambda v: v.pop("station"), "station is missing"),
        (lambda v: v["station"].update(idx="5419"), "station.idx is string"),
    ],
)
def test_decoders_refuse_other_values(kind, change, problem):
    value = samples()[kind.kind][0]
    change(value)
    with pytest.raises(InvalidRecord, match=problem):
        kind.decode(json.dumps(value).encode())


def test_decoders_refuse_what_is_not_an_object():
    for value in (None, b"", b"not json", b"[1]"):
        with pytest.raises(InvalidRecord):
            DAILY.decode(value)


def test_a_topic_says_its_kind():
    assert output_kind("air_quality_index.daily") is DAILY
    assert output_kind("air_quality_index.nowcast") is NOWCAST
    assert output_kind("air_quality_index.alerts") is ALERT
    assert output_kind("air_quality_index") is None
    assert DAILY.topic("air_quality_index") == "air_quality_index.daily"
