"""aqistream/source/clock.py: now in the API's time, from its answers' Date headers."""

from __future__ import annotations

import pytest

from aqistream.source.clock import ApiClock


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_before_any_answer_it_is_this_machine_clock():
    assert ApiClock(wall=lambda: 1_700_000_000.0).now() == 1_700_000_000.0


def test_the_date_of_an_answer_sets_it_and_our_clock_moves_it_on():
    ticks = Ticks()
    clock = ApiClock(monotonic=ticks, wall=lambda: 0.0)
    clock.heard("Mon, 23 Nov 2026 10:05:00 GMT", sent=ticks.now, received=ticks.now)
    assert clock.now() == pytest.approx(1795428300.5)
    ticks.now += 30
    assert clock.now() == pytest.approx(1795428330.5)


def test_a_fast_api_clock_is_followed_at_its_scale():
    ticks = Ticks()
    clock = ApiClock(scale=360, monotonic=ticks)
    clock.heard("Mon, 23 Nov 2026 10:00:00 GMT", ticks.now, ticks.now)
    ticks.now += 10  # ten real seconds: an hour of the API's time
    assert clock.now() == pytest.approx(1795428000.5 + 3600)
    assert clock.real_seconds(3600) == 10


def test_answers_that_agree_within_a_second_do_not_move_it_but_a_jump_does():
    ticks = Ticks()
    clock = ApiClock(monotonic=ticks)
    clock.heard("Mon, 23 Nov 2026 10:00:00 GMT", ticks.now, ticks.now)
    ticks.now += 5.3
    clock.heard("Mon, 23 Nov 2026 10:00:05 GMT", ticks.now, ticks.now)  # 5.8 expected: close
    assert clock.now() == pytest.approx(1795428000.5 + 5.3)
    clock.heard("Mon, 23 Nov 2026 11:00:05 GMT", ticks.now, ticks.now)  # the API moved an hour
    assert clock.now() == pytest.approx(1795428000.5 + 3605)


@pytest.mark.parametrize("date", [None, "", "yesterday", "Mon, 23 Nov 2026 10:00:00"])
def test_an_answer_without_a_usable_date_changes_nothing(date):
    clock = ApiClock(wall=lambda: 42.0)
    clock.heard(date, 1.0, 1.1)
    assert clock.now() == 42.0


def test_a_scale_must_be_positive():
    with pytest.raises(ValueError):
        ApiClock(scale=0)
