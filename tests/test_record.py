import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from aqistream.record import (
    SCHEMA_VERSION,
    InvalidRecord,
    UnusableReading,
    decode_record,
    encode_record,
    normalise,
    observed_instant,
    record_key,
)

FIXTURES = Path(__file__).parent / "fixtures" / "waqi"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "record-v1.json"
FETCHED_AT = datetime(2023, 10, 20, 13, 7, 12, 345678, tzinfo=UTC)

HA_SENSOR = "home-assistant_core__tests_components_waqi_fixtures_air_quality_sensor.json"
CROWD_A123946 = "joostlek_python-waqi__tests_fixtures_identifier_A123946.json@36480dd.json"
CROWD_372382 = "joostlek_python-waqi__tests_fixtures_station_number_feed_372382.json"
NO_TIME_10002 = "joostlek_python-waqi__tests_fixtures_station_number_feed_10002.json"
AQI_DASH = "joostlek_python-waqi__tests_fixtures_city_feed_failing_klundert.json"
KLUNDERT = "joostlek_python-waqi__tests_fixtures_city_feed_klundert.json"
EMPTY_DOMINANT = "joostlek_python-waqi__tests_fixtures_city_feed_unknown_dominant_pol.json"
DOC_EXAMPLE = (
    "waqi-dev-community_go-waqi__lib_feed_test.go__"
    "cityFeedResponse_OFFICIAL_DOC_EXAMPLE_not_recorded.json"
)
HACKNEY_2017 = "unidentified-repo_index-id-48762097848_Day03_md__feed_@7946_2017.json"
BEIJING = "T-J-D-Cavey_Pollution-Checker__src_api_Api.js@38af268__mockResponse_feed_beijing.json"
COORDINATES_CASSETTE = (
    "Ozon3Org_Ozon3__tests_cassettes_test_get_coordinate_air_test_bad_coordinates.yaml"
)


def load_feed(name: str) -> dict:
    """The feed's ``data`` object, whether the fixture holds the envelope or only the data."""
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return document["data"] if "status" in document else document


def cassette_feeds(name: str) -> list[tuple[str, dict]]:
    """(request path, data) for every successful /feed/ response in a recorded cassette."""
    cassette = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    feeds = []
    for interaction in cassette["interactions"]:
        body = interaction["response"]["body"]["string"]
        uri = interaction["request"]["uri"]
        if "/feed/" in uri and body:
            document = json.loads(body)
            if document.get("status") == "ok" and "idx" in document["data"]:
                feeds.append((uri.split("?")[0], document["data"]))
    return feeds


