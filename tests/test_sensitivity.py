"""Sensitivity analysis (issue 13 items 2, 6 and 7): known indices through the runner path,
Morris ranking, resume, the knee's bisection, and the command's refusals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim import sensitivity as sa
from sim.cli import app
from sim.config import parse_scenario
from sim.experiment import TASKS

# three factors whose declared ranges we replace with [1, 2]: the stubs map each to [-pi, pi]
NAMES = ("network.hub.service.cv", "network.msc.service.cv", "network.agency.service.cv")
TINY = {"name": "sa_test", "seed": 7, "model": "network",
        "horizon": {"duration_s": 120, "warmup_s": 10},
        "topology": {"counties": ["Alpine"], "devices": {"direct_connect_terminals": 1, "chp_hq_mdts": 0}},
        "capacity": {"load_factors": "1"}, "outputs": {"messages": False}}


def _x(scenario, name: str) -> float:
    """A factor's value from the resolved scenario, mapped from [1, 2] to [-pi, pi]."""
    obj = scenario
    for part in name.split("."):
        obj = getattr(obj, part)
    return -math.pi + 2 * math.pi * (float(obj) - 1.0)


def ishigami(scenario, seed, directory, arg) -> dict:
    """Ishigami (a=7, b=0.1) of the three factors: no simulation, the same runner path."""
    x1, x2, x3 = (_x(scenario, n) for n in NAMES)
    return {"y": math.sin(x1) + 7 * math.sin(x2) ** 2 + 0.1 * x3 ** 4 * math.sin(x1)}


def linear(scenario, seed, directory, arg) -> dict:
    """10 a + 1 b + 0.1 c on the raw values (ranges [1, 3]): a dominates."""
    a, b, c = (float(_raw(scenario, n)) for n in NAMES)
    return {"y": 10 * a + 1 * b + 0.1 * c}


def _raw(scenario, name):
    obj = scenario
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


CALLS = {"n": 0, "stop_after": None}


def interrupted_ishigami(scenario, seed, directory, arg) -> dict:
    CALLS["n"] += 1
    if CALLS["stop_after"] is not None and CALLS["n"] > CALLS["stop_after"]:
        raise KeyboardInterrupt  # as Ctrl-C would, mid-analysis
    return ishigami(scenario, seed, directory, arg)


@pytest.fixture(autouse=True)
def stub_tasks():
    TASKS.update(ishigami=ishigami, linear=linear, interrupted=interrupted_ishigami)
    yield
    for k in ("ishigami", "linear", "interrupted"):
        TASKS.pop(k, None)


def _analysis(tmp_path: Path, method: str, samples: int, task: str, rng: str = "1:2",
              tornado: bool = False, out: str = "a") -> sa.Analysis:
    scenario = parse_scenario(TINY)
    factors = sa.choose_factors(scenario, ",".join(f"{n}={rng}" for n in NAMES))
    design = sa.make_design(method, factors, samples, seed=11)
    planned = sa.plan_runs(scenario, TINY, design, tmp_path / out, 1, task, tornado, "<test>")
    return sa.run_analysis(planned, design, ["y"], resamples=500)


