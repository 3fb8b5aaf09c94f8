"""The EPA maths against EPA's own numbers: Table 5, the worked examples, the NowCast."""

from __future__ import annotations

import pytest

from aqistream.windows import epa

# The NowCast example of EPA/AirNow ("Computing the NowCast"): 12 hourly PM2.5
# concentrations, oldest first; range 80, so the weight factor is 0.5; NowCast 17.4 µg/m³.
AIRNOW_HOURS_OLDEST_FIRST = [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]


def hourly(values_oldest_first: list[float | None], current_hour: int = 100) -> dict[int, float]:
    first = current_hour - len(values_oldest_first) + 1
    return {first + i: v for i, v in enumerate(values_oldest_first) if v is not None}


def test_the_tad_worked_example_pm25_35_9_is_aqi_102_and_ozone_78_ppb_is_126():
    # EPA-454/B-18-007, "Calculating the AQI": 8-hour O3 0.07853 ppm, 24-hour PM2.5 35.9.
    assert epa.aqi_of("pm25", 35.9) == 102
    assert epa.aqi_of("o3", 78.53) == 126  # truncated to 0.078 ppm first


@pytest.mark.parametrize("pollutant", epa.POLLUTANTS)
def test_every_breakpoint_of_table_5_maps_to_its_index(pollutant):
    for c_low, c_high, i_low, i_high in epa.BREAKPOINTS[pollutant]:
        assert epa.aqi_of(pollutant, c_low) == i_low
        assert epa.aqi_of(pollutant, c_high) == i_high


def test_truncation_comes_before_the_equation():
    assert epa.aqi_of("pm25", 12.09) == 50  # 12.0, not 12.1 (51)
    assert epa.aqi_of("pm10", 54.9) == 50  # 54, not 55 (51)
    assert epa.truncate("pm25", 35.4) == 35.4  # floating point does not make it 35.3
    assert epa.truncate("co", 4.49) == 4.4


def test_sub_indices_convert_back_to_the_concentrations_they_came_from():
    for pollutant in epa.POLLUTANTS:
        for concentration in (0.0, 3.3, 12.0, 30.0, 99.9, 333.0, 1200.0):
            index = epa.sub_index(pollutant, concentration)
            assert epa.concentration_of(pollutant, index) == pytest.approx(concentration)
    # Within a band, EPA's equation backwards: AQI 51 is 12.1 µg/m³, 100 is 35.4.
    assert epa.concentration_of("pm25", 51) == pytest.approx(12.1)
    assert epa.concentration_of("pm25", 100) == pytest.approx(35.4)


def test_above_500_the_top_band_goes_on_as_waqi_reports_it():
    assert epa.concentration_of("pm10", 844) > 604
    assert epa.sub_index("pm10", epa.concentration_of("pm10", 844)) == pytest.approx(844)


def test_categories_change_at_the_bands_of_table_5():
    highs = [i_high for _, _, _, i_high in epa.BREAKPOINTS["pm25"]][:5]
    names = epa.CATEGORY_NAMES
    for band, high in enumerate(highs):
        assert epa.category(high) == names[band]
        assert epa.category(high + 1) == names[band + 1]
    assert epa.category(0) == "Good" and epa.category(844) == "Hazardous"
    assert epa.category(None) is None


def test_the_airnow_nowcast_example_is_17_4_and_aqi_62():
    concentration = epa.nowcast(hourly(AIRNOW_HOURS_OLDEST_FIRST), 100)
    assert epa.truncate("pm25", concentration) == 17.4
    assert epa.aqi_of("pm25", concentration) == 62


def test_nowcast_weight_factor_is_min_over_max_at_least_one_half():
    # min/max = 0.8: hours ago 0 and 1 weigh 1 and 0.8.
    assert epa.nowcast(hourly([8, 10]), 100) == pytest.approx((10 + 8 * 0.8) / 1.8)
    # Steady air: the plain 12-hour mean.
    assert epa.nowcast(hourly([20.0] * 12), 100) == pytest.approx(20.0)
    # Only the 12 hours up to now count.
    assert epa.nowcast(hourly([500.0] + [20.0] * 12), 100) == pytest.approx(20.0)
    # All zero: no division by zero.
    assert epa.nowcast(hourly([0.0, 0.0, 0.0]), 100) == 0


def test_nowcast_needs_2_of_the_3_most_recent_hours():
    assert epa.nowcast(hourly([10, 10, 10, None, None]), 100) is None
    assert epa.nowcast(hourly([10, 10, 10, None, 10]), 100) is not None
    assert epa.nowcast(hourly([10, 10, 10, 10, None]), 100) is not None
    assert epa.nowcast(hourly([10, 10, None, 10, None]), 100) is None
    # Missing hours simply drop out of both sums.
    assert epa.nowcast(hourly([30, None, 10, 10]), 100) == pytest.approx(
        (10 + 10 * 0.5 + 30 * 0.5**3) / (1 + 0.5 + 0.5**3)
    )
