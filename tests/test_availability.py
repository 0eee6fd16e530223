"""Availability (`clets availability`, `sim.availability`): the fault process alone against
renewal-reward theory, the CAC's 95% flag, bad input, and the same outages in message runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from sim.availability import (
    YEAR_S,
    Component,
    cac_flag,
    components,
    outage_intervals,
    simulate_availability,
    summarise,
    yearly_figures,
)
from sim.cli import app
from sim.config import parse_scenario
from sim.rng import Streams
from tests.conftest import small_scenario_dict

runner = CliRunner()


def renewal_sd(mtbf: float, mttr: float, horizon: float) -> float:
    """Standard deviation of the uptime share over `horizon` for exponential up (mean mtbf) and
    repair (mean mttr) times (renewal-reward CLT): A_hat = sum(X) / sum(X + Y) over
    n = horizon / (mtbf + mttr) cycles has variance Var((1 - A) X - A Y) / (n E[C]^2)
    = 2 mtbf^2 mttr^2 / ((mtbf + mttr)^3 horizon)."""
    return mtbf * mttr * math.sqrt(2.0 / ((mtbf + mttr) ** 3 * horizon))


def test_simulated_availability_matches_mtbf_over_mtbf_plus_mttr():
    """200 independent component-years with MTBF 10 h and MTTR 2 h (A = 5/6, ~730 cycles a
    year). Tolerance from theory: the mean of 200 years lies within 3.29 renewal-reward standard
    errors of A (99.9%); the start-up bias (up at 0) is (1-A)/((1/MTBF + 1/MTTR) H) = 3e-5,
    under a tenth of that. The simulated spread agrees with the theoretical one too."""
    mtbf, mttr, reps = 10 * 3600.0, 2 * 3600.0, 200
    a = mtbf / (mtbf + mttr)
    up = np.array([yearly_figures(Streams(1234).child(r).fresh("c"), mtbf, mttr, 1)["uptime"][0]
                   for r in range(reps)])
    sd = renewal_sd(mtbf, mttr, YEAR_S)
    se = sd / math.sqrt(reps)
    assert abs(up.mean() - a) < 3.29 * se, (up.mean(), a, se)
    lo, hi = stats.t.interval(0.999, reps - 1, loc=up.mean(), scale=up.std(ddof=1) / math.sqrt(reps))
    assert lo <= a <= hi
    assert 0.8 < up.std(ddof=1) / sd < 1.2  # chi-square: 99.9% band for 199 d.f. is about +-18%


def test_command_level_availability_matches_theory_per_kind():
    """Through components() and simulate_availability on a one-county topology, with fast
    processes: each kind's pooled uptime (every component-year) within its 99.9% interval."""
    d = small_scenario_dict()
    d["topology"]["counties"] = ["Alpine"]
    d["faults"] = {"random": {"msc": {"mtbf_hours": 5, "mttr_minutes": 60},
                              "direct_connect": {"mtbf_hours": 20, "mttr_minutes": 240},
                              "mdt_gateway": {"mtbf_hours": 8, "mttr_minutes": 30}}}
    scen = parse_scenario(d)
    from topology.builder import build_topology

    comps = components(scen, build_topology(scen.topology, scen.network, Streams(1)))
    res = simulate_availability(scen, comps, years=2, replications=3, root=5)
    assert len(res.runs) == len(comps) * 2 * 3
    for kind, (m, r) in {"msc": (5, 1), "direct_connect": (20, 4), "mdt_gateway": (8, 0.5)}.items():
        x = res.runs.loc[res.runs["kind"] == kind, "uptime"]
        a = m / (m + r)
        half = 3.29 * renewal_sd(m * 3600, r * 3600, YEAR_S) / math.sqrt(len(x))
        assert abs(x.mean() - a) < half, (kind, x.mean(), a, half)
    s = res.components
    assert ((s["uptime_ci_low"] <= s["uptime"]) & (s["uptime"] <= s["uptime_ci_high"])).all()
    assert (s["years"] == 6).all()
    # the same seed gives the same figures (one stream per component)
    again = simulate_availability(scen, comps, years=2, replications=3, root=5)
    pd.testing.assert_frame_equal(res.runs, again.runs)


