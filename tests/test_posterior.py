"""Posterior calibration (sim/posterior.py): ABC-SMC recovers a known posterior through the
same code path as the oversight model; the same seed gives the same posterior on any number
of workers; held-out figures never reach the distance; a posterior from another scenario is
refused; parameter uncertainty widens the interval when it must."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.calibration import FITTED, FREE, HELD_OUT, PASSIVE, Figure
from sim.cli import app
from sim.config import load_scenario, parse_scenario
from sim.posterior import (
    FIGURES,
    Posterior,
    PosteriorResult,
    Prior,
    ResidualDistance,
    abc_posterior,
    declared_priors,
    effective_sample_size,
    make_header,
    posterior_runs,
    read_posterior,
    replication_draw,
    scenario_fingerprint,
    summarise_particles,
    write_posterior,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
runner = CliRunner()

# toy model with a known posterior: log(count) = log(theta) + N(0, 0.2^2),
# logit(share) = logit(p) + N(0, 0.3^2); flat priors on log(theta) and logit(p)
TOY_FIGURES = (Figure("toy count", "toy_count", 100.0, "toy"), Figure("toy share", "toy_share", 0.3, "toy"))
TOY_PRIORS = [Prior("toy.theta", "log", 10.0, 1000.0), Prior("toy.p", "logit", 0.05, 0.95)]
SIGMA = (0.2, 0.3)


def toy_simulate(params: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    lp = math.log(params["toy.p"] / (1 - params["toy.p"])) + SIGMA[1] * rng.normal()
    return {"toy count": params["toy.theta"] * math.exp(SIGMA[0] * rng.normal()),
            "toy share": 1 / (1 + math.exp(-lp))}


def toy(tmp_path, name="h.db", **kw):
    settings = dict(population=40, generations=3, workers=1, seed=3) | kw
    return abc_posterior(toy_simulate, TOY_FIGURES, TOY_PRIORS, db_path=tmp_path / name, **settings)


def test_abc_matches_the_analytic_posterior_of_a_toy_model(tmp_path):
    """With flat priors on the log/logit scale, the exact posterior of (log theta, logit p) is
    normal around (log 100, logit 0.3) with sd (0.2, 0.3); ABC accepting a Euclidean distance
    <= eps adds a uniform disk of radius eps, variance eps^2/4 per coordinate. The weighted
    mean must lie within 4 standard errors (sd / sqrt(ESS)) and the weighted sd within 25%
    (4 standard errors of an sd, 1/sqrt(2 ESS), at ESS >= 100)."""
    res = toy(tmp_path, population=150, generations=10, min_epsilon=0.3)
    eps = float(res.generations["epsilon"].iloc[-1])
    assert eps <= 0.45, res.generations  # the schedule got close to the noise
    w = res.particles["weight"].to_numpy()
    ess = effective_sample_size(w)
    assert ess >= 100
    samples = (np.log(res.particles["toy.theta"]), np.log(res.particles["toy.p"] / (1 - res.particles["toy.p"])))
    truth = (math.log(100.0), math.log(0.3 / 0.7))
    for x, mu, sigma in zip(samples, truth, SIGMA):
        sd_theory = math.sqrt(sigma**2 + eps**2 / 4)
        mean = float(np.average(x, weights=w))
        sd = float(np.sqrt(np.average((x - mean) ** 2, weights=w)))
        assert abs(mean - mu) < 4 * sd_theory / math.sqrt(ess), (mean, mu, sd_theory, ess)
        assert abs(sd / sd_theory - 1) < 0.25, (sd, sd_theory, eps)
    # the summary's 95% credible interval holds the truth, and lies inside the prior
    s = summarise_particles(res.particles, TOY_PRIORS).set_index("parameter")
    assert s.loc["toy.theta", "ci_low"] < 100 < s.loc["toy.theta", "ci_high"]
    assert 10 <= s.loc["toy.theta", "ci_low"] and s.loc["toy.theta", "ci_high"] <= 1000


def test_the_same_seed_gives_the_same_posterior_on_any_number_of_workers(tmp_path):
    a = toy(tmp_path, "a.db")
    b = toy(tmp_path, "b.db")
    c = toy(tmp_path, "c.db", workers=2)
    pd.testing.assert_frame_equal(a.particles, b.particles)
    pd.testing.assert_frame_equal(a.particles, c.particles)
    pd.testing.assert_frame_equal(a.generations, c.generations)
    other = toy(tmp_path, "d.db", seed=4)
    assert not np.allclose(other.particles["toy.theta"].to_numpy(), a.particles["toy.theta"].to_numpy())


def _stub_oversight(held_out_value: float):
    """Every fitted and held-out figure, moving with the parameters; held-out ones at a value
    that would dominate any distance that read them."""
    def simulate(params: dict, seed: int) -> dict:
        rng = np.random.default_rng(seed)
        scale = params["oversight.detection.complaints.scale"] / 5.7
        out = {}
        for f in FITTED:
            share = f.measure.endswith("share") or f.measure.startswith("share_")
            out[f.name] = (params["oversight.reporting.base_propensity"] if share
                           else f.value * scale * math.exp(0.1 * rng.normal()))
        return out | {f.name: held_out_value for f in HELD_OUT}
    return simulate


def test_held_out_figures_never_reach_the_distance(tmp_path):
    assert all(f in FITTED for f in FIGURES) and not any(f in HELD_OUT for f in FIGURES)
    with pytest.raises(ValueError, match="held-out"):
        ResidualDistance(FIGURES + HELD_OUT[:1])
    priors = declared_priors(load_scenario(SCENARIOS / f"{PASSIVE}.yaml"))
    results = []
    for i, held in enumerate((1.0, 1e9)):
        spy = ResidualDistance(FIGURES)
        res = abc_posterior(_stub_oversight(held), FIGURES, priors, population=10, generations=2, seed=1,
                            db_path=tmp_path / f"{i}.db", distance=spy)
        assert spy.seen == {f.name for f in FIGURES}
        assert not spy.seen & {f.name for f in HELD_OUT}
        results.append(res.particles)
    pd.testing.assert_frame_equal(*results)  # what the held-out figures are moves nothing


def _posterior_file(tmp_path: Path, scenarios: dict, particles: pd.DataFrame | None = None) -> Path:
    """A posterior file for the real free parameters, calibrated (by header) on `scenarios`."""
    priors = declared_priors(load_scenario(SCENARIOS / f"{PASSIVE}.yaml"))
    if particles is None:
        particles = pd.DataFrame({"weight": [0.5, 0.5]} | {p.name: [p.low, p.high] for p in priors})
    res = PosteriorResult(particles, priors, FIGURES, pd.DataFrame({"generation": [0], "epsilon": [1.0]}),
                          2, 0.0, "test")
    path = tmp_path / "posterior.parquet"
    write_posterior(path, particles, make_header(res, scenarios))
    return path


def _fingerprint(name: str) -> str:
    return scenario_fingerprint(load_scenario(SCENARIOS / f"{name}.yaml"), [k for k, _ in FREE])


def test_run_refuses_a_posterior_from_another_scenario(tmp_path):
    path = _posterior_file(tmp_path, {"proactive_2018": ("fitted", _fingerprint("proactive_2018"))})
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(SCENARIOS / "passive_2017.yaml"), "--posterior", str(path),
                            "--replications", "2", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "--posterior" in r.output and "another scenario" in r.output and "proactive_2018" in r.output
    assert "Traceback" not in r.output and not out.exists()
    # the same file is accepted for the scenario it names (checked without running it)
    post = read_posterior(path)
    from sim.posterior import check_applies

    assert check_applies(post, load_scenario(SCENARIOS / "proactive_2018.yaml")) == "fitted"
    # an edited scenario of the same name is another scenario
    raw = yaml.safe_load((SCENARIOS / "proactive_2018.yaml").read_text())
    raw["oversight"]["follow_up"]["public_listing"] = False
    with pytest.raises(Exception, match="--posterior.*differs"):
        check_applies(post, parse_scenario(raw))


@pytest.mark.parametrize("case, needle", [
    ("missing", "no such file"), ("not_parquet", "cannot read it"), ("no_header", "not a posterior"),
    ("network", "model: network"), ("one_replication", "--replications: at least 2"),
])
def test_run_posterior_bad_input_exits_2_naming_the_flag(tmp_path, case, needle):
    good = _posterior_file(tmp_path, {PASSIVE: ("fitted", _fingerprint(PASSIVE))})
    path, scen, reps = good, SCENARIOS / "passive_2017.yaml", "2"
    if case == "missing":
        path = tmp_path / "nope.parquet"
    elif case == "not_parquet":
        path = tmp_path / "bad.parquet"
        path.write_text("not parquet")
    elif case == "no_header":
        path = tmp_path / "plain.parquet"
        pd.DataFrame({"weight": [1.0]}).to_parquet(path)
    elif case == "network":
        scen = SCENARIOS / "baseline_peak_hour.yaml"
    else:
        reps = "1"
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(scen), "--posterior", str(path), "--replications", reps, "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert needle in r.output and ("--posterior" in r.output or "--replications" in r.output), r.output
    assert "Traceback" not in r.output and not out.exists()


@pytest.mark.parametrize("args, needle", [
    (["--population", "0"], "--population: must be >= 1"),
    (["--generations", "0"], "--generations: must be >= 1"),
    (["--min-acceptance-rate", "1.5"], "--min-acceptance-rate"),
    (["--predictive", "1"], "--predictive"),
])
def test_calibrate_posterior_bad_options_exit_2(tmp_path, args, needle):
    out = tmp_path / "res"
    r = runner.invoke(app, ["calibrate", "--posterior", *args, "--out", str(out)])
    assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output, r.output
    assert not out.exists()
    r = runner.invoke(app, ["calibrate", "--population", "5", "--out", str(out)])
    assert r.exit_code == 2 and "--population: only with --posterior" in r.output, r.output


SMALL = {"name": "passive_small", "seed": 11, "model": "oversight",
         "topology": {"counties": ["Alpine", "Sierra", "Modoc"]},
         "journal": {"start_date": "2017-01-01"},
         "oversight": {"years": 1, "warmup_days": 30, "follow_up": {"regime": "passive"}}}
RUN_NOISE = 0.05


def _stub_task(scenario, seed, directory, _arg):
    """y = complaints scale + N(0, 0.05^2) noise from the run's seed."""
    y = scenario.oversight.detection.complaints.scale + RUN_NOISE * np.random.default_rng(seed % 2**32).normal()
    return {"y": float(y)}