def all_feeds() -> list[tuple[str, dict]]:
    """Every station feed among the fixtures, recorded or edited, except the one with no time."""
    feeds = []
    for path in sorted(FIXTURES.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        data = document.get("data") if isinstance(document, dict) else None
        if isinstance(document, dict) and "idx" in document:
            data = document
        if isinstance(data, dict) and "idx" in data and path.name != NO_TIME_10002:
            feeds.append((path.name, data))
    for path in sorted(FIXTURES.glob("*.yaml")):
        feeds.extend((f"{path.name} {uri}", data) for uri, data in cassette_feeds(path.name))
    return feeds


ALL_FEEDS = all_feeds()
FEED_IDS = [name for name, _ in ALL_FEEDS]


def test_fixture_set_holds_the_feeds_we_rely_on() -> None:
    # 20 JSON feeds (one, 10002, is set aside) + 38 from Ozon3 cassettes
    assert len(ALL_FEEDS) == 58


def test_official_station_becomes_exactly_the_v1_record() -> None:
    record = normalise(load_feed(HA_SENSOR), "utrecht", FETCHED_AT)
    assert record == {
        "schema_version": 1,
        "source": "waqi",
        "station": {
            "idx": 4584,
            "name": "de Jongweg, Utrecht",
            "geo": [52.105031, 5.124464],
            "url": "https://aqicn.org/city/netherland/utrecht/de-jongweg",
            "query": "utrecht",
        },
        "observed_at": "2023-08-07T15:00:00Z",
        "observed_local": "2023-08-07T17:00:00+02:00",
        "aqi": 29,
        "dominant_pollutant": "o3",
        "iaqi": {
            "h": 80,
            "co": 2.3,
            "no2": 2.3,
            "so2": 2.3,
            "o3": 29.4,
            "p": 1008.8,
            "pm10": 12,
            "pm25": 17,
            "t": 16,
            "w": 1.4,
            "wg": 2.4,
        },
        "attributions": [
            {
                "name": "RIVM - Rijksinstituut voor Volksgezondheid en Milieum, "
                "Landelijk Meetnet Luchtkwaliteit",
                "url": "http://www.luchtmeetnet.nl/",
            },
            {"name": "World Air Quality Index Project", "url": "https://waqi.info/"},
        ],
        "fetched_at": "2023-10-20T13:07:12.345Z",
    }
    assert list(record) == [
        "schema_version",
        "source",
        "station",
        "observed_at",
        "observed_local",
        "aqi",
        "dominant_pollutant",
        "iaqi",
        "attributions",
        "fetched_at",
    ]


def test_crowd_station_keeps_its_utc_iso_and_shows_local_offset() -> None:
    record = normalise(load_feed(CROWD_A123946), "A123946", FETCHED_AT)
    assert record["station"]["idx"] == -123946
    assert record["station"]["url"] == "https://aqicn.org/station/@123946"
    assert record["observed_at"] == "2023-09-29T14:44:13Z"
    assert record["observed_local"] == "2023-09-29T16:44:13+02:00"
    assert record_key(record) == b"-123946"


def test_crowd_station_west_of_utc() -> None:
    record = normalise(load_feed(CROWD_372382), "@-372382", FETCHED_AT)
    assert record["observed_at"] == "2023-08-20T19:20:22Z"
    assert record["observed_local"] == "2023-08-20T12:20:22-07:00"
    assert record["aqi"] == 155


def test_crowd_attributions_keep_only_name_and_url() -> None:
    record = normalise(load_feed(CROWD_372382), "@-372382", FETCHED_AT)
    assert record["attributions"] == [
        {"name": "Purple Air", "url": "https://www.purpleair.com/"},
        {"name": "World Air Quality Index Project", "url": "https://waqi.info/"},
    ]


def test_aqi_dash_becomes_null_and_sub_indices_are_kept() -> None:
    record = normalise(load_feed(AQI_DASH), "klundert", FETCHED_AT)
    assert record["aqi"] is None
    assert record["iaqi"]["pm10"] == 4
    assert record["dominant_pollutant"] == "pm10"


def test_time_with_only_tz_and_v_is_unusable() -> None:
    with pytest.raises(UnusableReading) as error:
        normalise(load_feed(NO_TIME_10002), "@10002", FETCHED_AT)
    assert str(error.value) == (
        "station 10002 (Rakokiventie siirrettävä, Nastola, Finland): "
        "no observation time in the response (time = {'tz': '+03:00', 'v': 0})"
    )


def test_empty_dominant_pollutant_becomes_null() -> None:
    record = normalise(load_feed(EMPTY_DOMINANT), "olivais", FETCHED_AT)
    assert record["dominant_pollutant"] is None


def test_documentation_example_with_string_geo_and_no_iso() -> None:
    record = normalise(load_feed(DOC_EXAMPLE), "chicago", FETCHED_AT)
    assert record["station"]["geo"] == [41.9136, -87.7239]
    assert all(type(value) is float for value in record["station"]["geo"])
    # s "2016-12-10 19:00:00" at -06:00 is 01:00 UTC the next day
    assert record["observed_at"] == "2016-12-11T01:00:00Z"
    assert record["observed_local"] == "2016-12-10T19:00:00-06:00"
    assert record["dominant_pollutant"] is None  # the example has no dominentpol
    assert record["attributions"] == []  # nor attributions


def test_2017_feed_without_iso_uses_s_and_tz() -> None:
    record = normalise(load_feed(HACKNEY_2017), "@7946", FETCHED_AT)
    assert record["observed_at"] == "2017-02-24T06:00:00Z"
    assert record["observed_local"] == "2017-02-24T06:00:00+00:00"
    assert record["station"]["url"] == "http://aqicn.org/city/united-kingdom/hackney-old-street/"


def test_aqi_above_500_is_kept_and_half_hour_offset_is_exact() -> None:
    bathinda = {path: data for path, data in cassette_feeds(COORDINATES_CASSETTE)}[
        "https://api.waqi.info/feed/geo:nan;nan/"
    ]
    record = normalise(bathinda, "geo:30.2;74.9", FETCHED_AT)
    assert record["aqi"] == 844
    assert record["observed_at"] == "2022-05-23T04:30:00Z"
    assert record["observed_local"] == "2022-05-23T10:00:00+05:30"


def test_stray_spaces_in_names_are_removed() -> None:
    data = load_feed(KLUNDERT)
    data["city"]["name"] = "  Klundert,   Brabant "
    record = normalise(data, "klundert", FETCHED_AT)
    assert record["station"]["name"] == "Klundert, Brabant"
    assert {"name": "Provincie Noord Brabant", "url": "http://www.brabantluchtmeet.net/"} in (
        record["attributions"]
    )


# --- time: API.md section 4 ----------------------------------------------------------------


def ha_feed_with_time(**time: object) -> dict:
    data = load_feed(HA_SENSOR)
    data["time"] = time
    return data


@pytest.mark.parametrize(
    ("time", "observed_at", "observed_local"),
    [
        pytest.param(
            {"s": "2023-08-07 17:00:00", "tz": "+02:00", "v": 1691427600},
            "2023-08-07T15:00:00Z",
            "2023-08-07T17:00:00+02:00",
            id="official s+tz",
        ),
        pytest.param(
            {"s": "2023-08-07 17:00:00", "tz": "+0200", "v": 1691427600},
            "2023-08-07T15:00:00Z",
            "2023-08-07T17:00:00+02:00",
            id="tz without colon (2017 form)",
        ),
        pytest.param(
            {"s": "2022-05-22 20:00:00", "tz": "-10:00", "v": 1653249600},
            "2022-05-23T06:00:00Z",
            "2022-05-22T20:00:00-10:00",
            id="Kapolei -10:00 crosses midnight",
        ),
        pytest.param(
            {"iso": "2023-08-07T17:00:00+02:00", "tz": "+02:00", "v": 0},
            "2023-08-07T15:00:00Z",
            "2023-08-07T17:00:00+02:00",
            id="official iso",
        ),
        pytest.param(
            {"s": "2023-09-29 16:44:13", "tz": "+02:00", "v": 1695998653},
            "2023-09-29T14:44:13Z",
            "2023-09-29T16:44:13+02:00",
            id="crowd s+tz",
        ),
        pytest.param(
            {"iso": "2023-09-29T14:44:13Z", "v": 1695998653},
            "2023-09-29T14:44:13Z",
            "2023-09-29T14:44:13+00:00",
            id="crowd iso Z without tz",
        ),
        pytest.param(
            {"s": "2023-08-07 17:00:00", "tz": "+02:00", "iso": "not a time"},
            "2023-08-07T15:00:00Z",
            "2023-08-07T17:00:00+02:00",
            id="unreadable iso falls back to s+tz",
        ),
    ],
)
def test_observed_at_is_the_true_utc_instant(
    time: dict, observed_at: str, observed_local: str
) -> None:
    record = normalise(ha_feed_with_time(**time), "utrecht", FETCHED_AT)
    assert record["observed_at"] == observed_at
    assert record["observed_local"] == observed_local


def test_time_v_is_never_used() -> None:
    honest = normalise(ha_feed_with_time(s="2023-08-07 17:00:00", tz="+02:00"), "x", FETCHED_AT)
    for v in (0, 1691427600, 1691420400, -5):
        record = normalise(
            ha_feed_with_time(s="2023-08-07 17:00:00", tz="+02:00", v=v), "x", FETCHED_AT
        )
        assert record["observed_at"] == honest["observed_at"]


@pytest.mark.parametrize(
    "time",
    [
        pytest.param({"tz": "+03:00", "v": 0}, id="tz and v only"),
        pytest.param({"v": 1691427600}, id="v only"),
        pytest.param({"s": "2023-08-07 17:00:00", "v": 1691427600}, id="s without tz"),
        pytest.param({"s": "2023-08-07 17:00:00", "tz": "CEST"}, id="tz not an offset"),
        pytest.param({"s": "yesterday", "tz": "+02:00"}, id="s not a time"),
        pytest.param({"iso": "2023-08-07T17:00:00"}, id="iso without offset"),
        pytest.param({"iso": 1691427600}, id="iso a number"),
        pytest.param({}, id="empty"),
    ],
)
def test_no_usable_time_is_unusable(time: dict) -> None:
    with pytest.raises(UnusableReading, match=r"^station 4584 \(de Jongweg, Utrecht\): no obs"):
        normalise(ha_feed_with_time(**time), "utrecht", FETCHED_AT)


@pytest.mark.parametrize("time", [None, "2023-08-07 17:00:00", [1, 2]])
def test_time_of_the_wrong_type_is_unusable(time: object) -> None:
    data = load_feed(HA_SENSOR)
    data["time"] = time
    with pytest.raises(UnusableReading, match="no observation time"):
        normalise(data, "utrecht", FETCHED_AT)


@pytest.mark.parametrize(
    "iso",
    ["0001-01-01T00:30:00+02:00", "1960-01-01T00:00:00+00:00"],
)
def test_implausible_observation_time_is_unusable(iso: str) -> None:
    with pytest.raises(UnusableReading, match="is not plausible"):
        normalise(ha_feed_with_time(iso=iso, tz="+02:00"), "utrecht", FETCHED_AT)


def test_observation_days_ahead_of_our_clock_is_kept() -> None:
    # The simulator's fast clock runs ahead of the wall clock; the API's time is the truth.
    record = normalise(
        ha_feed_with_time(iso="2023-10-25T18:00:00+02:00", tz="+02:00"), "x", FETCHED_AT
    )
    assert record["observed_at"] == "2023-10-25T16:00:00Z"


def test_observation_a_few_hours_ahead_of_our_clock_is_kept() -> None:
    record = normalise(
        ha_feed_with_time(iso="2023-10-20T18:00:00+02:00", tz="+02:00"), "x", FETCHED_AT
    )
    assert record["observed_at"] == "2023-10-20T16:00:00Z"


# --- other fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aqi", "expected"),
    [
        (29, 29),
        (0, 0),
        (844, 844),
        ("-", None),
        (" - ", None),
        ("", None),
        (None, None),
        ("27", 27),
        ("27.6", 28),
        (29.4, 29),
        (12.5, 13),
    ],
)
def test_aqi_forms(aqi: object, expected: int | None) -> None:
    data = load_feed(HA_SENSOR)
    data["aqi"] = aqi
    record = normalise(data, "utrecht", FETCHED_AT)
    assert record["aqi"] == expected
    assert record["aqi"] is None or type(record["aqi"]) is int


