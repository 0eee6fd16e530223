"""Issue 13 item 1: every assumed parameter declares its source and a plausible range
(sim.params), and `clets params SCENARIO` prints them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.config import Scenario, load_scenario, parse_scenario
from sim.params import EXCLUDED, LEAVES, declared_parameters, matching, undeclared

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {"<defaults>": lambda: Scenario(name="defaults"),
             "default.yaml": lambda: load_scenario(ROOT / "scenarios/default.yaml"),
             "fanout_resend_peak_hour.yaml":
                 lambda: load_scenario(ROOT / "scenarios/fanout_resend_peak_hour.yaml")}
# every per-leaf pattern of LEAVES, exercised (overrides and targeted audits are not in the defaults)
WITH_OVERRIDES = {
    "name": "overrides",
    "network": {"msc_overrides": {"Alpine": {"servers": 2, "service": {"mean": 0.2}, "buffer": 300}}},
    "topology": {"counties": ["Alpine"]},
    "faults": {"random": {k: {"overrides": {"x": {"mtbf_hours": 1000, "mttr_minutes": 60}}}
                          for k in ("msc", "direct_connect", "mdt_gateway")}},
    "oversight": {"audits": {"targeted": [{"years": [2019]}]}},
}


@pytest.mark.parametrize("which", sorted(SCENARIOS))
def test_every_numeric_parameter_declares_a_source_or_a_range(which):
    params = declared_parameters(SCENARIOS[which]())
    assert len(params) > 300
    missing = [p.name for p in undeclared(params)]
    assert not missing, f"{len(missing)} numeric parameters with neither a source nor a range " \
        f"(declare them with sim.config.base.assumed or in sim.params.LEAVES): {missing}"


@pytest.mark.parametrize("which", sorted(SCENARIOS))
def test_each_declaration_comes_from_one_place(which):
    params = declared_parameters(SCENARIOS[which](), include_excluded=True)
    bad = {p.name: p.conflicts for p in params if p.conflicts}
    assert not bad


def test_declared_ranges_are_ordered_and_hold_the_default():
    params = declared_parameters(Scenario(name="d")) + declared_parameters(parse_scenario(WITH_OVERRIDES))
    bad = []
    for p in params:
        if p.range is None:
            continue
        if not p.low < p.high:
            bad.append(f"{p.name}: range {p.range} is not low < high")
        if p.default is not None and not p.low <= p.default <= p.high:
            bad.append(f"{p.name}: default {p.default} outside {p.range}")
    assert not bad, bad
    assert sum(p.range is not None for p in params) > 200


def test_every_table_entry_and_exclusion_names_a_parameter():
    names = {p.name for which in SCENARIOS for p in declared_parameters(SCENARIOS[which](), True)}
    names |= {p.name for p in declared_parameters(parse_scenario(WITH_OVERRIDES), True)}
    for extra in ("audit_frequency.yaml", "hub_failover.yaml"):  # a sweep, a scheduled fault
        names |= {p.name for p in declared_parameters(load_scenario(ROOT / "scenarios" / extra), True)}
    stale = [pat for pat in [*LEAVES, *EXCLUDED] if not any(matching(n, {pat: 1}) for n in names)]
    assert not stale, stale


def test_composite_sources_reach_their_leaves_and_named_sources_are_kept():
    ps = {p.name: p for p in declared_parameters(load_scenario(ROOT / "scenarios/fanout_resend_peak_hour.yaml"))}
    msc = ps["network.msc.service.mean"]
    assert (msc.value, msc.default, msc.source, msc.range) == (0.25, 0.25, "assumption", (0.1, 0.5))
    pps = ps["network.msc.population_per_server"]
    assert pps.value == 500_000 and pps.default == 1_000_000 and pps.in_range
    assert ps["network.databases.NCIC.service.mean"].range == (0.1, 0.5)
    assert "Minnesota" in ps["misuse.occasional.user_share"].source
    assert ps["misuse.occasional.user_share"].named_source
    assert "Carlsbad" in ps["misuse.serious_case.lookups.max"].source
    assert "2.8 million" in ps["traffic.terminal_rate_per_hour"].source
    assert "census" in ps["world.household_mean"].source
    assert "Orange County" in ps["world.roles.full_access"].source
    assert ps["oversight.cac.act_probability.agency_misuse"].range == (0.0, 1.0)
    for run_control in ("seed", "horizon.duration_s", "oversight.years", "journal.days"):
        assert run_control not in ps


def test_values_outside_the_range_are_flagged():
    s = parse_scenario({"name": "x", "oversight": {"audits": {"auditor_days_per_year": 5000}}})
    p = next(p for p in declared_parameters(s) if p.name == "oversight.audits.auditor_days_per_year")
    assert p.in_range is False and p.default == 1000


def _lines(result) -> list[str]:
    return result.output.splitlines()


def test_cli_prints_the_table(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    r = CliRunner().invoke(app, ["params", str(ROOT / "scenarios/fanout_resend_peak_hour.yaml")])
    assert r.exit_code == 0, r.output
    row = next(line for line in _lines(r) if "network.msc.service.mean" in line)
    assert "0.25" in row and "[0.1, 0.5]" in row and "assumption" in row
    row = next(line for line in _lines(r) if "network.msc.population_per_server" in line)
    assert "500,000" in row and "1,000,000" in row and "[500,000, 2,000,000]" in row
    row = next(line for line in _lines(r) if "oversight.reporting.base_propensity" in line)
    assert "0.476" in row and "[0.2, 0.8]" in row and "fitted by clets calibrate" in row
    row = next(line for line in _lines(r) if "oversight.behaviour.specific_factor" in line)
    assert "JAMA Netw Open 2020" in row
    assert "with a named source" in r.output
    assert not any(line.lstrip("│ ").startswith("seed ") for line in _lines(r))


def test_cli_all_lists_run_controls_and_marks_values_outside(monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "200")
    r = CliRunner().invoke(app, ["params", str(ROOT / "scenarios/audit_frequency.yaml"), "--all"])
    assert r.exit_code == 0, r.output
    assert any(line.lstrip("│ ").startswith("seed ") and "not assumed" in line for line in _lines(r))
    row = next(line for line in _lines(r) if "oversight.audits.auditor_days_per_year" in line)
    assert "! 5,000" in row and "[300, 3,000]" in row


def test_cli_bad_file_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnetwork: {msc: {service: {mean: -1}}}\n")
    for argv in (["params", str(bad)], ["params", str(tmp_path / "missing.yaml")]):
        r = CliRunner().invoke(app, argv)
        assert r.exit_code == 2, r.output
        assert "error:" in r.output and "Traceback" not in r.output
