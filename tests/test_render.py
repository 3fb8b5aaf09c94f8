import copy
import json
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aqistream.record import normalise
from aqistream.render import (
    HAZARDOUS,
    KIND_LINES,
    NO_DATA,
    RESET,
    aqi_category,
    daily_header,
    format_alert,
    format_daily,
    format_nowcast,
    format_pretty,
    pretty_header,
    record_matches,
    shown_aqi,
)
from tests.test_windows_outputs import samples as kinds_samples

FIXTURES = Path(__file__).parent / "fixtures" / "waqi"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

RECORD = {
    "schema_version": 1,
    "source": "waqi",
    "station": {
        "idx": 5419,
        "name": "Zürich-Kaserne, Switzerland",
        "geo": [47.377, 8.53],
        "url": "https://aqicn.org/city/switzerland/zurich/kaserne/",
        "query": "zurich",
    },
    "observed_at": "2026-11-23T13:00:00Z",
    "observed_local": "2026-11-23T14:00:00+01:00",
    "aqi": 23,
    "dominant_pollutant": "pm25",
    "iaqi": {"pm25": 23, "pm10": 9, "o3": 17.4, "no2": 8.2, "t": 4.1, "h": 81},
    "attributions": [{"name": "World Air Quality Index Project", "url": "https://waqi.info/"}],
    "fetched_at": "2026-11-23T13:07:12.345Z",
}


def record(**changes: object) -> dict:
    """RECORD with top-level fields replaced; station fields as station_<field>=..."""
    changed = copy.deepcopy(RECORD)
    for field, value in changes.items():
        if field.startswith("station_"):
            changed["station"][field.removeprefix("station_")] = value
        else:
            changed[field] = value
    return changed


def screen_width(text: str) -> int:
    """Columns a terminal gives the text: escapes take none, wide CJK two, combining marks none."""
    text = ANSI_ESCAPE.sub("", text)
    width = 0
    for character in text:
        if unicodedata.combining(character):
            continue
        width += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
    return width


# --- categories ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aqi", "label"),
    [
        (0, "Good"),
        (50, "Good"),
        (51, "Moderate"),
        (100, "Moderate"),
        (101, "Unhealthy for Sensitive Groups"),
        (150, "Unhealthy for Sensitive Groups"),
        (151, "Unhealthy"),
        (200, "Unhealthy"),
        (201, "Very Unhealthy"),
        (300, "Very Unhealthy"),
        (301, "Hazardous"),
        (844, "Hazardous"),
        (None, "no data"),
    ],
)
def test_category_boundaries(aqi: int | None, label: str) -> None:
    assert aqi_category(aqi).label == label
    line = format_pretty(record(aqi=aqi), colour=False)
    assert f" {label} " in line


def test_each_category_has_its_own_colour() -> None:
    colours = [aqi_category(aqi).colour for aqi in (0, 51, 101, 151, 201, 301, None)]
    assert len(set(colours)) == 7
    assert all(colour.startswith("\x1b[") and colour.endswith("m") for colour in colours)
    assert aqi_category(75).colour == "\x1b[38;5;226m"  # yellow
    assert aqi_category(120).colour == "\x1b[38;5;208m"  # orange
    assert HAZARDOUS.colour.endswith("38;5;88m")  # maroon
    assert NO_DATA is aqi_category(None)


# --- the line ------------------------------------------------------------------------------


def test_pretty_line_reads_well() -> None:
    assert format_pretty(RECORD, colour=False) == (
        "2026-11-23 14:00 +01:00  Zürich-Kaserne, Switzerland       23 Good"
        "                            PM2.5        23      9"
    )


def test_header_lines_up_with_the_columns() -> None:
    header = pretty_header()
    line = format_pretty(RECORD, colour=False)
    assert header.startswith("OBSERVED (LOCAL)         STATION")
    assert len(header) == len(line)
    # each title ends where its right-aligned column ends, or starts where a left one starts
    assert line[header.index("STATION")] == "Z"
    assert header.index("AQI") + len("AQI") == line.index("23 Good") + 2
    assert header.index("CATEGORY") == line.index("Good")
    assert header.index("DOMINANT") == line.index("PM2.5")
    assert header.rstrip().endswith("PM2.5   PM10")
    assert line.endswith("   23      9")


def test_colourless_line_has_no_escape_codes() -> None:
    for aqi in (0, 51, 101, 151, 201, 301, None):
        assert "\x1b" not in format_pretty(record(aqi=aqi), colour=False)
    assert "\x1b" not in pretty_header()