@pytest.mark.parametrize("aqi", ["abc", True, -3, float("nan"), {"v": 29}, [29]])
def test_aqi_that_is_not_a_number_is_unusable(aqi: object) -> None:
    data = load_feed(HA_SENSOR)
    data["aqi"] = aqi
    with pytest.raises(UnusableReading, match=r"^station 4584 \(de Jongweg, Utrecht\): aqi is"):
        normalise(data, "utrecht", FETCHED_AT)


def test_iaqi_keeps_numbers_converts_numeric_strings_and_drops_the_rest() -> None:
    data = load_feed(HA_SENSOR)
    data["iaqi"] = {
        "pm25": {"v": 23},
        "o3": {"v": 17.4},
        "no2": {"v": "8.2"},
        "pm10": {"v": "9"},
        "co": {"v": "-"},
        "so2": {"v": float("inf")},
        "t": {"v": None},
        "h": {},
        "p": 1016,
        "w": {"v": True},
    }
    record = normalise(data, "utrecht", FETCHED_AT)
    assert record["iaqi"] == {"pm25": 23, "o3": 17.4, "no2": 8.2, "pm10": 9}
    assert type(record["iaqi"]["pm10"]) is int


def test_missing_or_malformed_iaqi_and_attributions_become_empty() -> None:
    data = load_feed(HA_SENSOR)
    data["iaqi"] = "none"
    data["attributions"] = [{"url": "https://no-name.example/"}, "text", {"name": "  Only  "}]
    record = normalise(data, "utrecht", FETCHED_AT)
    assert record["iaqi"] == {}
    assert record["attributions"] == [{"name": "Only", "url": None}]


