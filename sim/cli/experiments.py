"""`clets sweep` (and replicated runs): many runs under common random numbers, summarised."""

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


@app.command()
@user_errors
def sweep(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML with a sweep: block"),
    replications: Optional[int] = typer.Option(None, help="override sweep.replications"),
    workers: int = typer.Option(1, help="parallel processes (or Dask workers with --dask)"),
    scheduler: Optional[str] = typer.Option(None, help="address of an existing Dask scheduler"),
    dask: bool = typer.Option(False, "--dask", help="run on a local Dask cluster of --workers"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="sweep directory (reused to resume)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar (CI)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Run every point of the scenario's sweep x replications (common random numbers); summarise
    with 95% CIs and paired differences against the baseline; finished runs are not rerun."""
    import hashlib
    import json

    scenario = load_scenario(scenario_file)
    if scenario.sweep is None:
        raise ScenarioError(f"{scenario_file}: no sweep: block (see docs/experiments.md)")
    check_replications(replications)
    if scheduler is None:
        check_workers(workers)
    resolved = _check_sweep_size(scenario, scenario_file, replications, workers, scheduler is None, force)
    ident = hashlib.sha256(json.dumps([scenario.model_dump(mode="json"), replications],
                                      sort_keys=True, default=str).encode()).hexdigest()[:10]
    target = out_dir or Path(scenario.outputs.dir) / scenario.name / f"sweep-{ident}"
    _experiment(scenario, scenario_file, replications, workers, scheduler, dask, target, quiet, resolved)


def _check_sweep_size(scenario: Scenario, scenario_file: Path, replications: Optional[int],
                      workers: int, local: bool, force: bool):
    """The sweep's runs and its largest point against the limits and this machine's memory, before
    any folder is made (sim.budget). Returns the resolved points, for `plan`."""
    from sim.config.reader import load_yaml
    from sim.experiment import expand_points, sweep_points

    n_points = len(expand_points(scenario))
    reps = replications or scenario.sweep.replications
    runs = {"runs": f"sweep: {n_points:,} points x {reps} replications"}
    check_size(scenario, runs=n_points * reps, force=force, local=False, flags=runs)  # before resolving
    points, resolved = sweep_points(scenario, load_yaml(Path(scenario_file)), str(scenario_file))
    # every point within the documented limits (unless --force); the largest sizes the memory
    memory = [check_size(s, force=force, local=False).memory_bytes for s in resolved]
    check_size(resolved[memory.index(max(memory))], runs=n_points * reps, workers=workers, force=force,
               local=local, flags=runs)
    return points, resolved


def _experiment(scenario: Scenario, scenario_file: Path, replications: Optional[int], workers: int,
                scheduler: Optional[str], dask: bool, target: Path, quiet: bool, resolved=None) -> None:
    """`_run_experiment` with the results folder locked (one writer at a time)."""
    from sim.outputs import folder_lock

    try:
        Path(target).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScenarioError(f"--out: {target} is not writable ({e.strerror})") from None
    INTERRUPTED[0] = (f"interrupted; the finished runs in {target} are kept: the same command "
                      "resumes where it stopped")
    with folder_lock(Path(target) / ".lock", f"results folder {target}"):
        _run_experiment(scenario, scenario_file, replications, workers, scheduler, dask, target, quiet,
                        resolved)


def _run_experiment(scenario: Scenario, scenario_file: Path, replications: Optional[int], workers: int,
                    scheduler: Optional[str], dask: bool, target: Path, quiet: bool, resolved=None) -> None:
    """Plan, run (resuming finished runs), summarise and report a sweep or replicated run
    (`resolved`: the points `sweep` already validated to size it)."""

    from sim.cli.compare import VERDICT_STYLE
    from sim.config.reader import load_yaml
    from sim.experiment import baseline_index, plan, run_all, summarise
    from sim.measures import fmt, fmt_difference, label
    from sim.outputs import write_manifest

    raw = load_yaml(Path(scenario_file)) if resolved is None else None  # read once per command
    check_prior_manifest(target, "sweep")
    old = target / "manifest.json"
    import time as _time

    t0 = _time.perf_counter()
    specs, points = plan(scenario, raw, target, str(scenario_file), replications,
                         resolved)  # validates all points (unless given)
    _check_measures(scenario.sweep.measures if scenario.sweep else [])
    check_writable(target)
    old.unlink(missing_ok=True)  # not complete until every run has finished
    err.print(f"{len(points)} point(s) x {len(specs) // len(points)} replication(s) = {len(specs)} runs "
              f"in {target}")
    with LazyBar("runs", total=len(specs)) as bar:
        if not quiet:
            bar.update(completed=0)
        records = run_all(specs, workers, scheduler, dask,
                          on_done=None if quiet else (lambda _r: bar.update(advance=1)))
    for rec in records:
        if rec.get("redone"):
            err.print(f"[yellow]note:[/] {rec['redone']}")
    measures = scenario.sweep.measures if scenario.sweep else []
    runs, summary, diffs = summarise(records, points, baseline_index(scenario, points), measures or None)
    runs.to_parquet(target / "sweep_runs.parquet", index=False)
    runs.to_csv(target / "sweep_runs.csv", index=False)
    summary.to_parquet(target / "sweep_summary.parquet", index=False)
    summary.to_csv(target / "sweep_summary.csv", index=False)
    diffs.to_csv(target / "sweep_differences.csv", index=False)
    preferred = ["network.p95_s", "network.p95_censored_s", "network.answered_share",
                 "oversight.true_misuse_rows",
                 "oversight.investigations_confirmed", "oversight.reported_misuse_found",
                 "oversight.reported_share", "p95_s", "p95_censored_s", "answered_share",
                 "true_misuse_rows",
                 "investigations_confirmed", "reported_misuse_found", "reported_share"]
    available = list(summary["measure"].unique()) if len(summary) else []
    chosen = measures or [m for m in preferred if m in available][:6] or available[:6]
    _plot_sweep(summary[summary["measure"].isin(chosen)] if len(summary) else summary,
                target / "comparison.png")
    failed = runs[runs["status"] != "complete"]
    resumed = sum(bool(r.get("resumed")) for r in records)
    write_manifest(target, kind="sweep", scenario_name=scenario.name, scenario_file=str(scenario_file),
                   scenario=scenario.model_dump(mode="json"), points=[str(p) for p in points],
                   runs=len(specs), failed=len(failed), resumed=resumed, root_seed=scenario.seed,
                   seeds=sorted({s.seed for s in specs}),
                   errors=[{"key": r["key"], "error": r.get("error")} for r in records
                           if r["status"] != "complete"],
                   first_run=specs[0].directory, wall_s=round(_time.perf_counter() - t0, 2))
    show = summary[summary["measure"].isin(chosen)] if len(summary) else summary
    t = Table(title=f"{scenario.name}: {len(specs)} runs ({resumed} reused), mean and 95% CI")
    for col in ("point", "measure", "mean", "95% CI"):
        t.add_column(col, justify="left" if col in ("point", "measure") else "right")
    for _, r in show.iterrows():
        m = r["measure"]
        t.add_row(r["label"], label(m), fmt(m, r["mean"]), f"{fmt(m, r['ci_low'])} - {fmt(m, r['ci_high'])}")
    out.print(t)
    show_d = diffs[diffs["measure"].isin(chosen)] if len(diffs) else diffs
    if len(show_d):
        dt = Table(title=f"paired differences against the baseline ({show_d['baseline'].iloc[0]}), 95% CI")
        for col in ("point", "measure", "difference", "95% CI", "verdict"):
            dt.add_column(col, justify="left" if col in ("point", "measure", "verdict") else "right")
        for _, r in show_d.iterrows():
            m = r["measure"]
            style = VERDICT_STYLE.get(r["verdict"])
            dt.add_row(r["label"], label(m), fmt_difference(m, r["difference"]),
                       f"{fmt_difference(m, r['ci_low'])} to {fmt_difference(m, r['ci_high'])}",
                       f"[{style}]{r['verdict']}[/]" if style else r["verdict"])
        out.print(dt)
    if len(failed):
        err.print(f"[red]{len(failed)} run(s) failed[/]: see sweep_runs.csv (error column)")
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _check_measures(names: list[str]) -> None:
    """sweep.measures must name registered measures: known before any run, not after all."""
    from sim.measures import MEASURES, get

    for name in names:
        try:
            get(name)
        except KeyError:
            raise ScenarioError(f"sweep.measures: unknown measure {name!r} (known: "
                                f"{', '.join(sorted(MEASURES))[:600]})") from None


def _plot_sweep(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.measures import label as measure_label

    measures = list(summary["measure"].unique())[:4]
    if not measures:
        return
    fig, axes = plt.subplots(1, len(measures), figsize=(4.5 * len(measures), 4), squeeze=False)
    for ax, m in zip(axes[0], measures):
        d = summary[summary["measure"] == m]
        ax.errorbar(range(len(d)), d["mean"], yerr=[d["mean"] - d["ci_low"], d["ci_high"] - d["mean"]],
                    fmt="o", capsize=4)
        ax.set_xticks(range(len(d)))
        ax.set_xticklabels(d["label"], rotation=30, ha="right", fontsize=7)
        ax.set_title(measure_label(m), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


