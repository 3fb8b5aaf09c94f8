"""The WAQI simulator's pure core: stations, local time, the EPA scale, readings, quota, faults."""

from __future__ import annotations

import time
from statistics import mean

import pytest

from aqistream.waqi_sim import epa_scale
from aqistream.waqi_sim.api import Reply, Request, parse_target
from aqistream.waqi_sim.catalogue import (
    CROWD,
    NO_TIME,
    OFFICIAL,
    REPORTING,
    STALE,
    STATUSES,
    UNRATED,
    build_catalogue,
    generate_stations,
    name_key,
    stations_of,
)
from aqistream.waqi_sim.clock import SimulatedClock
from aqistream.waqi_sim.faults import NO_FAULT, SERVER_ERROR, Faults, FaultSettings
from aqistream.waqi_sim.localtime import (
    AU_DST,
    EU_DST,
    US_DST,
    local_iso,
    offset_text,
    parse_instant,
    utc_offset_minutes,
)
from aqistream.waqi_sim.quota import Quota, QuotaSettings
from aqistream.waqi_sim.responses import feed_time
from aqistream.waqi_sim.served import ServedRecord
from aqistream.waqi_sim.server import redact
from aqistream.waqi_sim.world import World

NOV_23 = parse_instant("2026-11-23T13:20:00Z")


@pytest.fixture(scope="module")
def catalogue():
    return build_catalogue(seed=1, generated=400)


# --- catalogue ----------------------------------------------------------------------------------


def test_zurich_is_the_architecture_example(catalogue):
    zurich = catalogue.by_idx(5419)
    assert (zurich.idx, zurich.name, zurich.geo, zurich.url) == (
        5419,
        "Zürich-Kaserne, Switzerland",
        (47.377, 8.530),
        "https://aqicn.org/city/switzerland/zurich/kaserne/",
    )


@pytest.mark.parametrize(
    ("spelling", "idx"),
    [
        ("zurich", 5419),
        ("Zürich", 5419),
        ("ZUERICH", 5419),
        ("st. gallen", 5422),
        ("st-gallen", 5422),
        ("Sankt Gallen", 5422),
        ("neuchatel", 5416),
        ("Neuchâtel", 5416),
        ("Genève", 5413),
        ("geneva", 5413),
        ("switzerland/zurich/kaserne", 5419),
    ],
)
def test_name_lookup_ignores_case_accents_and_punctuation(catalogue, spelling, idx):
    assert catalogue.by_name(spelling).idx == idx


def test_name_key_keeps_letters_and_digits_only():
    assert (
        name_key("St. Gallen-Blumenbergplatz, Switzerland") == "stgallenblumenbergplatzswitzerland"
    )
    assert name_key("  -- ") == ""


def test_generating_20000_stations_takes_under_two_seconds():
    began = time.perf_counter()
    stations = generate_stations(seed=0, count=20_000)
    assert time.perf_counter() - began < 2.0
    assert len({station.idx for station in stations}) == 20_000


def test_generated_stations_are_half_official_and_mostly_crowd_otherwise(catalogue):
    generated = catalogue.stations[9:]
    official = [s for s in generated if s.network == OFFICIAL]
    crowd = [s for s in generated if s.network == CROWD]
    assert len(official) >= len(generated) / 2
    assert len(crowd) >= 0.4 * len(generated)
    assert all(s.idx > 0 for s in official) and all(s.idx < 0 for s in crowd)


def test_every_station_kind_exists_even_among_a_few_stations():
    small = build_catalogue(seed=9, generated=12)
    kinds = {(s.network, s.status) for s in small.stations}
    assert {(OFFICIAL, status) for status in STATUSES} <= kinds
    assert {(CROWD, REPORTING), (CROWD, STALE), (CROWD, UNRATED)} <= kinds


def test_a_smaller_count_is_a_prefix_of_a_larger_one():
    few, many = generate_stations(4, 50), generate_stations(4, 200)
    assert [(s.idx, s.name, s.geo) for s in few] == [(s.idx, s.name, s.geo) for s in many[:50]]