def test_parameter_uncertainty_widens_the_interval_with_common_random_numbers(tmp_path, monkeypatch):
    """Particles at scale 1..5 (equal weights) and run noise of sd 0.05: the run-only interval
    is ~0.05 * 2 * t wide, the one with draws ~sqrt(2) * 2 * t; it must be at least 5x wider
    (only if all 12 draws hit one particle would it not be: probability 5 * 0.2^12 ~ 2e-8)."""
    from sim import experiment

    monkeypatch.setitem(experiment.TASKS, "posterior_stub", _stub_task)
    names = [k for k, _ in FREE]
    base = {"oversight.detection.complaints.unfounded_per_million": 2.0,
            "oversight.investigation.open_complaint": 0.9, "oversight.reporting.base_propensity": 0.5}
    particles = pd.DataFrame([{"weight": 0.2, "oversight.detection.complaints.scale": float(s), **base}
                              for s in range(1, 6)])[["weight", *names]]
    post = Posterior(tmp_path / "p.parquet", {"parameters": [{"name": n} for n in names]}, particles)
    res = posterior_runs(SMALL, "<small>", post, root=11, replications=12, directory=tmp_path / "runs",
                         task="posterior_stub", measures=["y"])
    row = res.intervals.set_index("measure").loc["y"]
    run_width, total_width = row["run_high"] - row["run_low"], row["total_high"] - row["total_low"]
    assert abs(row["mean_at_median"] - 3.0) < 0.1  # the weighted median particle
    assert total_width >= 5 * run_width, row
    # common random numbers: both points of replication r share its seed; draws are written
    d = res.draws
    assert (d[d["point"] == 0]["seed"].to_numpy() == d[d["point"] == 1]["seed"].to_numpy()).all()
    assert d[d["point"] == 1]["oversight.detection.complaints.scale"].nunique() > 1
    assert np.allclose(d[d["point"] == 0]["oversight.detection.complaints.scale"], 3.0)
    # the draws have their own stream: replication r draws the same particle whatever R is
    assert [replication_draw(post, 11, r) for r in range(5)] == d[d["point"] == 1]["particle"].tolist()[:5]


