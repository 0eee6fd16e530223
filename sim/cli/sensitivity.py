"""`clets sensitivity`: which declared assumptions drive an output, and by how much (SALib)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from sim.cli.common import (
    FORCE_HELP,
    INTERRUPTED,
    LazyBar,
    _report,
    _resolve_county,
    app,
    check_prior_manifest,
    check_replications,
    check_size,
    check_workers,
    check_writable,
    err,
    out,
    user_errors,
)
from sim.config import Scenario, load_scenario
from sim.errors import ScenarioError

KIND = "sensitivity"


@app.command()
@user_errors
def sensitivity(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML"),
    method: str = typer.Option("morris", help="morris (screening: mu*, sigma) or sobol (variance "
                               "shares S1, ST with bootstrap CIs)"),
    outputs: Optional[str] = typer.Option(
        None, help="comma-separated outputs; the first is the headline (tornado). Default: "
        "p95_censored_s (network), true_misuse_rows (oversight), knee (with --county)"),
    samples: int = typer.Option(10, help="Morris: trajectories, N x (params+1) runs; Sobol: base "
                                "sample, a power of 2, N x (params+2) runs"),
    params: Optional[str] = typer.Option(
        None, help="parameters to vary, e.g. 'network.msc.service.mean,traffic.diurnal.amplitude=0.4:0.8' "
        "(declared range unless NAME=LOW:HIGH; default: every ranged parameter of the model)"),
    county: Optional[str] = typer.Option(
        None, help="find this county's knee per parameter set (outputs knee, msc_utilization, ...)"),
    difference: Optional[str] = typer.Option(
        None, help="KEY=VALUE: run each parameter set as written and with this change (same seed); "
        "outputs difference.<measure> (changed - as written), as_written.<measure>, changed.<measure>"),
    replications: int = typer.Option(1, help="seeds per parameter set, averaged (common random "
                                     "numbers: the same seeds for every set)"),
    levels: int = typer.Option(4, help="Morris grid levels (even)"),
    resamples: int = typer.Option(1000, help="bootstrap resamples of the confidence intervals"),
    tornado: bool = typer.Option(True, "--tornado/--no-tornado",
                                 help="also run each parameter at its low and high end (2k+1 runs)"),
    workers: int = typer.Option(1, help="parallel processes (or Dask workers with --dask)"),
    scheduler: Optional[str] = typer.Option(None, help="address of an existing Dask scheduler"),
    dask: bool = typer.Option(False, "--dask", help="run on a local Dask cluster of --workers"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="analysis directory (reused to resume)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar (CI)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Morris or Sobol sensitivity of the outputs to the declared parameter ranges (clets params),
    plus a one-at-a-time tornado; runs on processes or Dask, resumes after a kill."""
    import hashlib
    import json

    from sim import sensitivity as sa

    scenario = load_scenario(scenario_file)
    method = method.strip().lower()
    sa.check_samples(method, samples, levels)
    check_replications(replications)
    if resamples < 10 or resamples > 100_000:
        raise ScenarioError(f"--resamples: must be between 10 and 100,000 (got {resamples})")
    if scheduler is None:
        check_workers(workers)
    task = _task(scenario, county, difference)
    names = _outputs(scenario, task, outputs)
    factors = sa.choose_factors(scenario, params)
    if task.startswith("difference:"):
        changed = next(iter(json.loads(task.partition(":")[2])))
        if changed in {f.name for f in factors}:
            raise ScenarioError(f"--difference: {changed!r} is also a parameter in --params: the "
                                "change would override its sampled value")
    runs = sa.run_count(method, samples, len(factors), replications, tornado)
    # simulations per parameter set: the knee's bisection about 6, a paired comparison 2
    per_run = 6 if task.startswith("knee") else 2 if task.startswith("difference") else 1
    check_size(scenario, runs=runs * per_run, workers=workers, force=force, local=scheduler is None,
               flags={"runs": f"--samples {samples} x {len(factors)} parameters"})
    ident = hashlib.sha256(json.dumps(
        [scenario.model_dump(mode="json"), method, samples, levels, replications, tornado, task,
         [(f.name, f.low, f.high) for f in factors]], sort_keys=True, default=str).encode()).hexdigest()[:10]
    target = out_dir or Path(scenario.outputs.dir) / scenario.name / f"sensitivity-{method}-{ident}"
    _analysis(scenario, scenario_file, sa.make_design(method, factors, samples,
                                                      scenario.seed or 0, levels),
              names, task, replications, resamples, tornado, workers, scheduler, dask, target,
              quiet)


def _task(scenario: Scenario, county: Optional[str], difference: Optional[str]) -> str:
    if difference is not None:
        return _difference(scenario, county, difference)
    if county is None:
        return "measures"
    name = _resolve_county(county)
    if scenario.model != "network":
        raise ScenarioError(f"--county: a county's knee needs a network scenario (model is "
                            f"{scenario.model!r})")
    counties = scenario.topology.counties
    if counties is not None and name not in counties:
        raise ScenarioError(f"--county: {name!r} is not in this scenario's topology.counties "
                            f"({', '.join(counties)[:200]})")
    return f"knee:{name}"


def _difference(scenario: Scenario, county: Optional[str], spec: str) -> str:
    from sim.experiment import difference_task

    if county is not None:
        raise ScenarioError("--difference: not with --county (the knee is not a paired measure)")
    return difference_task(scenario, spec)


