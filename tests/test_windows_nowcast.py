"""A station's NowCast history: the records on every reading, and the alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aqistream.windows import epa, nowcast
from aqistream.windows.localday import utc_ms
from aqistream.windows.reading import compact_reading
from tests.test_windows_epa import AIRNOW_HOURS_OLDEST_FIRST

START = datetime(2026, 11, 24, 0, tzinfo=UTC)


def reading(hour: int, **iaqi: float) -> dict:
    moment = START + timedelta(hours=hour)
    local = moment + timedelta(hours=1)
    record = {
        "station": {"idx": 5419, "name": "Zürich-Kaserne, Switzerland"},
        "observed_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "observed_local": local.strftime("%Y-%m-%dT%H:%M:%S") + "+01:00",
        "aqi": None,
        "iaqi": iaqi,
    }
    return compact_reading(record, utc_ms(record["observed_at"]), 60, 0)


def feed(readings: list[dict]) -> list[tuple[dict, dict | None]]:
    history = nowcast.new_history()
    results = []
    for one in readings:
        history, figures, alert = nowcast.observe(history, one)
        results.append((figures, alert))
    return results


def test_the_airnow_example_through_waqi_sub_indices():
    # WAQI would send each hour's concentration as its sub-index.
    hours = [
        reading(h, pm25=epa.sub_index("pm25", c)) for h, c in enumerate(AIRNOW_HOURS_OLDEST_FIRST)
    ]
    figures, _ = feed(hours)[-1]
    assert figures["pm25"] == {
        "concentration": 17.4,
        "aqi": 62,
        "category": "Moderate",
        "hours": 12,
    }
    assert figures["pm10"] is None
    assert (figures["aqi"], figures["category"], figures["dominant"]) == (62, "Moderate", "pm25")
    assert figures["kind"] == "nowcast" and figures["observed_at"] == "2026-11-24T11:00:00Z"


def test_no_nowcast_until_two_of_the_last_three_hours_then_the_higher_of_pm25_and_pm10():
    results = feed([reading(0, pm25=30, pm10=80), reading(1, pm25=30, pm10=80)])
    assert results[0][0]["pm25"] is None and results[0][0]["aqi"] is None
    assert results[0][1] is None  # nothing to announce yet
    second = results[1][0]
    assert second["aqi"] == max(second["pm25"]["aqi"], second["pm10"]["aqi"]) == 80
    assert second["dominant"] == "pm10"


def test_a_gap_of_two_hours_suspends_the_nowcast():
    results = feed([reading(0, pm25=30), reading(1, pm25=30), reading(4, pm25=30)])
    assert results[1][0]["pm25"] is not None
    assert results[2][0]["pm25"] is None


def test_the_last_36_hours_are_kept_for_readings_that_arrive_late():
    history = nowcast.new_history()
    for hour in range(60):
        history, _, _ = nowcast.observe(history, reading(hour, pm25=20))
    kept = sorted(map(int, history["hourly"]["pm25"]))
    newest = utc_ms("2026-11-26T11:00:00Z") // 3_600_000  # hour 59
    assert kept == list(range(newest - nowcast.KEPT_HOURS + 1, newest + 1))
    # A reading of 20 hours ago, arriving now, has its own 12 hours before it.
    _, late, _ = nowcast.observe(history, reading(39, pm25=20))
    assert late["pm25"]["hours"] == 12


def test_alerts_on_every_category_change_and_back_the_first_with_previous_none():
    levels = [20, 20, 20, 80, 80, 80, 80, 20, 20, 20, 20, 20, 20]
    results = feed([reading(h, pm25=v) for h, v in enumerate(levels)])
    alerts = [(alert["previous"], alert["category"]) for _, alert in results if alert]
    assert alerts == [(None, "Good"), ("Good", "Moderate"), ("Moderate", "Good")]
    announced = None
    for figures, alert in results:
        if figures["category"] not in (None, announced):
            assert alert["category"] == figures["category"]
            assert alert["aqi"] == figures["aqi"]
            announced = figures["category"]
        else:
            assert alert is None