def test_colour_wraps_aqi_and_category_only() -> None:
    line = format_pretty(record(aqi=120), colour=True)
    assert "\x1b[38;5;208m 120 Unhealthy for Sensitive Groups\x1b[0m" in line
    assert ANSI_ESCAPE.sub("", line) == format_pretty(record(aqi=120), colour=False)
    assert pretty_header(colour=True) == f"\x1b[1m{pretty_header()}\x1b[0m"


def test_missing_values_show_a_dash() -> None:
    line = format_pretty(record(aqi=None, dominant_pollutant=None, iaqi={"t": 4}), colour=False)
    assert line.endswith("   - no data                         -             -      -")


@pytest.mark.parametrize(
    ("pollutant", "shown"),
    [("pm25", "PM2.5"), ("pm10", "PM10"), ("o3", "O3"), ("neph", "neph"), ("p", "p")],
)
def test_dominant_pollutant_names(pollutant: str, shown: str) -> None:
    line = format_pretty(record(dominant_pollutant=pollutant), colour=False)
    assert f"  {shown:<8}  " in line


@pytest.mark.parametrize(
    ("pm25", "shown"), [(23, "23"), (17.4, "17.4"), (2.0, "2"), (155.55, "155.6"), ("x", "-")]
)
def test_sub_index_values(pm25: object, shown: str) -> None:
    line = format_pretty(record(iaqi={"pm25": pm25, "pm10": 9}), colour=False)
    assert line.endswith(f"{shown:>5}      9")


def test_crowd_station_time_with_seconds_and_negative_offset() -> None:
    line = format_pretty(record(observed_local="2023-08-20T12:20:22-07:00"), colour=False)
    assert line.startswith("2023-08-20 12:20 -07:00  ")


NAMES = [
    "Bern",
    "Zürich-Kaserne, Switzerland",
    "Zu\u0308rich (decomposed ü)",
    "Beijing (北京)",
    "Tokiwachō, Kitami-shi, Hokkaidō, Japan (北見市常磐町大気測定局舎北見市)",
    "Greenwich - Trafalgar Road (Hoskins St), United Kingdom",
    "",
]


@pytest.mark.parametrize("colour", [False, True])
def test_all_lines_have_the_same_width_whatever_the_name(colour: bool) -> None:
    lines = [
        format_pretty(record(station_name=name, aqi=aqi), colour=colour)
        for name in NAMES
        for aqi in (7, 844, None)
    ]
    widths = {screen_width(line) for line in lines}
    assert widths == {screen_width(pretty_header())}
    # and the aqi column starts at the same screen column on every line
    starts = {screen_width(ANSI_ESCAPE.sub("", line).split("  ")[1]) for line in lines[:3]}
    assert len(starts) == 1


def test_long_name_is_cut_with_an_ellipsis() -> None:
    line = format_pretty(record(station_name=NAMES[5]), colour=False)
    assert "  Greenwich - Trafalgar Road (H…    23 Good" in line


def test_cut_never_splits_a_wide_character() -> None:
    # 30 columns: 14 two-column characters, the ellipsis, and one space of padding
    line = format_pretty(record(station_name="北京市" * 10), colour=False)
    assert "  " + "北京市北京市北京市北京市北京" + "… " + "    23 Good" in line
    assert screen_width(line) == screen_width(pretty_header())


def test_control_characters_in_data_never_reach_the_terminal() -> None:
    nasty = record(station_name="Evil\x1b[2J\x07Station", dominant_pollutant="\x1b[31mx")
    line = format_pretty(nasty, colour=False)
    assert "\x1b" not in line and "\x07" not in line
    assert "Evil [2J Station" in line