class Preset:
    """A 'generator' whose standard exponentials are given: (up, repair) pairs in seconds."""

    def __init__(self, values):
        self.values = list(values)

    def standard_exponential(self, n):
        out, self.values = self.values[:n], self.values[n:]
        return np.array(out + [1e12] * (n - len(out)))


def test_flag_logic_on_constructed_years():
    # 100 s years: down 10-15 (5% exactly: flagged), then an outage 195-215 across New Year
    f = yearly_figures(Preset([10, 5, 180, 20]), 1.0, 1.0, years=3, year_s=100.0)
    assert f["outages"].tolist() == [1, 1, 0]
    assert np.allclose(f["downtime_s"], [5, 5, 15])
    assert np.allclose(f["longest_s"], [5, 5, 15])
    assert np.allclose(f["uptime"], [0.95, 0.95, 0.85])
    assert cac_flag(f["uptime"]).tolist() == [True, True, True]
    assert cac_flag([0.95, 0.9500001, 0.949, 1.0]).tolist() == [True, False, True, False]
    # the CAC's rule is about direct connects: an MSC as low is shown, not reported
    comps = [Component("direct_connect", "agency:A", "A", "", 1.0, 1.0),
             Component("direct_connect", "agency:B", "B", "", 1.0, 1.0),
             Component("msc", "msc:X", "X County MSC", "X", 1.0, 1.0)]
    runs = pd.DataFrame({"replication": 0, "component": ["agency:A", "agency:B", "msc:X"] * 2,
                         "uptime": [0.95, 0.951, 0.90, 0.95, 0.96, 0.90],
                         "outages": 1, "downtime_h": 1.0, "longest_outage_h": 1.0})
    runs["at_or_below_95"] = cac_flag(runs["uptime"])
    s = summarise(runs, comps).set_index("component")
    assert s["cac_report"].to_dict() == {"agency:A": True, "agency:B": False, "msc:X": False}
    assert s["flagged_share"].to_dict() == {"agency:A": 1.0, "agency:B": 0.0, "msc:X": 1.0}


def test_outages_do_not_depend_on_the_horizon():
    a = outage_intervals(np.random.default_rng(3), 10.0, 2.0, 1_000.0)
    b = outage_intervals(np.random.default_rng(3), 10.0, 2.0, 100_000.0)
    assert len(a[0]) > 50
    assert np.array_equal(a[0], b[0][: len(a[0])]) and np.array_equal(a[1], b[1][: len(a[1])])


# ---------------------------------------------------------------------- the command


def write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def one_county(**faults) -> dict:
    d = small_scenario_dict()
    d["topology"]["counties"] = ["Alpine"]
    if faults:
        d["faults"] = {"random": faults}
    return d


