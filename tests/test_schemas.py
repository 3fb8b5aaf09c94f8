"""aqistream/registry/schemas.py: the draft-07 form registered accepts and rejects exactly
what schemas/record-v1.json (draft 2020-12) does, and translates each keyword it meets."""

from __future__ import annotations

import copy
import json
import re

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from aqistream.record import normalise
from aqistream.registry.schemas import (
    DRAFT_07,
    DRAFT_2020_12,
    RECORD_SCHEMA,
    NoDraft07Form,
    draft07,
    load_schema,
    registered_text,
    value_subject,
)
from tests.test_record import (
    ALL_FEEDS,
    AQI_DASH,
    BROKEN_RECORDS,
    CROWD_A123946,
    FETCHED_AT,
    HA_SENSOR,
    broken,
    load_feed,
)

SOURCE = load_schema(RECORD_SCHEMA)
FORM = draft07(SOURCE)
# A value of each JSON type, and the edges the contract cares about.
REPLACEMENTS = [None, True, 0, -1, 29.5, 10**20, "", "x", "2026-11-24T01:00:00Z", [], [1.0], {}]


def verdicts(record: object) -> tuple[bool, bool, bool, bool]:
    """(2020-12, draft-07) validity, without and with format checking."""
    return (
        Draft202012Validator(SOURCE).is_valid(record),
        Draft7Validator(FORM).is_valid(record),
        Draft202012Validator(SOURCE, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(
            record
        ),
        Draft7Validator(FORM, format_checker=Draft7Validator.FORMAT_CHECKER).is_valid(record),
    )


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path into a record (object keys and array indexes), the record itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutations(record: dict) -> list[object]:
    """The record with each of its parts replaced by each REPLACEMENTS value, or removed."""
    mutated = []
    for path in paths(record)[1:]:
        for replacement in [*REPLACEMENTS, "delete"]:
            copy_ = copy.deepcopy(record)
            *parents, last = path
            target = copy_
            for step in parents:
                target = target[step]
            if replacement == "delete":
                del target[last]
            else:
                target[last] = replacement
            mutated.append(copy_)
    return mutated


def test_the_draft07_form_is_a_valid_draft07_schema():
    Draft7Validator.check_schema(FORM)
    assert FORM["$schema"] == DRAFT_07
    assert SOURCE["$schema"] == DRAFT_2020_12  # the file itself is left as it is


@pytest.mark.parametrize(("name", "data"), ALL_FEEDS, ids=[name for name, _ in ALL_FEEDS])
def test_both_forms_accept_every_record_normalise_builds(name, data):
    assert verdicts(normalise(data, "query", FETCHED_AT)) == (True, True, True, True)


@pytest.mark.parametrize(("path", "value"), BROKEN_RECORDS, ids=[p for p, _ in BROKEN_RECORDS])
def test_both_forms_reject_the_broken_records(path, value):
    assert not any(verdicts(broken(path, value)))


@pytest.mark.parametrize(
    "geo",
    [[47.4, 8.5], [47.4], [47.4, 8.5, 400.0], [], ["47.4", "8.5"], [91.0, 8.5], [47.4, 181.0],
     [-90, -180], None, {}, "47.4;8.5", [[47.4], 8.5]],
)  # fmt: skip
def test_both_forms_agree_on_every_shape_of_geo(geo):
    """geo is where the forms differ in words (prefixItems and items: false against items
    as an array and additionalItems: false)."""
    record = normalise(load_feed(HA_SENSOR), "utrecht", FETCHED_AT)
    record["station"]["geo"] = geo
    found = verdicts(record)
    assert found[0] == found[1] and found[2] == found[3], found


@pytest.mark.parametrize("feed", [HA_SENSOR, AQI_DASH, CROWD_A123946])
def test_both_forms_agree_on_every_part_of_a_record_changed_or_removed(feed):
    record = normalise(load_feed(feed), "query", FETCHED_AT)
    cases = mutations(record)
    assert len(cases) > 300
    disagreements = []
    for case in cases:
        found = verdicts(case)
        if found[0] != found[1] or found[2] != found[3]:
            disagreements.append((found, case))
    assert not disagreements, disagreements[:3]
    assert sum(not verdicts(case)[0] for case in cases) > 0.7 * len(cases)  # most are invalid


def test_tuples_become_items_and_additional_items():
    schema = {
        "$schema": DRAFT_2020_12,
        "type": "array",
        "prefixItems": [{"type": "number"}, {"type": "string"}],
        "items": {"type": "boolean"},
    }
    assert draft07(schema) == {
        "$schema": DRAFT_07,
        "type": "array",
        "items": [{"type": "number"}, {"type": "string"}],
        "additionalItems": {"type": "boolean"},
    }


def test_definitions_and_references_are_renamed_and_a_reference_keeps_its_siblings():
    schema = {
        "$schema": DRAFT_2020_12,
        "$defs": {"aqi": {"type": "integer", "minimum": 0}},
        "properties": {"aqi": {"$ref": "#/$defs/aqi", "maximum": 999}},
    }
    assert draft07(schema) == {
        "$schema": DRAFT_07,
        "definitions": {"aqi": {"type": "integer", "minimum": 0}},
        # Draft-07 ignores what stands beside a $ref: it goes under allOf.
        "properties": {"aqi": {"maximum": 999, "allOf": [{"$ref": "#/definitions/aqi"}]}},
    }


def test_dependent_required_and_schemas_become_dependencies():
    schema = {
        "$schema": DRAFT_2020_12,
        "dependentRequired": {"url": ["name"]},
        "dependentSchemas": {"geo": {"required": ["url"]}},
    }
    assert draft07(schema)["dependencies"] == {"url": ["name"], "geo": {"required": ["url"]}}


def test_data_that_looks_like_a_schema_is_left_alone():
    data = {"prefixItems": [1], "$ref": "#/$defs/x"}
    schema = {"$schema": DRAFT_2020_12, "const": data, "enum": [data], "default": data}
    assert draft07(schema) == {**schema, "$schema": DRAFT_07}


@pytest.mark.parametrize(
    "keyword", ["unevaluatedProperties", "$dynamicRef", "minContains", "$anchor"]
)
def test_a_keyword_draft07_cannot_say_is_refused_rather_than_dropped(keyword):
    schema = {"$schema": DRAFT_2020_12, "properties": {"x": {keyword: False}}}
    with pytest.raises(NoDraft07Form, match=re.escape(f"#/properties/x: {keyword}")):
        draft07(schema)


def test_only_a_2020_12_schema_is_translated():
    with pytest.raises(NoDraft07Form, match="expected a draft 2020-12 schema"):
        draft07({"$schema": DRAFT_07, "type": "object"})


def test_the_registered_text_is_always_the_same_and_is_the_form():
    text = registered_text(draft07(load_schema(RECORD_SCHEMA)))
    assert text == registered_text(draft07(load_schema(RECORD_SCHEMA)))
    assert json.loads(text) == FORM


def test_subjects_follow_the_topic_name_strategy():
    assert value_subject("air_quality_index") == "air_quality_index-value"
    assert value_subject("air_quality_index.latest") == "air_quality_index.latest-value"
