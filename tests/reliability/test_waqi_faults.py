"""Scenario 6: the WAQI API misbehaves; the producer survives, catches up, keeps to its quota.

The simulator enforces the same quota as the producer's own (600 requests a minute, bursts
of 10, which 50 stations polled twice a second keep hitting): any request the producer
sent too fast would be answered Over quota. Only the Over quota storm lowers the API's quota
below the producer's.
"""

from __future__ import annotations

import pytest

from tests.pipeline import TOKEN, wait_for
from tests.reliability.conftest import scaled
from tests.reliability.harness import Pipeline

QUOTA = ("--quota", "600", "--burst", "10")


def over_quota_answers(pipeline: Pipeline) -> int:
    return pipeline.sim.admin("GET", "/admin/served")["tokens"][TOKEN]["over_quota"]


def failed_fetches(pipeline: Pipeline) -> int:
    return pipeline.producer.stderr().count("station(s) failed")


@pytest.fixture
def pipeline(tmp_path, bootstrap_servers):
    with Pipeline(
        tmp_path,
        bootstrap_servers,
        producer_args=QUOTA,
        sim_args=QUOTA,
        tick_seconds=3.0,
    ) as pipeline:
        pipeline.wait_for_first_readings()
        yield pipeline


FAULTS = {
    "latency spikes": {"latency_ms": 800, "jitter_ms": 1500},
    "30 % HTTP 5xx": {"error_rate": 0.3},
    "empty and non-JSON bodies": {"empty_rate": 0.15, "nonjson_rate": 0.15},
}
FAULT_TEXT = {
    "latency spikes": "every answer 0.8 to 2.3 s late",
    "30 % HTTP 5xx": "30 % of answers HTTP 500, 502, 503 or 504",
    "empty and non-JSON bodies": "15 % empty bodies and 15 % HTML instead of JSON",
}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_api_faults(pipeline, ledger, kind):
    pipeline.start_ticking()
    hours = scaled(6, 3)
    pipeline.sim.admin("POST", "/admin/faults", FAULTS[kind])
    start = pipeline.sim.admin("GET", "/admin/clock")["epoch"]
    wait_for(
        lambda: pipeline.sim.admin("GET", "/admin/clock")["epoch"] >= start + hours * 3600,
        hours * 10 + 30,
        f"{hours} simulated hours of {kind}",
    )
    pipeline.sim.admin("DELETE", "/admin/faults")
    catch_up = pipeline.catch_up()
    verdict = pipeline.verdict()
    faults = pipeline.sim.admin("GET", "/admin/served")["tokens"][TOKEN]["faults"]
    ledger.add(
        f"6. WAQI: {kind}",
        f"{FAULT_TEXT[kind]}, for {hours} simulated hours",
        hours,
        verdict,
        catch_up,
        f"{faults} faulty answers; {over_quota_answers(pipeline)} Over quota",
    )
    assert faults > 0 or kind == "latency spikes"
    assert over_quota_answers(pipeline) == 0
    verdict.assert_exact()


def test_api_outage_of_two_simulated_minutes(pipeline, ledger):
    outages = scaled(3, 1)
    catch_ups = []
    for _ in range(outages):
        pipeline.advance_hour()
        pipeline.sim.admin("POST", "/admin/faults", {"outage_seconds": 120, "outage_mode": "close"})
        failed = failed_fetches(pipeline)
        wait_for(lambda f=failed: failed_fetches(pipeline) > f + 2, 90, "cycles failing")
        pipeline.sim.admin("POST", "/admin/clock", {"advance_seconds": 121})  # outage over
        catch_ups.append(pipeline.catch_up())
    verdict = pipeline.verdict()
    assert pipeline.producer.alive()
    ledger.add(
        "6. WAQI: outage",
        "every connection closed for 2 simulated minutes",
        outages,
        verdict,
        max(catch_ups),
        f"{over_quota_answers(pipeline)} Over quota",
    )
    assert over_quota_answers(pipeline) == 0
    verdict.assert_exact()


def test_over_quota_storm(pipeline, ledger):
    storms = scaled(3, 1)
    catch_ups = []
    for _ in range(storms):
        pipeline.start_ticking()
        # Another client spends the token's quota: the API allows 1 request in 6 s.
        pipeline.sim.admin("POST", "/admin/quota", {"per_minute": 10, "burst": 1})
        answered = over_quota_answers(pipeline)
        wait_for(lambda a=answered: over_quota_answers(pipeline) > a + 20, 90, "a storm")
        pipeline.sim.admin("POST", "/admin/quota", {"per_minute": 600, "burst": 10})
        catch_ups.append(pipeline.catch_up())
    after_storms = over_quota_answers(pipeline)
    pipeline.advance_hour()
    catch_ups.append(pipeline.catch_up())
    verdict = pipeline.verdict()
    ledger.add(
        "6. WAQI: Over quota storm",
        "API quota cut to 10 a minute, burst 1",
        storms,
        verdict,
        max(catch_ups),
        f"{after_storms} Over quota during the storms, "
        f"{over_quota_answers(pipeline) - after_storms} after",
    )
    # Back at the normal quota, the producer's own pace never draws an Over quota again.
    assert over_quota_answers(pipeline) == after_storms
    verdict.assert_exact()