def test_the_seed_changes_the_generated_stations():
    assert [s.name for s in generate_stations(1, 30)] != [s.name for s in generate_stations(2, 30)]


def test_every_generated_station_resolves_by_its_name(catalogue):
    for station in catalogue.stations:
        assert catalogue.by_name(station.name) is station


def test_geo_skips_stations_without_a_current_aqi(catalogue):
    for station in stations_of(catalogue, network=OFFICIAL, status=STALE):
        nearest = catalogue.nearest_reporting(*station.geo)
        assert nearest is not station and nearest.status == REPORTING


# --- local time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("std", "rule", "instant", "offset"),
    [
        (60, EU_DST, "2026-01-15T12:00:00Z", 60),
        (60, EU_DST, "2026-07-15T12:00:00Z", 120),
        (60, EU_DST, "2026-03-29T00:59:59Z", 60),  # the last Sunday of March, 01:00 UTC
        (60, EU_DST, "2026-03-29T01:00:00Z", 120),
        (60, EU_DST, "2026-10-25T00:59:59Z", 120),
        (60, EU_DST, "2026-10-25T01:00:00Z", 60),
        (-300, US_DST, "2026-03-08T06:59:59Z", -300),  # 02:00 EST on the 2nd Sunday of March
        (-300, US_DST, "2026-03-08T07:00:00Z", -240),
        (-300, US_DST, "2026-11-01T05:59:59Z", -240),  # 02:00 EDT on the 1st Sunday of November
        (-300, US_DST, "2026-11-01T06:00:00Z", -300),
        (600, AU_DST, "2026-01-15T00:00:00Z", 660),
        (600, AU_DST, "2026-06-15T00:00:00Z", 600),
        (330, "none", "2026-06-15T00:00:00Z", 330),
    ],
)
def test_utc_offsets_follow_daylight_saving(std, rule, instant, offset):
    assert utc_offset_minutes(std, rule, parse_instant(instant)) == offset


def test_offsets_are_written_like_waqi():
    assert [offset_text(m) for m in (120, -600, 330, 0)] == ["+02:00", "-10:00", "+05:30", "+00:00"]
    assert local_iso(int(parse_instant("2023-08-07T15:00:00Z")), 120) == "2023-08-07T17:00:00+02:00"


# --- the EPA scale ------------------------------------------------------------------------------


def test_epa_breakpoints_map_to_their_indices():
    assert epa_scale.sub_index("pm25", 12.0) == pytest.approx(50)
    assert epa_scale.sub_index("pm25", 35.4) == pytest.approx(100)
    assert epa_scale.sub_index("pm10", 604) == pytest.approx(500)
    assert epa_scale.sub_index("o3", 70) == pytest.approx(100)


def test_the_scale_goes_past_500_and_inverts():
    assert epa_scale.sub_index("pm10", 1000) > 800
    for pollutant in epa_scale.POLLUTANTS:
        for index in (7.5, 42, 150, 333, 844):
            concentration = epa_scale.concentration_for(pollutant, index)
            assert epa_scale.sub_index(pollutant, concentration) == pytest.approx(index)


# --- readings over time -------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_readings_and_another_seed_does_not(catalogue):
    stations = catalogue.stations[:60]
    first = [World(5).reading(s, NOV_23) for s in stations]
    again = [World(5).reading(s, NOV_23) for s in stations]
    other = [World(6).reading(s, NOV_23) for s in stations]
    assert first == again
    assert first != other


