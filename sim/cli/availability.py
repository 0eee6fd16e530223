"""`clets availability`: a year (or more) of random outages alone, per MSC and direct connect."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.table import Table

from sim.cli.common import (
    FORCE_HELP,
    LazyBar,
    _out_dir,
    _report,
    _seed,
    app,
    check_replications,
    check_size,
    out,
    user_errors,
)
from sim.config import load_scenario
from sim.errors import ScenarioError


def check_years(years: int) -> int:
    from sim.availability import MAX_YEARS

    if years < 1:
        raise ScenarioError(f"--years: must be >= 1 (got {years})")
    if years > MAX_YEARS:
        raise ScenarioError(f"--years: {years} is more than the limit of {MAX_YEARS} (a century)")
    return years


@app.command()
@user_errors
def availability(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML file"),
    years: int = typer.Option(1, help="simulated years per replication (figures are per year)"),
    replications: int = typer.Option(20, help="independent replications (95% CIs over the years)"),
    seed: Optional[int] = typer.Option(None, help="root seed; replication r uses the same child "
                                       "seed as replication r of clets run --replications"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Simulate the random-fault process alone (faults.random: MTBF/MTTR per MSC, hub,
    direct-connect link and MDT radio gateway; no messages) and report per component: uptime
    with its 95% CI, outages, down time, the longest outage, and the CAC's rule (report direct
    connects at or below 95% uptime)."""
    import time

    from sim.availability import (
        check_work,
        components,
        plot_availability,
        simulate_availability,
    )
    from sim.measures import fmt
    from sim.outputs import run_directory, write_manifest
    from sim.rng import Streams
    from topology.builder import build_topology

    scenario = load_scenario(scenario_file)
    check_years(years)
    check_replications(replications)
    root = _seed(scenario, seed)
    check_size(scenario.model_copy(update={"model": "network"}), force=force)  # the topology's size
    graph = build_topology(scenario.topology, scenario.network, Streams(root))
    comps = components(scenario, graph)
    check_work(scenario, comps, years, replications, force)
    target = _out_dir(scenario, out_dir, root, "availability-")
    t0 = time.perf_counter()
    with run_directory(target) as tmp:
        with LazyBar(f"availability ({len(comps):,} components x {years} year(s) x "
                     f"{replications} replications)", total=replications) as bar:
            bar.update(completed=0)
            result = simulate_availability(scenario, comps, years, replications, root,
                                           on_replication=lambda _r: bar.update(advance=1))
        for name, df in (("availability", result.components), ("availability_runs", result.runs),
                         ("availability_kinds", result.kinds)):
            df.to_parquet(tmp / f"{name}.parquet", index=False)
            df.to_csv(tmp / f"{name}.csv", index=False)
        plot_availability(result, tmp / "availability.png")
        flagged = result.components.loc[result.components["cac_report"], "name"].tolist()
        write_manifest(tmp, kind="availability", scenario_name=scenario.name,
                       scenario_file=str(scenario_file), scenario=scenario.model_dump(mode="json"),
                       seed=root, years=years, replications=replications,
                       replication_seeds=result.seeds, cac_uptime_threshold=0.95,
                       cac_report=flagged, wall_s=round(time.perf_counter() - t0, 3),
                       kinds=result.kinds.to_dict(orient="records"))
    reps = f"{replications} replication{'s' if replications != 1 else ''} x {years} year(s)"
    out.print(f"[bold]{scenario.name}[/]: availability, fault process alone (root seed {root}; {reps})")
    kt = Table(title="by kind (uptime: mean over components and years)", title_justify="left",
               box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("kind", "components", "theory", "uptime", "lowest", "outages/yr (sum)", "longest",
                "years <=95%", "CAC report"):
        kt.add_column(col, justify="left" if col == "kind" else "right")
    for _, k in result.kinds.iterrows():
        kt.add_row(k["label"], f"{k['components']:,}", fmt("expected_uptime", k["expected_uptime"]),
                   fmt("uptime", k["uptime"]), fmt("uptime", k["lowest_uptime"]),
                   fmt("outages", k["outages"]), fmt("longest_outage_h", k["longest_outage_h"]),
                   fmt("flagged_share", k["flagged_share"]),
                   str(k["cac_report"]) if k["kind"] == "direct_connect" else "(info)")
    out.print(kt)
    s = result.components
    shown = s[s["kind"].isin(["direct_connect", "hub"])]
    low_msc = s[s["kind"] == "msc"].nsmallest(5, "uptime")
    t = Table(title="direct connects and the hub (all), MSCs (the 5 lowest; all in availability.csv)",
              title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("component", "MTBF h", "MTTR min", "uptime", "95% CI", "outages/yr", "longest",
                "down h/yr", "years <=95%", "CAC report"):
        t.add_column(col, justify="left" if col == "component" else "right")
    for _, c in list(shown.iterrows()) + list(low_msc.iterrows()):
        rule = ("yes" if c["cac_report"] else "no") if c["kind"] == "direct_connect" else "(info)"
        t.add_row(c["name"], f"{c['mtbf_hours']:,.0f}", f"{c['mttr_minutes']:,.0f}",
                  fmt("uptime", c["uptime"]),
                  f"{fmt('uptime', c['uptime_ci_low'])} - {fmt('uptime', c['uptime_ci_high'])}",
                  fmt("outages", c["outages"]), fmt("longest_outage_h", c["longest_outage_h"]),
                  fmt("downtime_h", c["downtime_h"]), fmt("flagged_share", c["flagged_share"]),
                  rule, style="red" if c["cac_report"] else None)
    out.print(t)
    out.print(f"CAC rule (report direct connects at or below 95% uptime): "
              f"{', '.join(flagged) if flagged else 'no direct connect flagged'}")
    out.print(f"results: [bold]{target}[/]")
    _report(target)
