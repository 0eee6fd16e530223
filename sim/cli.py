"""The `clets` command.

Every user mistake (bad YAML, unknown key or name, bad range, missing or unwritable
path) ends with one message on stderr naming the field and the value, and exit
code 2; nothing half-written is left looking complete.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.config import Scenario, load_scenario, parse_load_factors
from sim.errors import ScenarioError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="CLETS testbed: discrete-event simulation of California's law-enforcement network.",
)
out = Console()
err = Console(stderr=True)


def user_errors(fn):
    """Turn ScenarioError into one clear line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ScenarioError as e:
            err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted; partial results were removed")
            raise typer.Exit(130) from None

    return wrapper


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


class LazyBar:
    """A progress bar that appears on the first update, so input errors found while
    preparing a run are not preceded by an empty bar."""

    def __init__(self, description: str, total: float):
        self.description, self.total = description, total
        self.progress: Progress | None = None
        self.task = None

    def update(self, completed: float | None = None, advance: float | None = None) -> None:
        if self.progress is None:
            self.progress = _progress()
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=self.total)
        if completed is not None:
            self.progress.update(self.task, completed=completed)
        if advance is not None:
            self.progress.advance(self.task, advance)

    def __enter__(self) -> LazyBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def _resolve_county(name: str) -> str:
    from topology.counties import county_names

    for c in county_names():
        if c.lower() == name.strip().lower():
            return c
    raise ScenarioError(f"--county: unknown county {name!r} (expected one of the 58, e.g. 'Orange')")


def _seed(scenario: Scenario, seed: Optional[int]) -> int:
    from sim.rng import draw_root_seed

    if seed is not None and seed < 0:
        raise ScenarioError(f"--seed: must be >= 0 (got {seed})")
    if seed is not None:
        return seed
    return scenario.seed if scenario.seed is not None else draw_root_seed()


def _out_dir(scenario: Scenario, out_opt: Optional[Path], seed: int, what: str = "") -> Path:
    from sim.outputs import new_run_id

    if out_opt is not None:
        return out_opt
    return Path(scenario.outputs.dir) / scenario.name / (what + new_run_id(seed))