def test_official_readings_are_on_the_hour_or_the_half_hour(catalogue):
    world = World(1)
    minutes = set()
    for station in stations_of(catalogue, network=OFFICIAL, status=REPORTING):
        observed = world.observed_at(station, NOV_23)
        assert NOV_23 - 3600 < observed <= NOV_23
        assert observed % 60 == 0
        minutes.add(observed % 3600 // 60)
        if station.std_offset_minutes % 60 == 30:
            assert observed % 3600 == 1800
    assert minutes == {0, 30}


def test_crowd_readings_come_once_an_hour_at_their_own_second(catalogue):
    world = World(1)
    crowd = stations_of(catalogue, network=CROWD, status=REPORTING)
    seconds = {world.observed_at(s, NOV_23) % 3600 for s in crowd}
    assert len(seconds) > len(crowd) / 2  # arbitrary seconds, not a shared schedule
    for station in crowd[:20]:
        observed = world.observed_at(station, NOV_23)
        assert world.observed_at(station, observed + 3599) == observed
        assert world.observed_at(station, observed + 3600) == observed + 3600


def test_stale_stations_stay_frozen_days_old(catalogue):
    world = World(1)
    stale = stations_of(catalogue, status=STALE)
    unchanged = 0
    for station in stale:
        frozen = world.observed_at(station, NOV_23)
        assert NOV_23 - frozen >= 2 * 86400
        later = world.observed_at(station, NOV_23 + 3 * 3600)
        assert later >= frozen  # it only ever jumps forward, when a new stale period begins
        unchanged += later == frozen
    assert unchanged > len(stale) / 2


def test_aqi_is_the_rounded_sub_index_of_the_dominant_pollutant(catalogue):
    world = World(1)
    for station in stations_of(catalogue, status=REPORTING):
        reading = world.reading(station, NOV_23)
        pollutants = {k: v for k, v in reading.iaqi if k in station.pollutants}
        assert reading.dominant_pollutant == max(pollutants, key=pollutants.get)
        assert reading.aqi == round(pollutants[reading.dominant_pollutant])


def test_quirky_stations_say_dash_but_keep_values(catalogue):
    world = World(1)
    dominants = set()
    for station in stations_of(catalogue, status=UNRATED) + stations_of(catalogue, status=STALE):
        reading = world.reading(station, NOV_23)
        assert reading.aqi is None
        assert set(station.pollutants) <= {key for key, _ in reading.iaqi}
        dominants.add(reading.dominant_pollutant)
    assert "" in dominants and dominants - {""}
    for station in stations_of(catalogue, status=NO_TIME):
        reading = world.reading(station, NOV_23)
        assert reading.observed_at is None and reading.aqi is None
        assert {key for key, _ in reading.iaqi} <= {"t", "h", "p", "w", "wg", "dew"}


def test_hotspots_sometimes_go_past_500():
    catalogue = build_catalogue(seed=1, generated=200)
    world = World(1)
    hotspots = [s for s in catalogue.stations if s.hotspot]
    assert hotspots
    aqis = [world.reading(s, NOV_23 + hour * 3600).aqi for s in hotspots for hour in range(300)]
    above = [aqi for aqi in aqis if aqi > 500]
    assert 0 < len(above) < 0.1 * len(aqis)


def test_values_follow_the_time_of_day(catalogue):
    """Ozone peaks in the afternoon, particles in the rush hours."""
    world = World(1)
    zurich = catalogue.by_idx(5419)

    def average(key: str, utc_hour: int) -> float:
        days = range(60)
        moments = [int(NOV_23) // 86400 * 86400 + day * 86400 + utc_hour * 3600 for day in days]
        return mean(dict(world.reading(zurich, m).iaqi)[key] for m in moments)

    assert average("o3", 14) > 1.3 * average("o3", 3)  # 15:00 vs 04:00 in Zurich (+01:00)
    assert average("pm25", 19) > 1.2 * average("pm25", 14)


def test_official_v_is_local_wall_clock_and_crowd_v_is_the_true_epoch(catalogue):
    world = World(1)
    official = catalogue.by_idx(5419)
    crowd = stations_of(catalogue, network=CROWD, status=REPORTING)[0]
    official_time = feed_time(official, world.reading(official, NOV_23))
    assert official_time["v"] == parse_instant(official_time["iso"]) + 3600
    assert official_time["iso"].endswith("+01:00")
    crowd_time = feed_time(crowd, world.reading(crowd, NOV_23))
    assert crowd_time["v"] == parse_instant(crowd_time["iso"])
    assert crowd_time["iso"].endswith("Z")


def test_forecast_starts_two_days_before_today_and_crowd_has_none(catalogue):
    world = World(1)
    daily = world.forecast(catalogue.by_idx(5419), NOV_23)
    assert daily["pm25"][0]["day"] == "2026-11-21"
    assert set(daily) >= {"o3", "pm10", "pm25"}
    assert world.forecast(stations_of(catalogue, network=CROWD)[0], NOV_23) is None


# --- routing ------------------------------------------------------------------------------------


def test_double_slashes_redirect_with_the_query_kept():
    reply = parse_target("/feed//london/?token=abc")
    assert isinstance(reply, Reply)
    assert (reply.status, reply.location, reply.body) == (301, "/feed/london/?token=abc", b"")


def test_feed_names_are_percent_decoded_and_the_slash_is_optional():
    assert parse_target("/feed/St.%20Gallen?token=t") == Request(
        "feed", "St. Gallen", {"token": "t"}
    )


# --- quota, faults, record, clock ---------------------------------------------------------------


def test_quota_allows_a_burst_then_refills_with_simulated_time():
    quota = Quota(QuotaSettings(per_minute=60, burst=3))
    assert [quota.allow("t", 100.0) for _ in range(4)] == [True, True, True, False]
    assert quota.allow("other", 100.0)  # buckets are per token
    assert not quota.allow("t", 100.5)
    assert quota.allow("t", 101.0)  # 60 a minute: one per simulated second
    assert not quota.allow("t", 50.0)  # a clock set backwards refills nothing


def test_quota_zero_is_off():
    quota = Quota(QuotaSettings(per_minute=0, burst=1))
    assert all(quota.allow("t", 0.0) for _ in range(500))


def test_fault_rolls_repeat_for_the_same_seed():
    settings = FaultSettings(error_rate=0.3, empty_rate=0.2)
    one, two = Faults(settings, seed=4), Faults(settings, seed=4)
    assert [one.roll() for _ in range(200)] == [two.roll() for _ in range(200)]
    faults = [one.roll().fault for _ in range(1000)]
    assert 200 < faults.count(SERVER_ERROR) < 400
    assert faults.count(NO_FAULT) > 350


def test_fault_settings_reject_impossible_rates():
    with pytest.raises(ValueError):
        FaultSettings(error_rate=0.7, empty_rate=0.7).validate()


def test_the_record_counts_distinct_readings_and_requests_per_token():
    wall_clock = iter([1795481236.9451, 1795481299.0])
    record = ServedRecord(wall_clock=lambda: next(wall_clock))
    record.reading(5419, 1795438800, now=1795440000.0)
    record.reading(5419, 1795438800, now=1795440100.0)
    record.request("t", "answered")
    record.request(None, "invalid_key")
    assert record.readings_json() == [
        {
            "idx": 5419,
            "observed_at": "2026-11-23T13:00:00Z",
            "first_served_at": "2026-11-23T13:20:00Z",
            "first_served_wall": 1795481236.945,
            "times_served": 2,
        }
    ]
    tokens = record.tokens_json()
    assert tokens["t"]["requests"] == 1 and tokens["t"]["answered"] == 1
    assert tokens["(no token)"]["invalid_key"] == 1


def test_the_clock_runs_faster_and_jumps():
    real = [1000.0]
    clock = SimulatedClock(start=NOV_23, hour_seconds=5, monotonic=lambda: real[0])
    real[0] += 5
    assert clock.now() == pytest.approx(NOV_23 + 3600)
    clock.advance(60)
    assert clock.now() == pytest.approx(NOV_23 + 3660)
    clock.set(NOV_23)
    assert clock.now() == pytest.approx(NOV_23)


def test_logged_urls_never_show_the_token():
    line = '"GET /feed/zurich/?token=s3cret&x=1 HTTP/1.1" 200'
    assert "s3cret" not in redact(line)
    assert "token=REDACTED&x=1" in redact(line)
