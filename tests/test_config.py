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


def all_modules() -> list[str]:
    """Every module of the project's packages, found on disk (new modules are covered too)."""
    import pkgutil

    import sim
    import topology

    names = []
    for pkg in (sim, topology):
        names.append(pkg.__name__)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return sorted(names)


IMPORT_EACH_FIRST = """
import os, sys
# third-party libraries are loaded once; an import cycle can only involve project modules,
# and each child below starts with none of them imported
import numpy, pandas, scipy.stats, simpy, networkx, pydantic, pyarrow, matplotlib, yaml, typer, rich
assert not [m for m in sys.modules if m == "sim" or m.startswith(("sim.", "topology"))]
failed, running = [], {}
def reap():
    pid, status = os.wait()
    if status != 0:
        failed.append(running[pid])
    del running[pid]
for name in sys.argv[1:]:
    while len(running) >= 2:
        reap()
    pid = os.fork()
    if pid == 0:
        try:
            __import__(name)
        except BaseException as e:
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            os._exit(1)
        os._exit(0)
    running[pid] = name
while running:
    reap()
print("failed:", " ".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_first_in_a_fresh_interpreter():
    """No import cycle: each module can be the first project module a user imports. A fresh
    interpreter loads the third-party libraries, then forks one child per module (two at a time)."""
    import subprocess
    import sys

    modules = all_modules()
    assert {"sim.catalogue", "sim.cli", "sim.report", "sim.oversight.model"} <= set(modules)
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH_FIRST, *modules], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-500:]


def test_every_package_is_in_the_distribution():
    """A non-editable install ships exactly the packages on disk (pyproject's list)."""
    import pkgutil
    import tomllib
    from pathlib import Path

    import sim
    import topology

    listed = set(tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {"sim", "topology"} | {m.name for pkg in (sim, topology)
                                   for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")
                                   if m.ispkg}
    assert listed == found