@app.command()
@user_errors
def run(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML file"),
    seed: Optional[int] = typer.Option(None, help="root seed (default: the scenario's, else drawn)"),
    load_factor: Optional[float] = typer.Option(None, help="override traffic.load_factor"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
    replications: int = typer.Option(1, help="independent replications (child seeds of the root)"),
    workers: int = typer.Option(1, help="parallel processes for replications"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar (CI)"),
) -> None:
    """Run a scenario: the message path (model: network) or the years of oversight
    (model: oversight); writes its tables (Parquet/CSV) and manifest."""
    from sim.outputs import run_directory, write_network_run
    from sim.runner import simulate_network

    scenario = load_scenario(scenario_file)
    if replications < 1:
        raise ScenarioError(f"--replications: must be >= 1 (got {replications})")
    if replications > 1 or scenario.model == "both":
        if load_factor is not None:
            raise ScenarioError("--load-factor: set traffic.load_factor in the scenario for replicated runs")
        root = _seed(scenario, seed)
        scenario = scenario.model_copy(update={"seed": root, "sweep": None})
        target = _out_dir(scenario, out_dir, root)
        if target.exists() and not (target / "manifest.json").exists() and any(target.iterdir()) \
                and not (target / "runs").exists():
            raise ScenarioError(f"--out: {target} exists and is not a run directory")
        return _experiment(scenario, scenario_file, replications, workers, None, False, target, quiet)
    if scenario.model == "oversight":
        return _run_oversight(scenario, scenario_file, seed, out_dir)
    if load_factor is not None and load_factor <= 0:
        raise ScenarioError(f"--load-factor: must be > 0 (got {load_factor})")
    root = _seed(scenario, seed)
    target = _out_dir(scenario, out_dir, root)
    with run_directory(target) as tmp:
        with LazyBar(f"{scenario.name} (seed {root})", total=1.0) as bar:
            result = simulate_network(scenario, seed=root, load_factor=load_factor,
                                      progress=lambda f: bar.update(completed=f))
        write_network_run(result, tmp, str(scenario_file))
    _print_run_summary(result)
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _run_oversight(scenario: Scenario, scenario_file: Path, seed, out_dir) -> None:
    from sim.outputs import run_directory, write_oversight_run
    from sim.oversight import OversightModel
    from sim.rng import Streams

    root = _seed(scenario, seed)
    target = _out_dir(scenario, out_dir, root)
    with run_directory(target) as tmp:
        err.print(f"building the world for {scenario.name} (seed {root}) ...")
        model = OversightModel(scenario, Streams(root))
        with LazyBar(f"{scenario.name}: {scenario.oversight.years} year(s) of oversight",
                     total=model.n_days) as bar:
            bar.update(completed=0)
            result = model.run(progress=lambda k: bar.update(advance=k))
        metrics = write_oversight_run(result, tmp, str(scenario_file))
    _print_oversight_summary(result, metrics)
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _report(target: Path) -> None:
    """Write report.html into a finished run directory and say where it is."""
    from sim.report import write_report

    path = write_report(target)
    out.print(f"report: [bold]{path}[/]")


def _print_oversight_summary(result, metrics) -> None:
    y = result.yearly
    t = Table(title=f"{result.scenario.name}: oversight by year (seed {result.seed})")
    t.add_column("")
    for year in y["year"]:
        t.add_column(str(int(year)), justify="right")
    rows = [("operator queries", "operator_queries"),
            ("potential misuse rows (no oversight)", "potential_misuse_rows"),
            ("true misuse rows", "true_misuse_rows"),
            ("true misuse incidents", "true_misuse_incidents"), ("alerts", "alerts"),
            ("alerts reviewed", "alerts_reviewed"), ("alerts dropped", "alerts_dropped"),
            ("investigations closed", "investigations_closed"),
            ("misuse confirmed", "investigations_confirmed"),
            ("dismissed (resigned or terminated)", "dismissed"),
            ("DOJ audits", "audits"), ("auditor-days", "auditor_days"),
            ("audit: rows not justified", "audit_unjustified"),
            ("HDC 0010 forms", "reports_received"),
            ("reported investigations", "reported_investigations"),
            ("reported misuse found", "reported_misuse_found"),
            ("agencies reporting", "reported_share"), ("CAC sanctions", "sanctions")]
    for label, col in rows:
        t.add_row(label, *[f"{v:.1%}" if col == "reported_share" else f"{int(v):,}" for v in y[col]])
    out.print(t)
    pol = metrics["by_policy"]
    pol = pol[pol["alerts"] > 0]
    if len(pol):
        pt = Table(title="detection policies (precision from the answer key)")
        for col in ("policy", "alerts", "true positives", "precision"):
            pt.add_column(col, justify="left" if col == "policy" else "right")
        for _, r in pol.iterrows():
            tp = "" if np.isnan(r["true_positives"]) else f"{int(r['true_positives']):,}"
            pr = "" if np.isnan(r["precision"]) else f"{r['precision']:.3f}"
            pt.add_row(str(r["policy"]), f"{int(r['alerts']):,}", tp, pr)
        out.print(pt)
    s = result.sanctions
    if len(s):
        counts = s["step"].value_counts()
        out.print("CAC actions: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    items = result.cac_items
    if len(items):
        out.print(f"CAC items referred: {len(items)} ("
                  + ", ".join(f"{k} {v}" for k, v in items["kind"].value_counts().items()) + "); "
                  + ", ".join(f"{k} {v}" for k, v in items["action"].fillna("open").value_counts().items()))
    dhs = result.reports[result.reports["dhs"]] if len(result.reports) else result.reports
    if len(dhs):
        out.print(f"DHS components reporting: {len(dhs)} forms, {int(dhs['investigations'].sum())} "
                  f"investigations reported")


def _print_run_summary(result) -> None:
    s = result.summary
    t = Table(title=f"{result.scenario.name}: messages (seed {result.seed}, load x{result.load_factor:g})")
    for col in ("generated", "answered", "rejected", "timed_out", "in_flight"):
        t.add_column(col, justify="right")
    t.add_row(*(f"{s[c]:,}" for c in ("generated", "answered", "rejected", "timed_out", "in_flight")))
    out.print(t)
    failed = result.messages.select(["state", "reason", "where"]).to_pandas()
    failed = failed[failed["state"].isin(["rejected", "timed_out"])]
    if len(failed):
        why = failed.groupby(["state", "reason", "where"], observed=True, dropna=False).size()
        why = why.sort_values(ascending=False).head(6)
        parts = [f"{st} {r or '-'}@{w if isinstance(w, str) else '-'}: {n:,}" for (st, r, w), n in why.items()]
        out.print("not answered (top causes): " + "; ".join(parts), highlight=False)
    if s.get("p95_s") is not None:
        out.print(f"end-to-end response (answered, after warm-up): mean {s['mean_s']:.3f} s, "
                  f"p50 {s['p50_s']:.3f} s, p95 {s['p95_s']:.3f} s, p99 {s['p99_s']:.3f} s")
    nodes = result.nodes.sort_values("utilization", ascending=False).head(8)
    nt = Table(title="busiest nodes")
    nt.add_column("node", no_wrap=True)
    for col in ("servers", "utilization", "mean_queue", "p95_s", "rejected", "lost"):
        nt.add_column(col, justify="right")
    for _, r in nodes.iterrows():
        nt.add_row(r["node"], str(r["servers"]), f"{r['utilization']:.3f}", f"{r['mean_queue']:.3f}",
                   f"{r['p95_s']:.3f}", str(r["rejected"]), str(r["lost"]))
    out.print(nt)
    out.print(f"simulated {s['generated']:,} messages in {s['wall_s']:.1f} s "
              f"({s['generated'] / max(s['sim_wall_s'], 1e-9):,.0f} messages/s)")


@app.command()
@user_errors
def topology(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML file"),
    out_file: Path = typer.Option(..., "--out", help="GraphML file to write"),
    seed: Optional[int] = typer.Option(None, help="root seed (default: the scenario's, else drawn)"),
) -> None:
    """Build the network graph, export it as GraphML and print counts by kind and county."""
    import networkx as nx

    from sim.rng import Streams
    from topology.builder import build_topology, counts_by_county, counts_by_kind

    scenario = load_scenario(scenario_file)
    root = _seed(scenario, seed)
    graph = build_topology(scenario.topology, scenario.network, Streams(root))
    if out_file.suffix.lower() != ".graphml":
        raise ScenarioError(f"--out: expected a .graphml file name (got {str(out_file)!r})")
    if not out_file.parent.exists():
        raise ScenarioError(f"--out: directory {out_file.parent} does not exist")
    tmp = out_file.with_name(f".{out_file.name}.partial")
    try:
        nx.write_graphml(graph, tmp)
        tmp.replace(out_file)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ScenarioError(f"--out: cannot write {out_file}: {e.strerror}") from None
    kinds = counts_by_kind(graph)
    t = Table(title=f"{scenario.name}: nodes by kind (seed {root})")
    t.add_column("kind")
    t.add_column("count", justify="right")
    for k in ("hub", "database", "msc", "agency", "terminal", "mdt"):
        t.add_row(k, f"{kinds.get(k, 0):,}")
    out.print(t)
    ct = Table(title="by county")
    for col in ("county", "agencies", "terminals", "MDTs"):
        ct.add_column(col, justify="right" if col != "county" else "left")
    for county, c in sorted(counts_by_county(graph).items()):
        ct.add_row(county or "(direct-connect)", str(c["agency"]), str(c["terminal"]), str(c["mdt"]))
    out.print(ct)
    out.print(f"graph: [bold]{out_file}[/] ({graph.number_of_nodes():,} nodes, "
              f"{graph.number_of_edges():,} edges)")


@app.command()
@user_errors
def capacity(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML file"),
    county: Optional[str] = typer.Option(None, help="scale only this county's traffic; report its nodes"),
    load_factors: Optional[str] = typer.Option(
        None, help="start:stop:step (stop included) or a comma list; default: the scenario's"),
    seed: Optional[int] = typer.Option(None, help="root seed, shared by every load point"),
    workers: int = typer.Option(1, min=1, help="parallel processes (results do not depend on it)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
) -> None:
    """Sweep the load factor: table, CSV/Parquet, PNG plot, the knee and the bottleneck node."""
    from sim.capacity import plot_capacity, sweep_capacity
    from sim.outputs import run_directory, write_manifest
    from sim.runner import preflight

    scenario = load_scenario(scenario_file)
    spec = load_factors if load_factors is not None else scenario.capacity.load_factors
    factors = parse_load_factors(spec, "--load-factors" if load_factors is not None
                                 else "capacity.load_factors")
    focus = _resolve_county(county) if county is not None else None
    if focus is not None and scenario.topology.counties is not None and focus not in [
        c for c in scenario.topology.counties
    ]:
        raise ScenarioError(f"--county: {focus!r} is not in this scenario's topology.counties")
    root = _seed(scenario, seed)
    preflight(scenario, root, focus)
    target = _out_dir(scenario, out_dir, root, "capacity-")
    with run_directory(target) as tmp:
        with LazyBar(f"capacity sweep ({len(factors)} loads)", total=len(factors)) as bar:
            bar.update(completed=0)
            result = sweep_capacity(scenario, factors, root, focus, workers,
                                    on_point=lambda _row: bar.update(advance=1))
        result.points.to_csv(tmp / "capacity.csv", index=False)
        result.points.to_parquet(tmp / "capacity.parquet", index=False)
        result.nodes.to_parquet(tmp / "capacity_nodes.parquet", index=False)
        result.nodes.to_csv(tmp / "capacity_nodes.csv", index=False)
        plot_capacity(result, tmp / "capacity.png", scenario.capacity.top_nodes)
        write_manifest(tmp, kind="capacity", scenario_name=scenario.name,
                       scenario_file=str(scenario_file), scenario=scenario.model_dump(mode="json"),
                       seed=root, load_factors=factors, county=focus, knee=result.knee,
                       bottleneck=result.bottleneck, target_p95_s=result.target_p95_s)
    scope = f"{focus} County" if focus else "statewide"
    t = Table(title=f"{scenario.name}: capacity ({scope}, seed {root})")
    for col in ("load", "messages", "answered", "rejected", "timed out", "p50 s", "p95 s", "p99 s"):
        t.add_column(col, justify="right")
    for _, r in result.points.iterrows():
        style = "red" if r["p95_s"] > result.target_p95_s else None
        t.add_row(f"{r['load_factor']:g}", f"{int(r['messages']):,}", f"{r['answered_share']:.3f}",
                  f"{r['rejected_share']:.3f}", f"{r['timed_out_share']:.3f}", f"{r['p50_s']:.3f}",
                  f"{r['p95_s']:.3f}", f"{r['p99_s']:.3f}", style=style)
    out.print(t)
    if result.knee is None:
        out.print(f"no knee: p95 stays under the {result.target_p95_s:g} s target up to "
                  f"x{max(factors):g}; busiest node there: [bold]{result.bottleneck}[/]")
    else:
        out.print(f"knee: load x{result.knee:g} (first p95 above {result.target_p95_s:g} s); "
                  f"bottleneck: [bold]{result.bottleneck}[/]")
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _counts_table(title: str, label: str, counts: dict[str, int]) -> Table:
    t = Table(title=title)
    t.add_column(label)
    t.add_column("rows", justify="right")
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        t.add_row(name, f"{n:,}")
    return t


@app.command()
@user_errors
def journal(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML file"),
    days: Optional[int] = typer.Option(None, help="days to generate (default: journal.days)"),
    mode: Optional[str] = typer.Option(None, help="full | sample | none (default: journal.mode)"),
    sample_rate: Optional[float] = typer.Option(None, help="lawful rows kept in sample mode"),
    seed: Optional[int] = typer.Option(None, help="root seed (default: the scenario's, else drawn)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
) -> None:
    """Generate the labelled audit journal: month-partitioned Parquet plus a separate answer key."""
    from sim.journal import JournalGenerator, write_journal
    from sim.outputs import run_directory, write_manifest
    from sim.rng import Streams

    scenario = load_scenario(scenario_file)
    jc = scenario.journal
    if days is not None and days < 1:
        raise ScenarioError(f"--days: must be >= 1 (got {days})")
    if mode is not None and mode not in ("full", "sample", "none"):
        raise ScenarioError(f"--mode: expected full, sample or none (got {mode!r})")
    if sample_rate is not None and not 0 < sample_rate <= 1:
        raise ScenarioError(f"--sample-rate: must be in (0, 1] (got {sample_rate})")
    n_days = days or jc.days
    mode = mode or jc.mode
    rate = sample_rate if sample_rate is not None else jc.sample_rate
    root = _seed(scenario, seed)
    target = _out_dir(scenario, out_dir, root, "journal-")
    with run_directory(target) as tmp:
        err.print(f"building the world for {scenario.name} (seed {root}) ...")
        gen = JournalGenerator(scenario, Streams(root), days=n_days)
        with LazyBar(f"journal, {n_days} days, mode {mode}", total=n_days) as bar:
            bar.update(completed=0)
            summary = write_journal(gen, tmp, mode, rate, progress=lambda k: bar.update(advance=k))
        write_manifest(tmp, kind="journal", scenario_name=scenario.name, scenario_file=str(scenario_file),
                       scenario=scenario.model_dump(mode="json"), seed=root, days=n_days, mode=mode,
                       sample_rate=rate if mode == "sample" else None,
                       start_date=str(jc.start_date), summary=summary.__dict__)
    t = Table(title=f"{scenario.name}: journal ({n_days} days from {jc.start_date}, seed {root})")
    t.add_column("rows", justify="right")
    t.add_column("written", justify="right")
    t.add_column("misuse rows", justify="right")
    t.add_column("incidents", justify="right")
    t.add_column("rows/s", justify="right")
    t.add_row(f"{summary.rows:,}", f"{summary.written_rows:,}", f"{summary.misuse_rows:,}",
              f"{summary.incidents:,}", f"{summary.rows / max(summary.seconds, 1e-9):,.0f}")
    out.print(t)
    out.print(_counts_table("misuse rows by category (answer key)", "category", summary.by_category))
    out.print(_counts_table("misuse rows by archetype", "archetype", summary.by_archetype))
    out.print(f"results: [bold]{target}[/]" + ("" if mode != "none" else " (mode none: manifest only)"))


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
) -> None:
    """Run every point of the scenario's sweep x replications (common random numbers); summarise
    with 95% CIs and paired differences against the baseline; finished runs are not rerun."""
    import hashlib
    import json

    scenario = load_scenario(scenario_file)
    if scenario.sweep is None:
        raise ScenarioError(f"{scenario_file}: no sweep: block (see docs/experiments.md)")
    if replications is not None and replications < 1:
        raise ScenarioError(f"--replications: must be >= 1 (got {replications})")
    if workers < 1:
        raise ScenarioError(f"--workers: must be >= 1 (got {workers})")
    ident = hashlib.sha256(json.dumps([scenario.model_dump(mode="json"), replications],
                                      sort_keys=True, default=str).encode()).hexdigest()[:10]
    target = out_dir or Path(scenario.outputs.dir) / scenario.name / f"sweep-{ident}"
    _experiment(scenario, scenario_file, replications, workers, scheduler, dask, target, quiet)


def _experiment(scenario: Scenario, scenario_file: Path, replications: Optional[int], workers: int,
                scheduler: Optional[str], dask: bool, target: Path, quiet: bool) -> None:
    """Plan, run (resuming finished runs), summarise and report a sweep or replicated run."""
    import json

    import yaml

    from sim.experiment import baseline_index, plan, run_all, summarise
    from sim.outputs import MANIFEST_VERSION, write_manifest

    raw = yaml.safe_load(Path(scenario_file).read_text())
    old = target / "manifest.json"
    if old.exists():
        prior = json.loads(old.read_text())
        if prior.get("manifest_version") != MANIFEST_VERSION or prior.get("kind") != "sweep":
            raise ScenarioError(f"--out: {target} holds results of another kind or version "
                                f"({prior.get('kind')}, v{prior.get('manifest_version')}); choose another")
    import time as _time

    t0 = _time.perf_counter()
    specs, points = plan(scenario, raw, target, str(scenario_file), replications)  # validates all points
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ScenarioError(f"--out: {target} is not writable ({e.strerror})") from None
    old.unlink(missing_ok=True)  # not complete until every run has finished
    err.print(f"{len(points)} point(s) x {len(specs) // len(points)} replication(s) = {len(specs)} runs "
              f"in {target}")
    with LazyBar("runs", total=len(specs)) as bar:
        if not quiet:
            bar.update(completed=0)
        records = run_all(specs, workers, scheduler, dask,
                          on_done=None if quiet else (lambda _r: bar.update(advance=1)))
    measures = scenario.sweep.measures if scenario.sweep else []
    runs, summary, diffs = summarise(records, points, baseline_index(scenario, points), measures or None)
    runs.to_parquet(target / "sweep_runs.parquet", index=False)
    runs.to_csv(target / "sweep_runs.csv", index=False)
    summary.to_parquet(target / "sweep_summary.parquet", index=False)
    summary.to_csv(target / "sweep_summary.csv", index=False)
    diffs.to_csv(target / "sweep_differences.csv", index=False)
    _plot_sweep(summary, target / "comparison.png")
    failed = runs[runs["status"] != "complete"]
    resumed = sum(bool(r.get("resumed")) for r in records)
    write_manifest(target, kind="sweep", scenario_name=scenario.name, scenario_file=str(scenario_file),
                   scenario=scenario.model_dump(mode="json"), points=[str(p) for p in points],
                   runs=len(specs), failed=len(failed), resumed=resumed, root_seed=scenario.seed,
                   seeds=sorted({s.seed for s in specs}),
                   errors=[{"key": r["key"], "error": r.get("error")} for r in records
                           if r["status"] != "complete"],
                   first_run=specs[0].directory, wall_s=round(_time.perf_counter() - t0, 2))
    preferred = ["network.p95_s", "network.answered_share", "oversight.true_misuse_rows",
                 "oversight.investigations_confirmed", "oversight.reported_misuse_found",
                 "oversight.reported_share", "p95_s", "answered_share", "true_misuse_rows",
                 "investigations_confirmed", "reported_misuse_found", "reported_share"]
    available = list(summary["measure"].unique()) if len(summary) else []
    chosen = measures or [m for m in preferred if m in available][:5] or available[:5]
    show = summary[summary["measure"].isin(chosen)] if len(summary) else summary
    t = Table(title=f"{scenario.name}: {len(specs)} runs ({resumed} reused), mean and 95% CI")
    for col in ("point", "measure", "mean", "95% CI"):
        t.add_column(col, justify="left" if col in ("point", "measure") else "right")
    for _, r in show.iterrows():
        t.add_row(r["label"], r["measure"], f"{r['mean']:.4g}", f"{r['ci_low']:.4g} - {r['ci_high']:.4g}")
    out.print(t)
    if len(failed):
        err.print(f"[red]{len(failed)} run(s) failed[/]: see sweep_runs.csv (error column)")
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _plot_sweep(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
        ax.set_title(m, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@app.command()
@user_errors
def calibrate(
    replications: int = typer.Option(3, help="replications per scenario (seed r = seed*1000 + r)"),
    workers: int = typer.Option(1, help="parallel processes (results do not depend on it)"),
    fit: bool = typer.Option(False, "--fit", help="first fit the free parameters to the fitted figures"),
    scenarios_dir: Path = typer.Option(Path("scenarios"), "--scenarios", help="where the scenarios are"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
) -> None:
    """Fitted figures (2010-2014 record, 58% in 2017) and held-out predictions (98% in 2018,
    2016 and 2019-2023 investigations, 2017 dismissals): record, model mean, 95% CI.
    With --fit, the free parameters are first fitted (scipy least squares) and written to
    fitted_parameters.yaml; held-out figures are never used in fitting."""
    import pandas as pd
    import yaml

    from sim.calibration import FITTED, HELD_OUT
    from sim.calibration import calibrate as run_calibration
    from sim.outputs import new_run_id, run_directory, write_manifest

    if replications < 1:
        raise ScenarioError(f"--replications: must be >= 1 (got {replications})")
    if workers < 1:
        raise ScenarioError(f"--workers: must be >= 1 (got {workers})")
    for name in sorted({f.scenario for f in FITTED + HELD_OUT}):
        load_scenario(scenarios_dir / f"{name}.yaml")  # missing or bad files stop here
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


@app.command()
@user_errors
def check(scenario_file: Path = typer.Argument(..., metavar="SCENARIO")) -> None:
    """Validate a scenario file without running it."""
    scenario = load_scenario(scenario_file)
    out.print(f"{scenario_file}: ok (scenario {scenario.name!r})")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
