"""aqistream/source/waqi.py, the pure part: what each WAQI body means (API.md §6, §7, §9)."""

from __future__ import annotations

import json

import pytest
import yaml

from aqistream.source.discovery import MapStation, map_stations
from aqistream.source.waqi import (
    InvalidToken,
    MapError,
    OverQuota,
    TransientError,
    UnknownStation,
    outcome_of,
    parse_feed_body,
    parse_map_body,
    redact,
)
from tests.fixtures import FIXTURES


def body(envelope: dict) -> bytes:
    return json.dumps(envelope).encode()


def test_an_ok_feed_gives_its_data():
    recorded = (
        FIXTURES / "joostlek_python-waqi__tests_fixtures_city_feed_klundert.json"
    ).read_bytes()
    assert parse_feed_body(recorded)["idx"] == json.loads(recorded)["data"]["idx"]


@pytest.mark.parametrize(
    ("fixture", "error"),
    [
        ("joostlek_python-waqi__tests_fixtures_unauthenticated.json", InvalidToken),
        ("joostlek_python-waqi__tests_fixtures_city_feed_unknown.json", UnknownStation),
        ("joostlek_python-waqi__tests_fixtures_station_number_feed_@123946.json", UnknownStation),
        ("joostlek_python-waqi__tests_fixtures_station_number_feed_A10142.json", UnknownStation),
    ],
)
def test_recorded_error_bodies(fixture, error):
    with pytest.raises(error):
        parse_feed_body((FIXTURES / fixture).read_bytes())


def test_nested_unknown_id_under_status_ok_is_an_unknown_station():
    with pytest.raises(UnknownStation, match="Unknown ID"):
        parse_feed_body(body({"status": "ok", "data": {"status": "error", "msg": "Unknown ID"}}))


def test_over_quota_is_transient():
    with pytest.raises(OverQuota):
        parse_feed_body(body({"status": "error", "data": "Over quota"}))
    assert issubclass(OverQuota, TransientError)


def test_invalid_geo_is_an_unknown_station():
    with pytest.raises(UnknownStation, match="Invalid geo position"):
        parse_feed_body(body({"status": "error", "data": "Invalid geo position - Can not parse"}))


def test_error_text_under_message_instead_of_data():
    with pytest.raises(UnknownStation, match="404"):
        parse_feed_body(body({"status": "error", "message": "404"}))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty response body"),
        (b"  \n", "empty response body"),
        (b"<html><body>502 Bad Gateway</body></html>", "HTML page"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a WAQI JSON object"),
    ],
)
def test_empty_and_non_json_bodies_are_transient(raw, reason):
    with pytest.raises(TransientError, match=reason):
        parse_feed_body(raw)


def test_redact_removes_the_token_plain_and_url_quoted():
    token = "s3cr3t/+token"
    text = "GET /feed/zurich/?token=s3cr3t%2F%2Btoken failed; token s3cr3t/+token"
    assert token not in redact(text, token)
    assert "s3cr3t%2F%2Btoken" not in redact(text, token)


# --- map/bounds -------------------------------------------------------------------------


def recorded_bodies(cassette: str) -> list[bytes]:
    interactions = yaml.safe_load((FIXTURES / cassette).read_text(encoding="utf-8"))
    return [i["response"]["body"]["string"].encode() for i in interactions["interactions"]]


def test_a_recorded_map_answer_gives_its_items():
    recorded = recorded_bodies(
        "Ozon3Org_Ozon3__tests_cassettes_test_get_range_coordinates_air_test_return_value_and_format.yaml"
    )[0]  # the map/bounds answer; the feeds follow
    items = parse_map_body(recorded)
    assert items and all({"uid", "lat", "lon", "station"} <= set(item) for item in items)
    assert map_stations(items)[0] == MapStation(3179, 1652860800)  # 2022-05-18T17:00+09:00


def test_a_recorded_invalid_bounds_answer_is_a_map_error():
    [recorded] = recorded_bodies(
        "Ozon3Org_Ozon3__tests_cassettes_test_get_range_coordinates_air_test_bad_coordinates.yaml"
    )
    with pytest.raises(MapError, match="invalid bounds"):
        parse_map_body(recorded)


@pytest.mark.parametrize(
    ("envelope", "error"),
    [
        ({"status": "error", "data": "Invalid key"}, InvalidToken),
        ({"status": "error", "data": "Over quota"}, OverQuota),
        ({"status": "ok", "data": {"not": "a list"}}, TransientError),
        ({"status": "error", "data": "invalid bounds"}, MapError),
    ],
)
def test_map_error_bodies(envelope, error):
    with pytest.raises(error):
        parse_map_body(body(envelope))


def test_each_failure_kind_has_its_outcome_for_the_metrics():
    assert [
        outcome_of(error)
        for error in (
            None,
            InvalidToken("x"),
            OverQuota("x"),
            TransientError("x"),
            UnknownStation("x"),
            MapError("x"),
        )
    ] == ["ok", "invalid_key", "over_quota", "transient", "unknown_station", "error"]