def _small_scenario_and_posterior(tmp_path):
    """SMALL written as passive_small.yaml, and a posterior fitted on it: 4 equal-weight
    particles spread evenly over each parameter's declared range."""
    scen = tmp_path / "passive_small.yaml"
    scen.write_text(yaml.safe_dump(SMALL))
    fp = scenario_fingerprint(parse_scenario(SMALL), [k for k, _ in FREE])
    priors = declared_priors(parse_scenario(SMALL))
    particles = pd.DataFrame({"weight": [0.25] * 4} | {p.name: np.linspace(p.low, p.high, 4) for p in priors})
    return scen, _posterior_file(tmp_path, {"passive_small": ("fitted", fp)}, particles)


def test_clets_run_posterior_prints_two_intervals_and_writes_the_draws(tmp_path, monkeypatch):
    """The command end to end on a stub model (sim.experiment.TASKS): exit 0, both intervals
    per headline output, every run's parameters in posterior_draws.csv, a complete manifest."""
    import json

    from sim import experiment

    def stub(scenario, seed, directory, _arg):
        rng = np.random.default_rng(seed % 2**32)
        share = scenario.oversight.reporting.base_propensity + 0.01 * rng.normal()
        return {"reported_share": float(share), "true_misuse_rows": float(1000 + 10 * rng.normal())}

    monkeypatch.setitem(experiment.TASKS, "measures", stub)
    scen, path = _small_scenario_and_posterior(tmp_path)
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(scen), "--posterior", str(path), "--replications", "6", "--out", str(out),
                            "--quiet"], env={"COLUMNS": "250"})  # one line per table row
    assert r.exit_code == 0, r.output
    assert "95%: run randomness" in r.output and "95%: randomness + parameters" in r.output
    assert "agencies reporting" in r.output
    draws = pd.read_csv(out / "posterior_draws.csv")
    assert len(draws) == 12 and set(draws["point"]) == {0, 1}
    assert draws.loc[draws["point"] == 1, "oversight.reporting.base_propensity"].nunique() > 1
    intervals = pd.read_csv(out / "posterior_intervals.csv").set_index("measure")
    share = intervals.loc["reported_share"]
    assert share["total_high"] - share["total_low"] > share["run_high"] - share["run_low"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["kind"] == "posterior_run"
    assert len(manifest["draws"]) == 12


@pytest.mark.slow
def test_calibrate_posterior_then_run_on_the_real_oversight_model(tmp_path):
    """The whole chain on the real model, on a three-county copy of the calibration scenarios
    (a smoke test of the wiring: the figures are statewide, so no fit quality is asserted)."""
    d = tmp_path / "scenarios"
    d.mkdir()
    for name in ("passive_2017", "proactive_2018"):
        raw = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
        raw["topology"] = SMALL["topology"]
        raw["oversight"]["warmup_days"] = 30
        (d / f"{name}.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "post"
    r = runner.invoke(app, ["calibrate", "--posterior", "--population", "3", "--generations", "2",
                            "--predictive", "2", "--scenarios", str(d), "--out", str(out)],
                      env={"COLUMNS": "250"})  # one line per table row
    assert r.exit_code == 0, r.output
    assert "95% credible interval" in r.output and "held-out figures" in r.output
    post = read_posterior(out / "posterior.parquet")
    assert len(post.particles) == 3 and post.header["fitted_scenarios"] == ["passive_2017"]
    assert set(post.header["scenarios"]) == {"passive_2017", "proactive_2018"}
    run_out = tmp_path / "run"
    r = runner.invoke(app, ["run", str(d / "proactive_2018.yaml"), "--posterior", str(out / "posterior.parquet"),
                            "--replications", "2", "--out", str(run_out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(run_out / "posterior_draws.csv")) == 4


def test_run_posterior_difference_counts_the_draws_below_zero(tmp_path, monkeypatch):
    """--difference: each run is a paired comparison; the share of posterior draws below zero is
    printed. Stub: the change lowers true misuse by (base_propensity - 0.5) * 100 rows, so it is
    below zero exactly in the draws whose base_propensity exceeds 0.5 (half the particles)."""
    from sim import experiment

    def stub(scenario, seed, directory, _arg):
        cut = 100 * (scenario.oversight.reporting.base_propensity - 0.5)
        yearly = scenario.oversight.audits.cycle_years == 1
        return {"true_misuse_rows": 1000.0 - (cut if yearly else 0.0), "reported_share": 0.5}

    monkeypatch.setitem(experiment.TASKS, "measures", stub)
    scen, path = _small_scenario_and_posterior(tmp_path)
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(scen), "--posterior", str(path), "--replications", "8", "--out", str(out),
                            "--quiet", "--difference", "oversight.audits.cycle_years=1"],
                      env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    runs = pd.read_csv(out / "posterior_runs.csv")
    draws = pd.read_csv(out / "posterior_draws.csv")
    d = runs[runs["point"] == 1].merge(draws[["key", "oversight.reporting.base_propensity"]], on="key")
    expected = (d["oversight.reporting.base_propensity"] > 0.5).sum()
    assert 0 < expected < len(d)  # the draws straddle 0.5: the count is informative
    assert f"below zero in {expected} of {len(d)} posterior draws" in " ".join(r.output.split())
    bad = runner.invoke(app, ["run", str(scen), "--out", str(tmp_path / "x"), "--difference", "a=1"])
    assert bad.exit_code == 2 and "--difference: only with --posterior" in bad.output