def _outputs(scenario: Scenario, task: str, spec: Optional[str]) -> list[str]:
    """The outputs asked for, each one the scenario's runs produce (checked before any run)."""
    from sim.experiment import task_outputs

    known = task_outputs(scenario, task)
    if spec is None:
        own = ("p95_censored_s" if scenario.model == "network" else "true_misuse_rows"
               if scenario.model == "oversight" else "network.p95_censored_s")
        return ["knee" if task.startswith("knee") else
                f"difference.{own}" if task.startswith("difference") else own]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise ScenarioError(f"--outputs: no output named in {spec!r}")
    for name in names:
        if name not in known:
            what = (f"a {scenario.model} scenario" if task == "measures"
                    else "a paired comparison (--difference)" if task.startswith("difference")
                    else "a knee analysis (--county)")
            hint = "; the knee needs --county" if name == "knee" and task == "measures" else ""
            raise ScenarioError(f"--outputs: {name!r} is not produced by {what}{hint} (it produces: "
                                f"{', '.join(known)[:700]})")
    if len(set(names)) != len(names):
        raise ScenarioError(f"--outputs: an output is named twice in {spec!r}")
    return names


def _analysis(scenario, scenario_file, design, outputs, task, replications, resamples, tornado,
              workers, scheduler, dask, target: Path, quiet: bool) -> None:
    """Plan (validating every parameter set), run (resuming), analyse, write and report."""
    import time

    from sim import sensitivity as sa
    from sim.config.reader import load_yaml
    from sim.outputs import folder_lock, write_manifest

    t0 = time.perf_counter()
    planned = sa.plan_runs(scenario, load_yaml(Path(scenario_file)), design, target, replications,
                           task, tornado, str(scenario_file))
    check_writable(target)
    check_prior_manifest(target, KIND)
    INTERRUPTED[0] = (f"interrupted; the finished runs in {target} are kept: the same command "
                      "resumes where it stopped")
    with folder_lock(target / ".lock", f"results folder {target}"):
        (target / "manifest.json").unlink(missing_ok=True)  # not complete until analysed
        err.print(f"{design.method}: {len(design.factors)} parameters, {len(design.X)} parameter "
                  f"sets{' + tornado' if tornado else ''} x {replications} replication(s) = "
                  f"{sa.unique_runs(planned)} runs in {target}")
        with LazyBar("runs", total=sa.unique_runs(planned)) as bar:
            if not quiet:
                bar.update(completed=0)
            res = sa.run_analysis(planned, design, outputs, resamples, workers, scheduler, dask,
                                  on_done=None if quiet else (lambda _r: bar.update(advance=1)))
        tables = {"sensitivity_runs": res.runs, "sensitivity_design": _design_frame(design),
                  "sensitivity_indices": res.indices, "sensitivity_spread": res.spread,
                  "sensitivity_tornado": res.tornado}
        for name, df in tables.items():
            if df is not None:
                df.to_parquet(target / f"{name}.parquet", index=False)
                df.to_csv(target / f"{name}.csv", index=False)
        if len(res.failed):
            first = res.failed["error"].iloc[0][:300]
            err.print(f"[red]{len(res.failed)} of {len(res.runs)} runs failed[/] (first: {first}); "
                      "the indices need every run: the same command retries the failed ones and "
                      f"reuses the rest ({target / 'sensitivity_runs.csv'}, error column)",
                      soft_wrap=True, highlight=False)
            raise typer.Exit(1)
        indices = res.indices
        answer = sa.headline_answer(indices, res.spread, outputs[0])
        resumed = res.resumed
        write_manifest(target, kind=KIND, scenario_name=scenario.name,
                       scenario_file=str(scenario_file), scenario=scenario.model_dump(mode="json"),
                       method=design.method, samples=design.samples, levels=design.levels,
                       design_seed=design.seed, task=task, outputs=outputs,
                       parameters=[{"name": f.name, "low": f.low, "high": f.high, "value": f.value,
                                    "log": f.log, "integer": f.integer, "source": f.source}
                                   for f in design.factors],
                       replications=replications, resamples=resamples, tornado=tornado,
                       runs=len(res.records), resumed=resumed, root_seed=scenario.seed,
                       seeds=sorted({p.spec.seed for p in planned}), answer=answer,
                       wall_s=round(time.perf_counter() - t0, 2))
    _print(design, indices, outputs, answer, len(res.records), resumed)
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _design_frame(design):
    import pandas as pd

    df = pd.DataFrame(design.X, columns=[f"design:{f.name}" for f in design.factors])
    for f in design.factors:
        df[f.name] = [f.natural(x) for x in df[f"design:{f.name}"]]
    df.insert(0, "sample", range(len(df)))
    return df


def _print(design, indices, outputs, answer, runs, resumed) -> None:
    morris = design.method == "morris"
    for output in outputs:
        d = indices[indices["output"] == output].sort_values("rank")
        t = Table(title=f"{design.method}: {output} ({runs} runs, {resumed} reused)")
        cols = (("rank", "parameter", "mu*", "95% CI", "sigma") if morris
                else ("rank", "parameter", "S1", "95% CI", "ST", "95% CI "))
        for c in cols:
            t.add_column(c, justify="left" if c == "parameter" else "right")
        for r in d.itertuples():
            if morris:
                t.add_row(str(r.rank), r.parameter, f"{r.mu_star:.3g}",
                          f"{r.mu_star_ci_low:.3g} - {r.mu_star_ci_high:.3g}", f"{r.sigma:.3g}")
            else:
                t.add_row(str(r.rank), r.parameter, f"{r.S1:.3f}",
                          f"{r.S1_ci_low:.3f} - {r.S1_ci_high:.3f}", f"{r.ST:.3f}",
                          f"{r.ST_ci_low:.3f} - {r.ST_ci_high:.3f}")
        out.print(t)
        if len(d) and d["note"].iloc[0]:
            err.print(f"[yellow]note:[/] {output}: {d['note'].iloc[0]}")
    out.print(f"answer: {answer}")
