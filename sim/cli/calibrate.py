"""`clets calibrate` and `clets check`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from sim.cli.common import (
    LazyBar,
    _report,
    app,
    check_replications,
    check_workers,
    err,
    out,
    user_errors,
)
from sim.config import load_scenario

# `clets calibrate --posterior` defaults: sized so the command takes about 15 minutes on this
# 2-core machine (docs/oversight.md, "Posterior calibration": one statewide passive year ~27 s)
POSTERIOR_DEFAULTS = dict(population=8, generations=3, min_epsilon=0.25, min_acceptance_rate=0.1,
                          predictive=4)


@app.command()
@user_errors
def calibrate(
    replications: int = typer.Option(3, help="replications per scenario (seed r = seed*1000 + r)"),
    workers: int = typer.Option(1, help="parallel processes (results do not depend on it)"),
    fit: bool = typer.Option(False, "--fit", help="first fit the free parameters to the fitted figures"),
    scenarios_dir: Path = typer.Option(Path("scenarios"), "--scenarios", help="where the scenarios are"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
    posterior: bool = typer.Option(False, "--posterior", help="ABC-SMC posterior of the free parameters "
                                   "(pyabc) instead of a point; writes posterior.parquet"),
    population: Optional[int] = typer.Option(None, help=f"with --posterior: particles per generation "
                                             f"(default {POSTERIOR_DEFAULTS['population']})"),
    generations: Optional[int] = typer.Option(None, help=f"with --posterior: at most this many generations "
                                              f"(default {POSTERIOR_DEFAULTS['generations']})"),
    min_epsilon: Optional[float] = typer.Option(None, help=f"with --posterior: stop once the distance "
                                                f"threshold reaches this (default {POSTERIOR_DEFAULTS['min_epsilon']})"),
    min_acceptance_rate: Optional[float] = typer.Option(
        None, help=f"with --posterior: stop when a generation would accept less than this share "
                   f"(default {POSTERIOR_DEFAULTS['min_acceptance_rate']})"),
    predictive: Optional[int] = typer.Option(None, help=f"with --posterior: posterior draws run for the "
                                             f"predicted figures (default {POSTERIOR_DEFAULTS['predictive']})"),
    seed: Optional[int] = typer.Option(None, help="with --posterior: seed of the ABC sampler and the "
                                       "predictive draws (default: the fitted scenario's seed)"),
) -> None:
    """Fitted figures (2010-2014 record, 58% in 2017) and held-out predictions (98% in 2018,
    2016 and 2019-2023 investigations, 2017 dismissals): record, model mean, 95% CI.
    With --fit, the free parameters are first fitted (scipy least squares) and written to
    fitted_parameters.yaml; held-out figures are never used in fitting. With --posterior, an
    ABC-SMC posterior of the same parameters (docs/oversight.md, "Posterior calibration")."""
    import pandas as pd
    import yaml

    from sim.calibration import FITTED, HELD_OUT
    from sim.calibration import calibrate as run_calibration
    from sim.outputs import new_run_id, run_directory, write_manifest

    check_replications(replications)
    check_workers(workers)
    settings = _posterior_settings(posterior, fit, population=population, generations=generations,
                                   min_epsilon=min_epsilon, min_acceptance_rate=min_acceptance_rate,
                                   predictive=predictive, seed=seed)
    for name in sorted({f.scenario for f in FITTED + HELD_OUT}):
        load_scenario(scenarios_dir / f"{name}.yaml", f"--scenarios {scenarios_dir}: scenario file")
    if posterior:
        return _calibrate_posterior(scenarios_dir, workers, out_dir, settings)
    target = out_dir or Path("results") / "calibration" / new_run_id(0)
    with run_directory(target) as tmp:
        with LazyBar("calibration runs" + (" (fitting first)" if fit else ""), total=None) as bar:
            bar.update(completed=0)
            res = run_calibration(
                scenarios_dir, replications, workers, do_fit=fit, on_run=lambda: bar.update(advance=1),
                on_evaluation=lambda h: err.print("fit evaluation: " + ", ".join(
                    f"{k.split('.')[-1]}={v:.3g}" for k, v in h.items())))
        table = res["table"]
        table.to_csv(tmp / "calibration.csv", index=False)
        res["runs"].to_csv(tmp / "calibration_runs.csv", index=False)
        params = {k: v for k, v in res["params"].items()}
        (tmp / "fitted_parameters.yaml").write_text(
            "# Free parameters " + ("fitted by clets calibrate --fit" if fit else "used (defaults)")
            + "; dotted scenario keys.\n" + yaml.safe_dump(params, sort_keys=True))
        if res["fit"] is not None:
            pd.DataFrame(res["fit"].history).to_csv(tmp / "fit_history.csv", index=False)
        write_manifest(tmp, kind="calibration", replications=replications, fitted=fit,
                       parameters=params, targets=table.to_dict(orient="records"))
    for role, title in (("fitted", "fitted figures (used to fit the free parameters)"),
                        ("held-out", "held-out figures (never used in fitting): predictions")):
        t = Table(title=f"{title}, {replications} replications")
        for col in ("figure", "record", "model mean", "95% CI", "record inside?"):
            t.add_column(col, justify="left" if col == "figure" else "right")
        for _, r in table[table["role"] == role].iterrows():
            share = r["measure"].endswith("share") or r["measure"].startswith("share_")
            fmt = (lambda v: f"{v:.1%}") if share else (lambda v: f"{v:,.1f}")
            t.add_row(r["figure"], fmt(r["record"]), fmt(r["mean"]),
                      f"{fmt(r['ci_low'])} - {fmt(r['ci_high'])}",
                      "[green]yes[/]" if r["inside"] else "[red]no: miss[/]")
        out.print(t)
    out.print("parameters: " + ", ".join(f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float)
                                        else f"{k.split('.')[-1]}={v}" for k, v in params.items()))
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _posterior_settings(posterior: bool, fit: bool, **given) -> dict:
    """The --posterior options, checked (each error names its flag); defaults filled in."""
    from sim.errors import ScenarioError

    flags = {k: "--" + k.replace("_", "-") for k in given}
    if not posterior:
        extra = [flags[k] for k, v in given.items() if v is not None]
        if extra:
            raise ScenarioError(f"{extra[0]}: only with --posterior")
        return {}
    if fit:
        raise ScenarioError("--posterior: cannot be combined with --fit (one point or a posterior)")
    s = {k: (POSTERIOR_DEFAULTS[k] if v is None else v) for k, v in given.items() if k != "seed"}
    s["seed"] = given["seed"]
    for k in ("population", "generations"):
        if s[k] < 1:
            raise ScenarioError(f"{flags[k]}: must be >= 1 (got {s[k]})")
    if s["predictive"] < 2:
        raise ScenarioError(f"--predictive: must be >= 2, for an interval (got {s['predictive']})")
    if s["predictive"] > 1000:
        raise ScenarioError(f"--predictive: {s['predictive']} is more than the limit of 1000")
    if not (s["min_epsilon"] >= 0) or s["min_epsilon"] == float("inf"):
        raise ScenarioError(f"--min-epsilon: must be a finite number >= 0 (got {s['min_epsilon']})")
    if not (0 <= s["min_acceptance_rate"] < 1):
        raise ScenarioError(f"--min-acceptance-rate: must be in [0, 1) (got {s['min_acceptance_rate']})")
    if s["seed"] is not None and s["seed"] < 0:
        raise ScenarioError(f"--seed: must be >= 0 (got {s['seed']})")
    return s


def _calibrate_posterior(scenarios_dir: Path, workers: int, out_dir: Optional[Path], s: dict) -> None:
    """ABC-SMC posterior of the free parameters, then the figures predicted under it."""
    import time

    import pandas as pd

    from sim.calibration import FITTED, FREE, HELD_OUT, PASSIVE
    from sim.outputs import new_run_id, run_directory, write_manifest
    from sim.posterior import (
        FIGURES,
        OversightSimulator,
        abc_posterior,
        declared_priors,
        make_header,
        posterior_predictive,
        predictive_table,
        scenario_fingerprint,
        write_posterior,
    )

    fitted_scenario = load_scenario(scenarios_dir / f"{PASSIVE}.yaml")
    priors = declared_priors(fitted_scenario)
    seed = s["seed"] if s["seed"] is not None else int(fitted_scenario.seed or 0)
    free = [k for k, _ in FREE]
    fitted_names = {f.scenario for f in FIGURES}
    scenarios = {}
    for name in sorted({f.scenario for f in FITTED + HELD_OUT}):
        sc = load_scenario(scenarios_dir / f"{name}.yaml")
        scenarios[name] = ("fitted" if name in fitted_names else "held-out", scenario_fingerprint(sc, free))
    target = out_dir or Path("results") / "calibration" / ("posterior-" + new_run_id(seed))
    with run_directory(target) as tmp:
        simulator = OversightSimulator(scenarios_dir, FIGURES)
        err.print(f"ABC-SMC: {s['population']} particles x at most {s['generations']} generation(s) of "
                  f"{', '.join(sorted(fitted_names))} on {workers} worker(s), seed {seed}; one run of "
                  f"{', '.join(sorted(fitted_names))} per simulation")
        with LazyBar("ABC: accepted particles", total=s["population"] * s["generations"]) as bar:
            bar.update(completed=0)

            def generation_done(t, accepted, evaluated, ok):
                err.print(f"generation {t}: {accepted} accepted of {evaluated} simulated"
                          + ("" if ok else " (acceptance rate below the minimum: generation dropped)"))

            res = abc_posterior(simulator, FIGURES, priors, population=s["population"],
                                generations=s["generations"], min_epsilon=s["min_epsilon"],
                                min_acceptance_rate=s["min_acceptance_rate"], workers=workers, seed=seed,
                                db_path=tmp / "abc_history.db", on_evaluation=lambda ok: bar.update(advance=int(ok)),
                                on_generation=generation_done)
        t0 = time.perf_counter()
        predicted_figures = tuple(FITTED) + tuple(HELD_OUT)
        groups = len({f.key() for f in predicted_figures})
        with LazyBar(f"posterior predictive: {s['predictive']} draws x {groups} runs",
                     total=s["predictive"] * groups) as bar:
            bar.update(completed=0)
            pred = posterior_predictive(scenarios_dir, predicted_figures, res.particles, priors,
                                        s["predictive"], seed, workers, on_run=lambda: bar.update(advance=1))
        predictive_wall = time.perf_counter() - t0
        table = pd.concat([predictive_table(FITTED, pred, "fitted"), predictive_table(HELD_OUT, pred, "held-out")],
                          ignore_index=True)
        summary = res.summary()
        header = make_header(res, scenarios, predictive=dict(draws=s["predictive"], wall_s=round(predictive_wall, 1),
                                                             table=table.to_dict(orient="records")))
        write_posterior(tmp / "posterior.parquet", res.particles, header)
        import json

        (tmp / "posterior.json").write_text(json.dumps(header, indent=2, default=float))
        summary.to_csv(tmp / "posterior_summary.csv", index=False)
        res.generations.to_csv(tmp / "posterior_generations.csv", index=False)
        pred.to_csv(tmp / "posterior_predictive_runs.csv", index=False)
        table.to_csv(tmp / "posterior_predictive.csv", index=False)
        write_manifest(tmp, kind="posterior", scenario_name=PASSIVE, fingerprint=header["fingerprint"],
                       seed=seed, settings={**s, "workers": workers, "seed": seed}, stopped=res.stopped,
                       simulations=res.simulations, abc_wall_s=round(res.wall_s, 1),
                       predictive_wall_s=round(predictive_wall, 1))
    _print_posterior(res, summary, table, s, predictive_wall, workers)
    out.print(f"posterior: [bold]{target / 'posterior.parquet'}[/] (clets run SCENARIO --posterior FILE)")
    out.print(f"results: [bold]{target}[/]")


def _print_posterior(res, summary, table, s, predictive_wall, workers) -> None:
    g = res.generations
    eps = ", ".join(f"{e:.3g}" for e in g["epsilon"])
    out.print(f"ABC-SMC: {len(g)} generation(s), epsilon {eps}; {res.simulations} simulations in "
              f"{res.wall_s / 60:.1f} min on {workers} worker(s); stopped: {res.stopped}", highlight=False)
    t = Table(title=f"posterior of the free parameters ({len(res.particles)} weighted particles; "
                    f"prior: uniform on the log/logit scale over the declared range)")
    for col in ("parameter", "posterior median", "95% credible interval", "prior range"):
        t.add_column(col, justify="left" if col == "parameter" else "right")
    for _, r in summary.iterrows():
        t.add_row(r["parameter"].removeprefix("oversight."), f"{r['median']:.3g}",
                  f"{r['ci_low']:.3g} - {r['ci_high']:.3g}", f"{r['prior_low']:g} - {r['prior_high']:g} "
                  f"({r['prior'].split('-')[0]})")
    out.print(t)
    for role, title in (("fitted", "fitted figures under the posterior (posterior-predictive check)"),
                        ("held-out", "held-out figures (never in the distance): predicted under the posterior")):
        pt = Table(title=f"{title}, {s['predictive']} posterior draws, one run each "
                         f"({predictive_wall / 60:.1f} min)")
        for col in ("figure", "record", "predictive mean", "95% predictive interval", "record inside?"):
            pt.add_column(col, justify="left" if col == "figure" else "right")
        for _, r in table[table["role"] == role].iterrows():
            share = r["measure"].endswith("share") or r["measure"].startswith("share_")
            fmt = (lambda v: f"{v:.1%}") if share else (lambda v: f"{v:,.1f}")
            pt.add_row(r["figure"], fmt(r["record"]), fmt(r["mean"]), f"{fmt(r['pi_low'])} - {fmt(r['pi_high'])}",
                       "[green]yes[/]" if r["inside"] else "[red]no: miss[/]")
        out.print(pt)