def test_every_fixture_feed_renders() -> None:
    fetched_at = datetime(2023, 10, 20, tzinfo=UTC)
    header_width = screen_width(pretty_header())
    rendered = 0
    for path in sorted(FIXTURES.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        data = document.get("data") if isinstance(document, dict) else None
        if not (isinstance(data, dict) and "time" in data and "s" in data["time"]):
            continue
        line = format_pretty(normalise(data, path.stem, fetched_at), colour=False)
        assert screen_width(line) == header_width, line
        rendered += 1
    assert rendered >= 15


# --- filters -------------------------------------------------------------------------------

CROWD = record(station_idx=-123946, station_name="Meteoroosendaalwest", station_query="A123946")


@pytest.mark.parametrize(
    ("wanted", "subject", "matches"),
    [
        ("5419", RECORD, True),
        ("@5419", RECORD, True),
        ("541", RECORD, False),
        ("zurich", RECORD, True),  # the stations.txt line, and the name without accents
        ("Zürich", RECORD, True),
        ("KASERNE", RECORD, True),
        ("switzerland", RECORD, True),
        ("geneva", RECORD, False),
        ("-123946", CROWD, True),
        ("A123946", CROWD, True),
        ("a123946", CROWD, True),
        ("@-123946", CROWD, True),
        ("123946", CROWD, False),
        ("roosendaal", CROWD, True),
        ("", RECORD, False),
    ],
)
def test_station_filter(wanted: str, subject: dict, matches: bool) -> None:
    assert record_matches(subject, [wanted], min_aqi=None) is matches


def test_query_filter_matches_the_stations_line_even_if_the_name_differs() -> None:
    subject = record(station_query="@5419", station_name="Kaserne")
    assert record_matches(subject, ["@5419"], None)
    subject = record(station_query="geo:47.37;8.54", station_name="Kaserne", station_idx=1)
    assert record_matches(subject, ["GEO:47.37;8.54"], None)


def test_several_station_filters_mean_any_of_them() -> None:
    assert record_matches(RECORD, ["geneva", "5419"], None)
    assert record_matches(CROWD, ["geneva", "5419", "A123946"], None)
    assert not record_matches(CROWD, ["geneva", "5419"], None)


def test_no_filters_pass_everything() -> None:
    assert record_matches(RECORD, [], None)
    assert record_matches(record(aqi=None), [], None)


@pytest.mark.parametrize(
    ("aqi", "min_aqi", "passes"),
    [(23, 23, True), (23, 24, False), (844, 100, True), (0, 0, True), (None, 0, False)],
)
def test_min_aqi_filter(aqi: int | None, min_aqi: int, passes: bool) -> None:
    assert record_matches(record(aqi=aqi), [], min_aqi) is passes


def test_station_and_min_aqi_filters_both_apply() -> None:
    assert record_matches(record(aqi=120), ["zurich"], 100)
    assert not record_matches(record(aqi=80), ["zurich"], 100)
    assert not record_matches(record(aqi=120), ["geneva"], 100)


# --- aggregator.py's kinds ---------------------------------------------------------------------


def test_daily_lines_show_hours_the_aqi_range_and_the_epa_daily_aqi():
    whole, partial = kinds_samples()["daily"]
    line = format_daily(whole, colour=False)
    assert line.startswith(
        "2026-11-24  Zürich-Kaserne, Switzerland     24/24 h    40-40    40 Good"
    )
    assert line.endswith(f"{whole['daily_aqi']['pm10']['aqi']} Good")
    # The category starts under the header's PM2.5 column, after the 4-wide AQI.
    assert len(line.split("Good")[0]) == len(daily_header().split("PM2.5")[0]) + 5
    # One reading, no aqi, no particles: no range, no daily AQI.
    assert format_daily(partial, colour=False).split()[-5:] == ["1/24", "h", "-", "-", "-"]


def test_nowcast_and_alert_lines():
    nowcasts, alerts = kinds_samples()["nowcast"], kinds_samples()["alert"]
    first, last = format_nowcast(nowcasts[0], colour=False), format_nowcast(nowcasts[-1], False)
    assert first.startswith("2026-11-24 01:00 +01:00  Zürich-Kaserne, Switzerland     ")
    assert first.split()[-2:] == ["-", "-"]  # one hour: no NowCast yet
    assert nowcasts[-1]["category"] in last and str(nowcasts[-1]["aqi"]) in last
    line = format_alert(alerts[0], colour=False)
    pollutant = {"pm25": "PM2.5", "pm10": "PM10"}[alerts[0]["dominant"]]
    assert line.endswith(f"ALERT (first) → {alerts[0]['category']} (NowCast AQI "
                         f"{alerts[0]['aqi']}, {pollutant})")  # fmt: skip
    moved = format_alert(alerts[1], colour=False)
    assert f"ALERT {alerts[1]['previous']} → {alerts[1]['category']}" in moved


def test_kind_lines_are_coloured_only_when_asked():
    samples = kinds_samples()
    for kind, record in (("daily", samples["daily"][0]), ("nowcast", samples["nowcast"][-1]),
                         ("alert", samples["alert"][-1])):  # fmt: skip
        titles, line = KIND_LINES[kind]
        assert "\x1b" not in line(record, False) and "\x1b" not in titles(False)
        coloured = line(record, True)
        assert RESET in coloured
        assert ANSI_ESCAPE.sub("", coloured) == line(record, False)


def test_filters_apply_to_the_kinds_too():
    day, nowcast = kinds_samples()["daily"][0], kinds_samples()["nowcast"][-1]
    assert shown_aqi(day) == max(f["aqi"] for f in day["daily_aqi"].values())
    assert shown_aqi(nowcast) == nowcast["aqi"]
    assert record_matches(day, ["zurich"], None)
    assert record_matches(nowcast, ["@5419"], None)
    assert not record_matches(day, ["basel"], None)
    assert not record_matches(day, [], shown_aqi(day) + 1)
    assert record_matches(nowcast, [], nowcast["aqi"])
