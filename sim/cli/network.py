"""`clets topology` and `clets capacity`: the network engineer's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    FORCE_HELP,
    LazyBar,
    _out_dir,
    _report,
    _resolve_county,
    _seed,
    app,
    check_replications,
    check_size,
    check_workers,
    out,
    user_errors,
)
from sim.config import load_scenario, parse_load_factors
from sim.errors import ScenarioError


@app.command()
@user_errors
def topology(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML file"),
    out_file: Path = typer.Option(..., "--out", help="GraphML file to write"),
    seed: Optional[int] = typer.Option(None, help="root seed (default: the scenario's, else drawn)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Build the network graph, export it as GraphML and print counts by kind and county."""
    import networkx as nx

    from sim.rng import Streams
    from topology.builder import build_topology, counts_by_county, counts_by_kind

    scenario = load_scenario(scenario_file)
    check_size(scenario.model_copy(update={"model": "network"}), force=force)
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
        None, help="start:stop:step (stop included) or a comma list; x1.0 = the scenario as written; "
        "default: the scenario's"),
    seed: Optional[int] = typer.Option(None, help="root seed; replication r uses the same child seed "
                                       "at every load point"),
    replications: int = typer.Option(3, help="independent replications per load point (95% CIs)"),
    workers: int = typer.Option(1, min=1, help="parallel processes (results do not depend on it)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Sweep the load factor with replications: table with 95% CIs, CSV/Parquet, PNG plot, the
    headroom, the knee, the bottleneck node and a verdict against the p95 target."""
    from sim.capacity import HEADLINE, plot_capacity, sweep_capacity
    from sim.measures import fmt
    from sim.outputs import run_directory, write_manifest
    from sim.runner import preflight

    scenario = load_scenario(scenario_file)
    check_replications(replications)
    check_workers(workers)
    spec = load_factors if load_factors is not None else scenario.capacity.load_factors
    factors = parse_load_factors(spec, "--load-factors" if load_factors is not None
                                 else "capacity.load_factors")
    focus = _resolve_county(county) if county is not None else None
    if focus is not None and scenario.topology.counties is not None and focus not in [
        c for c in scenario.topology.counties
    ]:
        raise ScenarioError(f"--county: {focus!r} is not in this scenario's topology.counties")
    busiest = scenario.model_copy(update={  # the highest load point sizes every run
        "model": "network",
        "traffic": scenario.traffic.model_copy(
            update={"load_factor": max(factors) * (1 if focus else scenario.traffic.load_factor)})})
    check_size(busiest, runs=len(factors) * replications, workers=workers, force=force,
               flags={"messages": f"--load-factors = {spec}" if load_factors else None})
    root = _seed(scenario, seed)
    preflight(scenario, root, focus)
    target = _out_dir(scenario, out_dir, root, "capacity-")
    runs = len(factors) * replications
    with run_directory(target) as tmp:
        with LazyBar(f"capacity sweep ({len(factors)} loads x {replications} replications)",
                     total=runs) as bar:
            bar.update(completed=0)
            result = sweep_capacity(scenario, factors, root, focus, workers,
                                    on_point=lambda _row: bar.update(advance=1),
                                    replications=replications)
        result.points.to_csv(tmp / "capacity.csv", index=False)
        result.points.to_parquet(tmp / "capacity.parquet", index=False)
        result.runs.to_csv(tmp / "capacity_runs.csv", index=False)
        result.nodes.to_parquet(tmp / "capacity_nodes.parquet", index=False)
        result.nodes.to_csv(tmp / "capacity_nodes.csv", index=False)
        plot_capacity(result, tmp / "capacity.png", scenario.capacity.top_nodes)
        write_manifest(tmp, kind="capacity", scenario_name=scenario.name,
                       scenario_file=str(scenario_file), scenario=scenario.model_dump(mode="json"),
                       seed=root, load_factors=factors, county=focus, replications=replications,
                       replication_seeds=result.seeds, knee=result.knee, headroom=result.headroom,
                       bottleneck=result.bottleneck, msc=result.msc,
                       target_p95_s=result.target_p95_s, judged_on=HEADLINE,
                       scale=result.scale, verdict=result.verdict, answer=result.answer)
    scope = f"{focus} County" if focus else "statewide"
    timeout = scenario.network.give_up_s  # resends included
    t = Table(title=f"{scenario.name}: capacity ({scope}, root seed {root}); mean of {replications} "
              f"replication{'s' if replications != 1 else ''} per load; util. = utilization of "
              f"{result.msc}", title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True,
              pad_edge=False, show_edge=False)
    heads = ("load", "inquiries", "msgs/inquiry", "timed out", "rejected", "p95 s answered only",
             f"p95 s timed-out at {timeout:g} s", "95% CI", "util.")
    for col in heads:
        t.add_column(col, justify="right", no_wrap=col in ("load", "95% CI", "util."))
    for _, r in result.points.iterrows():
        style = "red" if not r[f"{HEADLINE}_ci_high"] < result.target_p95_s else None
        t.add_row(f"x{r['load_factor']:g}", f"{r['messages']:,.0f}", f"{r['messages_per_inquiry']:.2f}",
                  fmt("timed_out_share", r["timed_out_share"]), fmt("rejected_share", r["rejected_share"]),
                  f"{r['p95_s']:.2f}", f"{r[HEADLINE]:.2f}",
                  f"{r[f'{HEADLINE}_ci_low']:.2f}-{r[f'{HEADLINE}_ci_high']:.2f}",
                  fmt("msc_utilization", r["msc_utilization"]), style=style)
    out.print(t)
    out.print(f"95% CI: of the p95 with timed-out messages at the timeout (t-interval over the "
              f"replications); red: its upper bound is not under the {result.target_p95_s:g} s target",
              highlight=False)
    out.print(f"verdict: {result.verdict}", highlight=False)
    out.print(f"[bold]answer:[/] {escape(result.answer)}", highlight=False)
    _report(target)
    out.print(f"results: [bold]{target}[/]")