# Saltelli et al. (2008), Global Sensitivity Analysis: The Primer, Ishigami a=7, b=0.1
ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def test_sobol_indices_of_ishigami_match_known_values_within_their_cis(tmp_path):
    res = _analysis(tmp_path, "sobol", 256, "ishigami")
    d = res.indices.set_index("parameter").loc[list(NAMES)]
    for k, truth in (("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST)):
        lo, hi = d[f"{k}_ci_low"].to_numpy(), d[f"{k}_ci_high"].to_numpy()
        assert np.all((lo <= truth) & (truth <= hi)), (k, d[[k, f"{k}_ci_low", f"{k}_ci_high"]], truth)
        # informative: widths shrink as 1/sqrt(N); at N=256 the widest (ST of x1) is about 0.42
        assert np.all(hi - lo < 0.5), d[[f"{k}_ci_low", f"{k}_ci_high"]]
    # and they tell the story: x3 acts only through its interaction with x1
    assert d["S1_ci_low"].iloc[2] <= 0 <= d["S1_ci_high"].iloc[2] and d["ST_ci_low"].iloc[2] > 0.1
    assert len(res.runs) == 256 * (3 + 2)


def test_morris_ranks_the_dominant_parameter_first_and_mu_star_is_per_full_range(tmp_path):
    res = _analysis(tmp_path, "morris", 10, "linear", rng="1:3")
    d = res.indices.set_index("parameter")
    assert d.loc[NAMES[0], "rank"] == 1 and d.loc[NAMES[1], "rank"] == 2 and d.loc[NAMES[2], "rank"] == 3
    # linear: every elementary effect is the slope times the range's width (2): mu* = 20, 2, 0.2
    # exactly, and sigma 0 (docs: mu* is the change over the whole range)
    np.testing.assert_allclose(d.loc[list(NAMES), "mu_star"], [20.0, 2.0, 0.2], rtol=1e-9)
    np.testing.assert_allclose(d.loc[list(NAMES), "sigma"], 0.0, atol=1e-9)


def test_a_resumed_analysis_reuses_finished_runs_and_gives_the_same_indices(tmp_path):
    whole = _analysis(tmp_path, "morris", 8, "ishigami", out="whole")
    CALLS.update(n=0, stop_after=13)
    with pytest.raises(KeyboardInterrupt):
        _analysis(tmp_path, "morris", 8, "interrupted", out="cut")
    CALLS.update(stop_after=None)
    resumed = _analysis(tmp_path, "morris", 8, "interrupted", out="cut")
    assert resumed.resumed == 13  # the 13 finished before the interrupt, none redone
    # the interrupted call, then only the missing runs (Morris trajectories can share a point:
    # such a point is one run)
    assert len(resumed.records) < 8 * 4 and CALLS["n"] == 14 + (len(resumed.records) - 13)
    cols = ["parameter", "mu", "mu_star", "sigma", "mu_star_conf", "rank"]
    pd.testing.assert_frame_equal(whole.indices[cols], resumed.indices[cols])


def test_tornado_moves_one_parameter_at_a_time(tmp_path):
    res = _analysis(tmp_path, "morris", 2, "linear", rng="1:3", tornado=True)
    t = res.tornado.set_index("parameter")
    # as written every cv is 1: y = 11.1; a at 3 adds 20, b at 3 adds 2, c 0.2
    assert t["output_as_written"].iloc[0] == pytest.approx(11.1)
    np.testing.assert_allclose(t.loc[list(NAMES), "swing"], [20.0, 2.0, 0.2])
    assert list(res.tornado["parameter"]) == list(NAMES)  # largest swing first


def test_log_uniform_sampling_for_wide_ranges_and_integers_rounded():
    scenario = parse_scenario(TINY)
    factors = sa.choose_factors(scenario, "network.msc.servers=1:4,network.links.msc_hub.bandwidth_bps")
    servers, bw = factors
    assert servers.integer and not servers.log
    assert bw.log and not bw.integer  # 1.5e6 - 1e9: a factor of 667
    d = sa.make_design("sobol", factors, 256, seed=3)
    values = pd.DataFrame([d.overrides(row) for row in d.X])
    assert set(values[servers.name]) == {1, 2, 3, 4}
    # log-uniform: the median is the geometric mean of the ends, not the arithmetic one
    geo = math.sqrt(bw.low * bw.high)
    assert 0.7 * geo < values[bw.name].median() < 1.4 * geo


# ---------------------------------------------------------------------- the knee


@pytest.mark.parametrize("slope, expected, censored", [(2.0, 1.5, 0.0), (0.5, 4.0, 1.0), (20.0, 0.5, -1.0)])
def test_knee_bisection_finds_the_crossing_of_a_known_curve(monkeypatch, slope, expected, censored):
    """p95(load) = slope * load against a 3 s target: the knee is 3/slope within [0.5, 4]."""
    import sim.capacity
    from sim import knee

    def fake_point(args):
        scenario, seed, lf, county, r = args
        nodes = pd.DataFrame({"node": ["msc:Orange"], "utilization": [0.3 * lf]})
        return {"p95_censored_s": slope * lf, "answered_share": 1.0}, nodes

    monkeypatch.setattr(sim.capacity, "load_point", fake_point)
    scenario = parse_scenario(TINY | {"capacity": {"load_factors": "0.5:4:0.5", "target_p95_s": 3.0}})
    out = knee.knee_outputs(scenario, 1, "Orange")
    assert out["knee"] == pytest.approx(expected, abs=1e-9)  # linear: interpolation is exact
    assert out["knee_censored"] == censored
    assert out["msc_utilization"] == pytest.approx(0.3) and out["p95_censored_s"] == slope
    assert out["knee_runs"] <= 8


# ---------------------------------------------------------------------- the command

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("sa") / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY))
    return p


BASE_ARGS = ["--samples", "2", "--params", "network.agency.service.mean,network.hub.service.mean",
             "--quiet"]


