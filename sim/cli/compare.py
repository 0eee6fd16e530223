"""`clets compare BASELINE ALTERNATIVE`: paired differences with CIs and verdicts in words."""

from __future__ import annotations

import time
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
    check_replications,
    check_size,
    check_workers,
    err,
    out,
    user_errors,
)
from sim.config import load_scenario
from sim.errors import ScenarioError

VERDICT_STYLE = {"higher": "green", "lower": "red"}


@app.command()
@user_errors
def compare(
    baseline_file: Path = typer.Argument(..., metavar="BASELINE", help="the scenario to compare against"),
    alternative_file: Path = typer.Argument(..., metavar="ALTERNATIVE", help="the scenario to try"),
    replications: int = typer.Option(5, help="replications of each (replication r shares its seed)"),
    workers: int = typer.Option(1, help="parallel processes (results do not depend on it)"),
    seed: Optional[int] = typer.Option(None, help="root seed (default: the baseline's, else 0)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory (reused to resume)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar (CI)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Run two scenarios under common random numbers and say, measure by measure, whether the
    alternative is higher, lower, or not detectably different (paired 95% CI)."""
    import hashlib
    import json

    from sim.compare import plan_pair, plot_differences, shown_measures
    from sim.experiment import run_all, summarise
    from sim.measures import fmt, fmt_difference, label
    from sim.outputs import folder_lock, write_manifest

    base = load_scenario(baseline_file, "BASELINE scenario file")
    alt = load_scenario(alternative_file, "ALTERNATIVE scenario file")
    check_workers(workers)
    check_replications(replications)
    sizes = [check_size(s, force=force, local=False).memory_bytes for s in (base, alt)]
    check_size((base, alt)[sizes.index(max(sizes))], runs=2 * replications, workers=workers, force=force)
    if seed is not None and seed < 0:
        raise ScenarioError(f"--seed: must be >= 0 (got {seed})")
    root = seed if seed is not None else (base.seed if base.seed is not None else 0)
    ident = hashlib.sha256(json.dumps([base.model_dump(mode="json"), alt.model_dump(mode="json"),
                                       replications, root], sort_keys=True, default=str).encode()
                           ).hexdigest()[:10]
    target = out_dir or Path(base.outputs.dir) / "compare" / f"{base.name}-vs-{alt.name}-{ident}"
    specs = plan_pair(base, alt, target, replications, root)
    old = target / "manifest.json"
    if old.exists():
        try:
            kind = json.loads(old.read_text()).get("kind")
        except (OSError, ValueError, UnicodeDecodeError, AttributeError):
            kind = "comparison"  # unreadable: rewritten when the comparison completes
            err.print(f"{old} was unreadable (corrupt); it is rewritten when the comparison completes")
        if kind != "comparison":
            raise ScenarioError(f"--out: {target} holds results of another kind; choose another")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScenarioError(f"--out: {target} is not writable ({e.strerror})") from None
    INTERRUPTED[0] = (f"interrupted; the finished runs in {target} are kept: the same command "
                      "resumes where it stopped")
    with folder_lock(target / ".lock", f"results folder {target}"):
        old.unlink(missing_ok=True)  # not complete until every run has finished
        t0 = time.perf_counter()
        err.print(f"{base.name} vs {alt.name}: 2 x {replications} runs (common random numbers) in {target}")
        with LazyBar("runs", total=len(specs)) as bar:
            if not quiet:
                bar.update(completed=0)
            records = run_all(specs, workers, on_done=None if quiet else (lambda _r: bar.update(advance=1)))
        runs, summary, diffs = summarise(records, [{}, {}], 0, labels=[base.name, alt.name])
        failed = runs[runs["status"] != "complete"]
        if len(summary):
            means = summary.pivot_table(index="measure", columns="point", values="mean")
            diffs["baseline_mean"] = diffs["measure"].map(means[0]) if 0 in means else float("nan")
            diffs["alternative_mean"] = diffs["measure"].map(means[1]) if 1 in means else float("nan")
        for name, df in (("compare_runs", runs), ("compare_summary", summary),
                         ("compare_differences", diffs)):
            df.to_parquet(target / f"{name}.parquet", index=False)
            df.to_csv(target / f"{name}.csv", index=False)
        chosen = shown_measures(diffs) if len(diffs) else []
        if chosen:
            plot_differences(diffs, chosen, target / "differences.png")
        write_manifest(target, kind="comparison", scenario_name=f"{base.name} vs {alt.name}",
                       baseline=base.name, alternative=alt.name, baseline_file=str(baseline_file),
                       alternative_file=str(alternative_file), scenario=alt.model_dump(mode="json"),
                       baseline_scenario=base.model_dump(mode="json"), root_seed=root,
                       seeds=sorted({s.seed for s in specs}), replications=replications, runs=len(specs),
                       failed=len(failed), shown_measures=chosen, wall_s=round(time.perf_counter() - t0, 2))
        t = Table(title=f"{alt.name} minus {base.name}: paired over {replications} replications "
                        f"(root seed {root})")
        for col in ("measure", base.name, alt.name, "difference", "95% CI", "verdict"):
            t.add_column(col, justify="left" if col in ("measure", "verdict") else "right")
        for _, r in diffs.set_index("measure").loc[chosen].reset_index().iterrows() if chosen else []:
            m = r["measure"]
            style = VERDICT_STYLE.get(r["verdict"])
            t.add_row(label(m), fmt(m, r["baseline_mean"]), fmt(m, r["alternative_mean"]),
                      fmt_difference(m, r["difference"]), f"{fmt_difference(m, r['ci_low'])} to {fmt_difference(m, r['ci_high'])}",
                      f"[{style}]{r['verdict']}[/]" if style else r["verdict"])
        out.print(t)
        if len(failed):
            err.print(f"[red]{len(failed)} run(s) failed[/]: see compare_runs.csv (error column)")
        out.print("verdict: 'higher'/'lower' when the paired 95% CI excludes 0; every measure is in "
                  "compare_differences.csv")
        _report(target)
        out.print(f"results: [bold]{target}[/]")