def test_command_writes_tables_manifest_and_report(tmp_path):
    from sim.results import load

    scen = write(tmp_path, one_county(direct_connect={"overrides": {
        "FBI": {"mtbf_hours": 50, "mttr_minutes": 600}}}))
    out = tmp_path / "av"
    r = runner.invoke(app, ["availability", str(scen), "--replications", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "FBI" in r.output and "CAC rule" in r.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "availability" and m["cac_report"] == ["FBI"] and m["replications"] == 3
    res = load(out)
    s = res["availability"]
    assert set(s["kind"]) == {"msc", "hub", "direct_connect", "mdt_gateway"}
    fbi = s[s["name"] == "FBI"].iloc[0]
    assert fbi["cac_report"] and fbi["uptime"] < 0.95 and fbi["expected_uptime"] == pytest.approx(50 / 60)
    assert (out / "availability_runs.parquet").exists() and (out / "availability.csv").exists()
    html = (out / "report.html").read_text()
    assert 'data-key="cac_report">FBI<' in html and "Availability: uptime per component" in html


@pytest.mark.parametrize("args, faults, needle", [
    (["--years", "0"], {}, "--years"),
    (["--replications", "0"], {}, "--replications"),
    ([], {"direct_connect": {"mtbf_hours": -5}}, "faults.random.direct_connect.mtbf_hours"),
    ([], {"msc": {"mttr_minutes": 0}}, "faults.random.msc.mttr_minutes"),
    ([], {"msc_mtbf_hours": -1}, "faults.random.msc_mtbf_hours"),
    ([], {"direct_connect": {"overrides": {"Nobody": {"mtbf_hours": 5}}}},
     "faults.random.direct_connect.overrides.Nobody"),
    ([], {"msc": {"overrides": {"Orange": {"mtbf_hours": 5}}}}, "faults.random.msc.overrides.Orange"),
    (["--years", "5", "--replications", "1000"], {"mdt_gateway": {"mtbf_hours": 0.01, "mttr_minutes": 0.01}},
     "faults.random.mdt_gateway.mtbf_hours"),
])
def test_bad_input_exits_2_naming_the_field(tmp_path, args, faults, needle):
    scen = write(tmp_path, one_county(**faults))
    r = runner.invoke(app, ["availability", str(scen), *args, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------- in message runs


def test_random_faults_act_in_message_runs_with_the_availability_streams():
    from sim.runner import simulate_network

    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 1200, "warmup_s": 0}
    d["traffic"] = {"load_factor": 3}
    d["faults"] = {"random": {"mdt_gateway": {"mtbf_hours": 0.1, "mttr_minutes": 3, "in_runs": True},
                              "direct_connect": {"mtbf_hours": 0.2, "mttr_minutes": 3, "in_runs": True}}}
    scen = parse_scenario(d)
    run = simulate_network(scen, seed=4)
    f = run.faults
    assert set(f["fault"]) == {"random_mdt_gateway_down", "random_link_down"}
    # the plan is the fault process of sim.availability, drawn from each component's stream
    comps = {c.node: c for c in components(scen, _graph(scen, 4))}
    gw = f[f["fault"] == "random_mdt_gateway_down"].iloc[0]
    agency = gw["target"].removesuffix(" MDT gateway")
    c = comps[agency]
    starts, _ = outage_intervals(Streams(4).fresh(c.stream), c.mtbf_hours * 3600, c.mttr_minutes * 60, 1200)
    downs = f[(f["target"] == gw["target"]) & (f["action"] == "down")]["time_s"].to_numpy()
    assert np.allclose(downs, starts)
    # a gateway down rejects that agency's MDT messages, never its terminals'
    m = run.messages.to_pandas()
    hit = m[(m["reason"] == "link_down") & (m["state"] == "rejected")]
    inq = hit[hit["kind"] == "inquiry"]
    local = inq[(inq["county"] != "") & (inq["agency_type"] != "chp_area")]  # not behind a direct link
    assert len(local) > 0 and (local["device_kind"] == "mdt").all()
    assert (hit["device_kind"] == "terminal").any()  # direct-connect circuits take terminals down too
    s = run.summary
    assert s["generated"] == s["answered"] + s["rejected"] + s["timed_out"] + s["in_flight"]
    assert (run.nodes["balance"] == 0).all()


def _graph(scen, seed):
    from topology.builder import build_topology

    return build_topology(scen.topology, scen.network, Streams(seed))


def test_short_form_still_means_random_msc_outages_in_runs():
    from sim.faults import has_faults, without_faults

    scen = parse_scenario(small_scenario_dict(faults={"random": {"msc_mtbf_hours": 0.2}}))
    msc = scen.faults.random.msc
    assert (msc.mtbf_hours, msc.mttr_minutes, msc.in_runs) == (0.2, 30.0, True)
    assert has_faults(scen) and not has_faults(without_faults(scen))
    assert not has_faults(parse_scenario(small_scenario_dict(faults={"random": {"msc_mtbf_hours": None}})))
    # defaults are documented assumptions with a plausible range
    from sim.config.network import MscFaults

    extra = MscFaults.model_fields["mtbf_hours"].json_schema_extra
    assert extra["source"] == "assumption" and extra["range"] == [720, 8760]
