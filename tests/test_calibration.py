"""Calibration: the fitting procedure recovers known parameters; outcome weights reproduce
the record's shares through the model's own outcome draw; fitted and held-out stay apart."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from sim.calibration import (
    FITTED,
    HELD_OUT,
    NAMED_OUTCOMES,
    Figure,
    Runner,
    fit_outcome_weights,
    fit_scalars,
    values,
)
from sim.config import parse_scenario
from sim.oversight.cases import Cases

SMALL = {"name": "passive_small", "seed": 11, "model": "oversight",
         "topology": {"counties": ["Alpine", "Sierra", "Modoc", "Mono", "Inyo", "Plumas"]},
         "journal": {"start_date": "2017-01-01"},
         "misuse": {"occasional": {"user_share": 0.5, "lookups_per_year": 6}},
         "oversight": {"years": 1, "warmup_days": 30, "follow_up": {"regime": "passive"}}}


def test_fitted_and_held_out_figures_are_disjoint_and_sourced():
    fitted = {(f.scenario, tuple(sorted(f.overrides.items())), f.measure) for f in FITTED}
    held = {(f.scenario, tuple(sorted(f.overrides.items())), f.measure) for f in HELD_OUT}
    assert not fitted & held
    assert all(f.source for f in FITTED + HELD_OUT)
    assert {f.name for f in HELD_OUT} >= {"investigations, 2016", "employees fired or resigned, 2017"}


def test_outcome_weights_reproduce_the_shares_through_the_model_draw():
    """Weights fitted for a severe mix give the record's shares when drawn by `Cases._outcome`."""
    targets = dict(zip(NAMED_OUTCOMES, (0.17, 0.13, 0.12, 0.07, 0.07)))
    severe, odds = 0.25, 5.0
    w = fit_outcome_weights(targets, 44.0, severe, 0.0, odds)
    scen = parse_scenario({**SMALL, "oversight": {**SMALL["oversight"],
                                                  "investigation": {"outcome_shares": w,
                                                                    "severe_dismissal_odds": odds}}})
    cases = Cases.__new__(Cases)
    cases.cfg = scen.oversight.investigation
    rng = np.random.default_rng(5)
    n = 40_000
    is_severe = rng.random(n) < severe
    drawn = [cases._outcome(bool(s), u) for s, u in zip(is_severe, rng.random(n))]
    for o, p in targets.items():
        k = sum(d == o for d in drawn)
        assert abs(k - n * p) <= 4 * math.sqrt(n * p * (1 - p)), (o, k / n, p)


@pytest.mark.slow  # ~1 min of fitting: `make test` stays under 10 minutes (the ABC toy test is fast)
def test_least_squares_recovers_known_parameters(tmp_path):
    """A synthetic record made at known values is fitted back from a wrong start."""
    (tmp_path / "passive_small.yaml").write_text(yaml.safe_dump(SMALL))
    runner = Runner(tmp_path, replications=1)
    truth = {"oversight.detection.complaints.scale": 3.0, "oversight.reporting.base_propensity": 0.55}
    probe = (Figure("complaints", "complaints", 1.0, "passive_small"),
             Figure("share", "reported_share", 0.5, "passive_small"))
    runs = runner.runs(probe, truth)
    record = tuple(Figure(f.name, f.measure, float(values(f, runs).mean()), f.scenario) for f in probe)
    assert record[0].value > 20  # enough complaints for the fit to mean something
    free = (("oversight.detection.complaints.scale", "log"), ("oversight.reporting.base_propensity", "logit"))
    start = {"oversight.detection.complaints.scale": 1.0, "oversight.reporting.base_propensity": 0.3}
    got, cost, history = fit_scalars(runner, start, record, free, max_evaluations=15)
    assert cost < 1e-3, history
    # same seeds as the record: the fitted values reproduce it, and land near the truth
    assert abs(math.log(got["oversight.detection.complaints.scale"] / 3.0)) < 0.15
    assert abs(got["oversight.reporting.base_propensity"] - 0.55) < 0.08


def test_report_shows_fitted_and_held_out_apart_with_sources():
    import pandas as pd

    from sim.report import calibration_sections

    cal = pd.DataFrame([
        dict(role="fitted", figure="complaints a year", record=128.2, mean=127.0, ci_low=120.0,
             ci_high=134.0, inside=True, source="EFF 2015"),
        dict(role="held-out", figure="investigations, 2016", record=159.0, mean=120.0, ci_low=110.0,
             ci_high=130.0, inside=False, source="EFF 2017"),
    ])
    fitted, held = calibration_sections(cal)
    assert fitted.id == "calibration_fitted" and held.id == "calibration_held-out"
    assert "complaints a year" in fitted.tables[0] and "investigations, 2016" not in fitted.tables[0]
    assert "EFF 2017" in held.tables[0] and "MISS" in held.tables[0]
    assert 'data-key="held-out_inside">0<' in held.text and 'data-key="fitted_inside">1<' in fitted.text