@pytest.mark.parametrize(
    "geo", [None, [], [1.0], ["a", "b"], [91, 5], [52, 181], "52,5", [52, True]]
)
def test_unusable_geo_becomes_null(geo: object) -> None:
    data = load_feed(HA_SENSOR)
    data["city"]["geo"] = geo
    assert normalise(data, "utrecht", FETCHED_AT)["station"]["geo"] is None


def test_missing_geo_and_url_become_null() -> None:
    data = load_feed(HA_SENSOR)
    del data["city"]["geo"], data["city"]["url"]
    station = normalise(data, "utrecht", FETCHED_AT)["station"]
    assert station["geo"] is None
    assert station["url"] is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "error", "msg": "Unknown ID"}, "response for '@123946' has no station idx"),
        ({"idx": "4584", "city": {"name": "x"}}, "response for '@123946' has no station idx"),
        ({"idx": True, "city": {"name": "x"}}, "response for '@123946' has no station idx"),
        ({"idx": 0, "city": {"name": "x"}}, "response for '@123946' has no station idx"),
        ({"idx": 4584, "time": {"iso": "2023-08-07T17:00:00+02:00"}}, "has no station name"),
        ("Unknown station", "is not a station feed"),
        (None, "is not a station feed"),
    ],
)
def test_feed_without_a_station_is_unusable(data: object, message: str) -> None:
    with pytest.raises(UnusableReading, match=message):
        normalise(data, "@123946", FETCHED_AT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fetched_at", "expected"),
    [
        (datetime(2026, 11, 23, 13, 7, 12, 345678, tzinfo=UTC), "2026-11-23T13:07:12.345Z"),
        (datetime(2026, 11, 23, 13, 7, 12, tzinfo=UTC), "2026-11-23T13:07:12.000Z"),
        (
            datetime(2026, 11, 23, 14, 7, 12, 999999, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-23T13:07:12.999Z",
        ),
    ],
)
def test_fetched_at_is_utc_with_milliseconds(fetched_at: datetime, expected: str) -> None:
    assert normalise(load_feed(HA_SENSOR), "utrecht", fetched_at)["fetched_at"] == expected


def test_naive_fetched_at_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        normalise(load_feed(HA_SENSOR), "utrecht", datetime(2026, 11, 23, 13, 7, 12))


def test_normalise_does_not_modify_its_input() -> None:
    data = load_feed(CROWD_A123946)
    before = copy.deepcopy(data)
    normalise(data, "A123946", FETCHED_AT)
    assert data == before


# --- encoding and keys ---------------------------------------------------------------------


def test_encoded_record_is_compact_utf8_json_in_built_order() -> None:
    record = normalise(load_feed(BEIJING), "beijing", FETCHED_AT)
    value = encode_record(record)
    assert value.startswith(b'{"schema_version":1,"source":"waqi","station":{"idx":1451,')
    assert "Beijing (北京)".encode() in value  # not \u escapes
    assert b": " not in value and b", " not in value.replace(b"Beijing (", b"")[:40]
    assert json.loads(value) == record


def test_record_key_is_the_station_idx_in_decimal() -> None:
    assert record_key(normalise(load_feed(HA_SENSOR), "utrecht", FETCHED_AT)) == b"4584"
    assert record_key(normalise(load_feed(CROWD_A123946), "A123946", FETCHED_AT)) == b"-123946"


def test_observed_instant_and_string_order_agree() -> None:
    records = [normalise(data, "q", FETCHED_AT) for _, data in ALL_FEEDS]
    by_text = sorted(records, key=lambda record: record["observed_at"])
    by_instant = sorted(records, key=observed_instant)
    assert [r["observed_at"] for r in by_text] == [r["observed_at"] for r in by_instant]
    assert observed_instant(records[0]).tzinfo is not None


# --- schema --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize(("name", "data"), ALL_FEEDS, ids=FEED_IDS)
def test_every_fixture_feed_gives_a_record_valid_against_the_schema(
    name: str, data: dict, validator: Draft202012Validator
) -> None:
    record = normalise(data, "query", FETCHED_AT)
    errors = [error.message for error in validator.iter_errors(record)]
    assert errors == []
    # and the bytes on the wire decode back to the same record
    assert decode_record(encode_record(record)) == record


def test_schema_version_constant_matches_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def broken(path: str, value: object) -> dict:
    """A valid record with one field replaced (value ...) or removed (value DELETE)."""
    record = normalise(load_feed(HA_SENSOR), "utrecht", FETCHED_AT)
    *parents, field = path.split(".")
    target = record
    for parent in parents:
        target = target[parent]
    if value is DELETE:
        del target[field]
    else:
        target[field] = value
    return record


DELETE = object()

BROKEN_RECORDS = [
    ("schema_version", 2),
    ("schema_version", "1"),
    ("source", "openaq"),
    ("station", DELETE),
    ("station.idx", "4584"),
    ("station.idx", 0),
    ("station.name", ""),
    ("station.geo", [52.1]),
    ("station.geo", ["52.1", "5.1"]),
    ("station.geo", [95.0, 5.1]),
    ("station.query", DELETE),
    ("station.extra", 1),
    ("observed_at", "2023-08-07T17:00:00+02:00"),
    ("observed_at", "2023-08-07 15:00:00Z"),
    ("observed_local", "2023-08-07T15:00:00Z"),
    ("aqi", "-"),
    ("aqi", -1),
    ("aqi", 29.5),
    ("dominant_pollutant", ""),
    ("iaqi", {"pm25": "23"}),
    ("iaqi", {"pm25": {"v": 23}}),
    ("attributions", [{"name": "x", "url": "y", "logo": "z.png"}]),
    ("attributions", [{"url": "y"}]),
    ("fetched_at", "2023-10-20T13:07:12Z"),
    ("fetched_at", DELETE),
    ("extra", True),
]


@pytest.mark.parametrize(
    ("path", "value"), BROKEN_RECORDS, ids=[f"{p}={v!r}"[:40] for p, v in BROKEN_RECORDS]
)
def test_schema_rejects_a_broken_record(
    path: str, value: object, validator: Draft202012Validator
) -> None:
    assert not validator.is_valid(broken(path, value))


# --- decode_record: the consumer's gate ----------------------------------------------------


def valid_value() -> bytes:
    return encode_record(normalise(load_feed(HA_SENSOR), "utrecht", FETCHED_AT))


def test_decode_accepts_a_record_with_extra_fields() -> None:
    record = json.loads(valid_value())
    record["future_field"] = {"anything": 1}
    assert decode_record(json.dumps(record).encode())["future_field"] == {"anything": 1}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(None, "empty message", id="tombstone"),
        pytest.param(b"", "empty message", id="empty"),
        pytest.param(b"\xff\xfe\x00garbage", "not UTF-8", id="binary"),
        pytest.param(json.dumps({"schema_version": 1}).encode("utf-16"), "not UTF-8", id="utf-16"),
        pytest.param(b"aqi=29", "not JSON", id="not json"),
        pytest.param(b'{"schema_version": 1', "not JSON", id="truncated"),
        pytest.param(b"[1, 2]", "a JSON array, not an object", id="array"),
        pytest.param(b'"text"', "a JSON string, not an object", id="string"),
        pytest.param(b"null", "a JSON null, not an object", id="null"),
        pytest.param(b"{}", "schema_version is None, expected 1", id="no version"),
        pytest.param(b'{"schema_version": 2}', "schema_version is 2, expected 1", id="v2"),
        pytest.param(b'{"schema_version": "1"}', "schema_version is '1'", id="version str"),
        pytest.param(b'{"schema_version": true}', "schema_version is True", id="version bool"),
        pytest.param(b'{"schema_version": 1.0}', "schema_version is 1.0", id="version float"),
    ],
)
def test_decode_rejects_what_is_not_a_record(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason):
        decode_record(value)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("source", "openaq", "source is 'openaq', expected 'waqi'"),
        ("station", DELETE, "station is missing"),
        ("station", [], "station is array, expected object"),
        ("station.idx", "4584", "station.idx is string, expected integer"),
        ("station.idx", True, "station.idx is boolean, expected integer"),
        ("station.idx", DELETE, "station.idx is missing"),
        ("station.name", None, "station.name is null, expected string"),
        ("station.geo", "52,5", "station.geo is string, expected array or null"),
        ("station.url", 5, "station.url is integer, expected string or null"),
        ("station.query", DELETE, "station.query is missing"),
        ("observed_at", DELETE, "observed_at is missing"),
        ("observed_at", 1691420400, "observed_at is integer, expected string"),
        ("observed_at", "2023-08-07T17:00:00+02:00", "observed_at '2023-08-07T17:00:00\\+02"),
        ("observed_local", "yesterday", "observed_local 'yesterday' is not in the record's"),
        ("aqi", "-", "aqi is string, expected integer or null"),
        ("aqi", 29.0, "aqi is number, expected integer or null"),
        ("aqi", DELETE, "aqi is missing"),
        ("dominant_pollutant", 5, "dominant_pollutant is integer, expected string or null"),
        ("iaqi", [], "iaqi is array, expected object"),
        ("attributions", None, "attributions is null, expected array"),
        ("fetched_at", "2023-10-20T13:07:12Z", "fetched_at '2023-10-20T13:07:12Z' is not in"),
    ],
)
def test_decode_rejects_a_record_with_a_missing_or_mistyped_field(
    path: str, value: object, reason: str
) -> None:
    with pytest.raises(InvalidRecord, match=reason):
        decode_record(json.dumps(broken(path, value)).encode())


def test_deeply_nested_json_is_an_invalid_record_not_a_crash() -> None:
    with pytest.raises(InvalidRecord, match="nested too deeply"):
        decode_record(b"[" * 100_000 + b"]" * 100_000)


def test_a_lone_surrogate_in_a_name_is_dropped_so_the_record_can_be_encoded() -> None:
    data = load_feed(HA_SENSOR)
    data["city"]["name"] = "Utrecht \ud800Griftpark"
    record = normalise(data, "utrecht", FETCHED_AT)
    assert record["station"]["name"] == "Utrecht Griftpark"
    assert decode_record(encode_record(record)) == record