@pytest.mark.parametrize("args, needle", [
    (["--params", "network.agency.service.mean,no.such.thing"], "--params: unknown parameter 'no.such.thing'"),
    (["--params", "network.agency.service.mean=0.5:0.1,network.hub.service.mean"], "low end must be below"),
    (["--params", "network.agency.service.mean=0.1:0.1,network.hub.service.mean"], "low end must be below"),
    (["--params", "network.agency.service.mean=a:b,network.hub.service.mean"], "--params"),
    (["--params", "seed,network.hub.service.mean"], "not an assumed parameter"),
    (["--params", "network.agency.service.mean"], "at least 2 parameters"),
    (["--params", "network.agency.service.mean=-5:-1,network.hub.service.mean"], "not a valid scenario"),
    (["--outputs", "true_misuse_rows"], "--outputs: 'true_misuse_rows' is not produced"),
    (["--outputs", "knee"], "the knee needs --county"),
    (["--method", "sobol", "--samples", "100"], "--samples: Sobol needs a power of 2 (got 100; try 128)"),
    (["--method", "fast"], "--method: unknown method 'fast'"),
    (["--samples", "1"], "--samples: Morris needs at least 2"),
    (["--levels", "3"], "--levels"),
    (["--county", "Orange"], "--county: 'Orange' is not in this scenario's topology.counties"),
    (["--resamples", "1"], "--resamples"),
    (["--difference", "nope.x=1"], "--difference: the changed scenario: invalid scenario nope: unknown key"),
    (["--difference", "network.msc.servers=-1"], "--difference: the changed scenario"),
    (["--difference", "network.hub.service.mean=0.05"], "--difference: 'network.hub.service.mean' is also a parameter"),
    (["--difference", "novalue"], "--difference: 'novalue': write it KEY=VALUE"),
    (["--difference", "network.msc.servers=2", "--outputs", "mean_s"], "--outputs: 'mean_s' is not produced by a paired comparison"),
])
def test_bad_input_is_one_clear_message_and_exit_2(tiny_file, tmp_path, args, needle):
    argv = ["sensitivity", str(tiny_file), *BASE_ARGS, "--out", str(tmp_path / "o"), *args]
    r = runner.invoke(app, argv)
    assert r.exit_code == 2, r.output
    assert needle in " ".join(r.output.split()), r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_command_writes_tables_and_report_and_resumes_with_the_same_indices(tiny_file, tmp_path):
    from sim.results import load

    argv = ["sensitivity", str(tiny_file), *BASE_ARGS, "--out", str(tmp_path / "o"),
            "--outputs", "p95_censored_s,mean_s"]
    first = runner.invoke(app, argv)
    assert first.exit_code == 0, first.output
    r = load(tmp_path / "o")
    assert r.kind == "sensitivity"
    runs, idx = r["sensitivity_runs"], r["sensitivity_indices"]
    assert len(runs) == 2 * 3 + 5 and (runs["status"] == "complete").all()
    assert set(idx["output"]) == {"p95_censored_s", "mean_s"} and len(idx) == 4
    html = (tmp_path / "o" / "report.html").read_text()
    assert "Sensitivity (morris)" in html and "tornado" in html.lower()
    again = runner.invoke(app, argv)
    assert again.exit_code == 0, again.output
    assert "11 reused" in " ".join(again.output.split())
    pd.testing.assert_frame_equal(idx, load(tmp_path / "o")["sensitivity_indices"])


def test_a_paired_difference_runs_both_arms_on_the_parameter_sets_own_seed(tiny_file, tmp_path):
    """--difference: the as-written arm of each parameter set is the plain run of that set
    (same seed: common random numbers), and the difference is changed minus as written."""
    from sim.results import load

    common = ["sensitivity", str(tiny_file), *BASE_ARGS, "--no-tornado"]
    plain = runner.invoke(app, [*common, "--out", str(tmp_path / "plain"), "--outputs", "mean_s"])
    paired = runner.invoke(app, [*common, "--out", str(tmp_path / "paired"),
                                 "--difference", "network.links.terminal_agency.latency_s=0.05",
                                 "--outputs", "difference.mean_s,as_written.mean_s,changed.mean_s"])
    assert plain.exit_code == 0 and paired.exit_code == 0, plain.output + paired.output
    a = load(tmp_path / "plain")["sensitivity_runs"].set_index("sample")
    b = load(tmp_path / "paired")["sensitivity_runs"].set_index("sample")
    np.testing.assert_array_equal(a["mean_s"], b["as_written.mean_s"])
    # a terminal link 0.049 s slower each way, twice per message: the mean grows ~0.098 s
    np.testing.assert_allclose(b["difference.mean_s"], b["changed.mean_s"] - b["as_written.mean_s"])
    assert (b["difference.mean_s"] > 0.05).all() and (b["difference.mean_s"] < 0.15).all()
