"""Scenario validation: strict keys, merged defaults, load-factor ranges."""

from __future__ import annotations

import pytest

from sim.config import DATABASES, Scenario, parse_load_factors, parse_scenario
from sim.errors import ScenarioError


def test_partial_database_override_keeps_the_other_defaults():
    s = parse_scenario({"name": "x", "network": {"databases": {"DMV": {"servers": 2, "service": {"mean": 1}}}}})
    assert set(s.network.databases) == set(DATABASES)
    assert s.network.databases["DMV"].servers == 2
    assert s.network.databases["NCIC"] == Scenario(name="d").network.databases["NCIC"]


def test_every_problem_is_listed_with_its_field():
    with pytest.raises(ScenarioError) as e:
        parse_scenario({"name": "x", "traffic": {"load_factor": 0, "diurnal": {"peak_hour": 25}},
                        "horizon": {"warmup_s": -1}})
    msg = str(e.value)
    for field in ("traffic.load_factor = 0", "traffic.diurnal.peak_hour = 25", "horizon.warmup_s = -1"):
        assert field in msg


def test_distribution_parameters_are_checked():
    with pytest.raises(ScenarioError, match="cv must be > 0"):
        parse_scenario({"name": "x", "network": {"hub": {"service": {"dist": "lognormal", "mean": 1, "cv": 0}}}})
    with pytest.raises(ScenarioError, match="network.hub.service.dist"):
        parse_scenario({"name": "x", "network": {"hub": {"service": {"dist": "weibull", "mean": 1}}}})


def test_hourly_weights_need_24_values():
    with pytest.raises(ScenarioError, match="24 values"):
        parse_scenario({"name": "x", "traffic": {"diurnal": {"hourly_weights": [1, 2, 3]}}})


def test_load_factor_ranges():
    assert parse_load_factors("0.5:3:0.25") == [0.5 + 0.25 * i for i in range(11)]
    assert parse_load_factors("1,1.5, 4") == [1.0, 1.5, 4.0]
    assert parse_load_factors("2:2:1") == [2.0]
    for bad, needle in (("3:1:1", "empty"), ("1:2:0", "step"), ("1:2", "start:stop:step"),
                        ("", "empty"), ("0,1", "> 0"), ("x", "start:stop:step")):
        with pytest.raises(ScenarioError, match=needle):
            parse_load_factors(bad)


def test_partial_sections_keep_their_defaults():
    s = parse_scenario({"name": "x", "network": {"hub": {"servers": 3}},
                        "misuse": {"mass_rule": {"incidents_per_year": 2}}})
    d = Scenario(name="d")
    assert s.network.hub.servers == 3
    assert s.network.hub.service == d.network.hub.service
    assert s.misuse.mass_rule.incidents_per_year == 2
    assert s.misuse.mass_rule.lookups == d.misuse.mass_rule.lookups  # the archetype's own default
    # a typo inside a partial section is still an error
    with pytest.raises(ScenarioError, match="network.hub.sevrers"):
        parse_scenario({"name": "x", "network": {"hub": {"sevrers": 3}}})


@pytest.mark.parametrize("module", ["sim.catalogue", "sim.detection", "sim.journal", "sim.misuse",
                                    "sim.oversight", "sim.calibration", "sim.config"])
def test_every_module_imports_first_in_a_fresh_interpreter(module):
    """No import cycle: each module can be the first one a user imports."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
