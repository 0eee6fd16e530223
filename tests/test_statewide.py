"""Statewide runs (slow: `make test-slow`)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sim.config import load_scenario
from sim.runner import simulate_network

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.slow
def test_statewide_peak_hour_volume_and_conservation():
    run = simulate_network(load_scenario(SCENARIOS / "baseline_peak_hour.yaml"))
    s = run.summary
    # Poisson total: within 4 standard deviations of the expected count
    assert abs(s["generated"] - s["expected_messages"]) < 4 * math.sqrt(s["expected_messages"])
    assert s["generated"] == s["answered"] + s["rejected"] + s["timed_out"] + s["in_flight"]
    assert (run.nodes["balance"] == 0).all()
    # the default network carries its peak hour: nothing rejected, p95 under the 3 s target
    assert s["rejected"] == 0 and s["p95_s"] < 3.0
    assert run.nodes["utilization"].max() < 0.8


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mdt_growth", "msc_outage", "hub_failover"])
def test_shipped_scenarios_run_and_differ_from_baseline(name):
    base = simulate_network(load_scenario(SCENARIOS / "baseline_peak_hour.yaml"))
    other = simulate_network(load_scenario(SCENARIOS / f"{name}.yaml"))
    if name == "mdt_growth":
        assert other.summary["generated"] > 1.2 * base.summary["generated"]
    elif name == "msc_outage":
        assert other.summary["rejected"] > 1000
    else:
        assert other.summary["timed_out"] > 1000 > base.summary["timed_out"]


@pytest.mark.slow
def test_calibration_targets_hold_statewide():
    """passive 58% and proactive 98% within 3 points, reported counts in the public range."""
    from sim.calibration import calibrate

    table, runs = calibrate(SCENARIOS, replications=3, workers=2)
    assert table["passed"].all(), table.to_string()
    assert (runs.groupby("scenario").size() == 3).all()
