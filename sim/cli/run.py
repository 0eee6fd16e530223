"""`clets run`: one scenario (network, oversight or both), with optional replications."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import typer
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
    check_workers,
    err,
    out,
    user_errors,
)
from sim.config import Scenario, load_scenario
from sim.errors import ScenarioError


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
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    posterior: Optional[Path] = typer.Option(
        None, "--posterior", help="posterior file (clets calibrate --posterior): each replication also "
                                  "runs with its own draw of the oversight parameters; two intervals"),
    difference: Optional[str] = typer.Option(
        None, "--difference", help="with --posterior: KEY=VALUE; every run is a paired comparison (as "
        "written and changed, same seed): intervals of the difference, and the share of posterior "
        "draws in which it is below zero"),
) -> None:
    """Run a scenario: the message path (model: network) or the years of oversight
    (model: oversight); writes its tables (Parquet/CSV) and manifest. With --posterior, every
    headline output gets two intervals: the run's randomness (replications at the posterior
    median) and randomness plus parameter uncertainty (a posterior draw per replication)."""
    from sim.outputs import run_directory, write_network_run
    from sim.runner import simulate_network

    scenario = load_scenario(scenario_file)
    check_replications(replications)
    check_workers(workers)
    if load_factor is not None and scenario.model == "oversight":
        raise ScenarioError("--load-factor: applies to the network model only "
                            f"(scenario {scenario.name!r} is model: oversight)")
    if load_factor is not None and not math.isfinite(load_factor):
        raise ScenarioError(f"--load-factor: must be a finite number (got {load_factor})")
    if load_factor is not None and load_factor <= 0:
        raise ScenarioError(f"--load-factor: must be > 0 (got {load_factor})")
    if posterior is not None:
        if load_factor is not None:
            raise ScenarioError("--load-factor: not with --posterior (set traffic.load_factor in the scenario)")
        return _run_posterior(scenario, scenario_file, posterior, seed, replications, workers, out_dir,
                              quiet, force, difference)
    if difference is not None:
        raise ScenarioError("--difference: only with --posterior (for a paired comparison over "
                            "replications use clets compare)")
    sized = scenario if load_factor is None else scenario.model_copy(
        update={"traffic": scenario.traffic.model_copy(update={"load_factor": load_factor})})
    check_size(sized, runs=replications, workers=workers, force=force,
               flags={"messages": f"--load-factor = {load_factor:g}"} if load_factor else None)
    if replications > 1 or scenario.model == "both":
        if load_factor is not None:
            raise ScenarioError("--load-factor: set traffic.load_factor in the scenario for replicated runs")
        root = _seed(scenario, seed)
        scenario = scenario.model_copy(update={"seed": root, "sweep": None})
        target = _out_dir(scenario, out_dir, root)
        if target.exists() and not (target / "manifest.json").exists() and any(target.iterdir()) \
                and not (target / "runs").exists():
            raise ScenarioError(f"--out: {target} exists and is not a run directory")
        from sim.cli.experiments import _experiment

        return _experiment(scenario, scenario_file, replications, workers, None, False, target, quiet)
    if scenario.model == "oversight":
        return _run_oversight(scenario, scenario_file, seed, out_dir)
    root = _seed(scenario, seed)
    target = _out_dir(scenario, out_dir, root)
    with run_directory(target) as tmp:
        from sim.faults import has_faults

        twin = has_faults(scenario)  # + the no-fault twin (same seed): twice the run time
        label = f"{scenario.name} (seed {root})" + (" + its no-fault twin (2x run time)" if twin else "")
        with LazyBar(label, total=1.0) as bar:
            result = simulate_network(scenario, seed=root, load_factor=load_factor,
                                      progress=lambda f: bar.update(completed=f), twin=twin)
        write_network_run(result, tmp, str(scenario_file))
    _print_run_summary(result)
    _report(target)
    out.print(f"results: [bold]{target}[/]")


def _run_posterior(scenario: Scenario, scenario_file: Path, posterior_file: Path, seed, replications: int,
                   workers: int, out_dir, quiet: bool, force: bool, difference: str | None = None) -> None:
    """Replications at the posterior median and with a posterior draw each (same seeds); every
    headline output with both 95% intervals (sim.posterior.posterior_runs)."""
    import time

    from sim.config.reader import load_yaml
    from sim.outputs import run_directory, write_manifest
    from sim.posterior import check_applies, posterior_runs, read_posterior

    if scenario.model == "network":
        raise ScenarioError(f"--posterior: scenario {scenario.name!r} is model: network; a posterior sets "
                            "oversight parameters, which only model: oversight or both runs")
    post = read_posterior(posterior_file)
    role = check_applies(post, scenario)
    task, headline = "measures", _headline(scenario)
    if difference is not None:
        from sim.experiment import difference_task

        task = difference_task(scenario, difference)
        headline = [f"difference.{m}" for m in headline]
    if replications < 2:
        raise ScenarioError(f"--replications: at least 2 with --posterior (got {replications}); each "
                            "interval needs a spread, e.g. --replications 8")
    check_size(scenario, runs=(4 if difference else 2) * replications, workers=workers, force=force)
    root = _seed(scenario, seed)
    target = _out_dir(scenario, out_dir, root, "posterior-")
    t0 = time.perf_counter()
    with run_directory(target) as tmp:
        err.print(f"{scenario.name} ({role} scenario of the posterior {post.header.get('fingerprint')}): "
                  f"{replications} replication(s) at the posterior median + {replications} with a "
                  f"posterior draw each = {2 * replications} runs, root seed {root}")
        with LazyBar("runs", total=2 * replications) as bar:
            if not quiet:
                bar.update(completed=0)
            res = posterior_runs(load_yaml(Path(scenario_file)), str(scenario_file), post, root, replications,
                                 tmp, workers, task=task, measures=headline,
                                 on_done=None if quiet else (lambda _r: bar.update(advance=1)))
        res.runs.to_parquet(tmp / "posterior_runs.parquet", index=False)
        res.runs.to_csv(tmp / "posterior_runs.csv", index=False)
        res.draws.to_csv(tmp / "posterior_draws.csv", index=False)
        res.summary.to_csv(tmp / "posterior_summary.csv", index=False)
        res.differences.to_csv(tmp / "posterior_differences.csv", index=False)
        res.intervals.to_csv(tmp / "posterior_intervals.csv", index=False)
        failed = res.runs[res.runs["status"] != "complete"]
        write_manifest(tmp, kind="posterior_run", scenario_name=scenario.name, scenario_file=str(scenario_file),
                       scenario=scenario.model_dump(mode="json"), posterior=str(posterior_file),
                       posterior_fingerprint=post.header.get("fingerprint"), posterior_role=role,
                       root_seed=root, replications=replications, seeds=sorted({s.seed for s in res.specs}),
                       median=post.median(), draws=res.draws.to_dict(orient="records"), runs=len(res.specs),
                       failed=len(failed), errors=[{"key": r["key"], "error": r.get("error")}
                                                   for r in res.records if r["status"] != "complete"],
                       wall_s=round(time.perf_counter() - t0, 2))
    _print_posterior_intervals(scenario, res, replications)
    if difference is not None:
        _print_below_zero(res, headline, difference)
    if len(failed):
        err.print(f"[red]{len(failed)} run(s) failed[/]: see posterior_runs.csv (error column)")
    out.print(f"results: [bold]{target}[/]")


def _headline(scenario: Scenario) -> list[str]:
    """The outputs `clets run` prints for one run of the scenario (its headline measures)."""
    from sim.experiment import NETWORK_MEASURES
    from sim.measures import OVERSIGHT_SUMMARY

    if scenario.model == "both":
        return [f"oversight.{m}" for m in OVERSIGHT_SUMMARY] + [f"network.{m}" for m in NETWORK_MEASURES]
    return list(OVERSIGHT_SUMMARY)


def _print_posterior_intervals(scenario: Scenario, res, replications: int) -> None:
    from sim.measures import fmt, label

    t = Table(title=f"{scenario.name}: {replications} replications at the posterior median and {replications} "
                    f"with a posterior draw each (same seeds); per year, mean and 95% interval of one run")
    for col in ("measure", "mean at median", "95%: run randomness", "mean with draws",
                "95%: randomness + parameters", "wider x"):
        t.add_column(col, justify="left" if col == "measure" else "right")
    for _, r in res.intervals.iterrows():
        m = r["measure"]
        wider = r["widening"]
        t.add_row(label(m), fmt(m, r["mean_at_median"]), f"{fmt(m, r['run_low'])} - {fmt(m, r['run_high'])}",
                  fmt(m, r["mean_with_draws"]), f"{fmt(m, r['total_low'])} - {fmt(m, r['total_high'])}",
                  "" if not np.isfinite(wider) else f"{wider:.2f}")
    out.print(t)
    out.print("95% intervals of one run's value: t prediction interval over the replications (empirical "
              "2.5-97.5% quantiles from 40); the means' 95% CIs and the paired differences (draws minus "
              "median) are in posterior_intervals.csv and posterior_differences.csv; the parameters of "
              "every run in posterior_draws.csv.", highlight=False)


def _print_below_zero(res, headline: list[str], difference: str) -> None:
    """In how many posterior draws the paired difference is below zero (point 1: the draws)."""
    from sim.measures import get

    def registry_headline(m: str) -> bool:  # the registry's headline measures first
        try:
            return get(m.split(".", 1)[1]).headline
        except KeyError:
            return False

    draws = res.runs[(res.runs["point"] == 1) & (res.runs["status"] == "complete")]
    for m in sorted(headline, key=lambda m: not registry_headline(m))[:4]:
        v = draws[m].dropna() if m in draws else []
        if len(v):
            out.print(f"{m} ({difference} minus as written): below zero in {int((v < 0).sum())} of "
                      f"{len(v)} posterior draws ({(v < 0).mean():.0%})", highlight=False)


def _run_oversight(scenario: Scenario, scenario_file: Path, seed, out_dir) -> None:
    from sim.outputs import run_directory, write_oversight_run
    from sim.oversight import OversightModel
    from sim.rng import Streams

    root = _seed(scenario, seed)
    target = _out_dir(scenario, out_dir, root)
    with run_directory(target) as tmp:
        err.print(f"building the world for {scenario.name} (seed {root}) ...")
        model = OversightModel(scenario, Streams(root))
        span = (f"{scenario.oversight.days} days of journal and the year's paperwork"
                if scenario.oversight.days else f"{scenario.oversight.years} year(s) of oversight")
        with LazyBar(f"{scenario.name}: {span}", total=model.n_days) as bar:
            bar.update(completed=0)
            result = model.run(progress=lambda k: bar.update(advance=k))
        metrics = write_oversight_run(result, tmp, str(scenario_file))
    _print_oversight_summary(result, metrics)
    _report(target)
    if scenario.outputs.case_viewer:
        from sim.caseviewer import write_case_viewer

        out.print(f"cases: [bold]{write_case_viewer(target)}[/]")
    out.print(f"results: [bold]{target}[/]")


def _print_oversight_summary(result, metrics) -> None:
    from sim.measures import OVERSIGHT_SUMMARY, fmt, get

    y = result.yearly
    t = Table(title=f"{result.scenario.name}: oversight by year (seed {result.seed})")
    t.add_column("measure (see measures.csv for definitions)")
    for year in y["year"]:
        t.add_column(str(int(year)), justify="right")
    for name in OVERSIGHT_SUMMARY:
        t.add_row(get(name).label, *[fmt(name, v) for v in y[name]])
    out.print(t)
    out.print(f"CAC items and sanctions are counted against the year of the conduct they answer, "
              f"whenever the CAC acted (up to {result.tail_days} days after the last year).",
              highlight=False)
    pol = metrics["by_policy"]
    pol = pol[pol["alerts"] > 0]
    if len(pol):
        pt = Table(title="detection policies over the reported years (precision from the answer key)")
        for col in ("policy", "alerts", "true positives", "precision"):
            pt.add_column(col, justify="left" if col == "policy" else "right")
        for _, r in pol.iterrows():
            tp = "" if np.isnan(r["true_positives"]) else f"{int(r['true_positives']):,}"
            pr = "" if np.isnan(r["precision"]) else f"{r['precision']:.3f}"
            pt.add_row(str(r["policy"]), f"{int(r['alerts']):,}", tp, pr)
        out.print(pt)
    lo, hi = y["year"].min(), y["year"].max()
    s = result.sanctions
    s = s[s["conduct_year"].between(lo, hi)] if len(s) else s
    if len(s):
        counts = s["step"].value_counts()
        out.print(f"CAC sanctions about {lo}-{hi}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    items = result.cac_items
    items = items[items["conduct_year"].between(lo, hi)] if len(items) else items
    if len(items):
        out.print(f"CAC items about {lo}-{hi}: {len(items)} ("
                  + ", ".join(f"{k} {v}" for k, v in items["kind"].value_counts().items()) + "); "
                  + ", ".join(f"{k} {v}" for k, v in items["action"].fillna("open").value_counts().items()))
    dhs = result.reports[result.reports["dhs"]] if len(result.reports) else result.reports
    if len(dhs):
        out.print(f"DHS components reporting: {len(dhs)} forms, {int(dhs['investigations'].sum())} "
                  f"investigations reported")


def _print_fault_windows(result, most: int = 6) -> None:
    """The fault windows and, with the no-fault twin, what the faults changed inside them."""
    from sim.measures import fmt

    windows = getattr(result, "fault_windows", [])
    if not windows:
        return
    cmp = getattr(result, "fault_comparison", None)
    if cmp is None:
        out.print("fault windows: " + "; ".join(
            f"{w['label']} {w['start_s']:g}-{w['end_s']:g} s" for w in windows), highlight=False)
        return
    t = Table(title="during the fault windows (messages created in the window): with the fault vs "
              "without (the no-fault twin: same scenario, seed and arrivals)", title_justify="left")
    for col in ("window", "measure", "with fault", "without", "difference"):
        t.add_column(col, justify="left" if col in ("window", "measure") else "right",
                     no_wrap=col != "window")
    timeout = result.scenario.network.give_up_s  # resends included
    names = {"messages": "messages created", "timed_out": "timed out", "rejected": "rejected",
             "lost_in_node": "lost in a failed node", "p95_s": "p95, answered only",
             "p95_censored_s": f"p95, timed-out at {timeout:g} s"}
    for w in windows[:most]:
        mine = cmp[(cmp["window"] == w["label"]) & (cmp["start_s"] == w["start_s"])].set_index("measure")
        end = " (end of run)" if w["until_horizon"] else ""
        head = f"{w['label']}\n{w['start_s']:g}-{w['end_s']:g} s{end}"
        for j, (n, text) in enumerate(names.items()):
            kind = n if n.endswith("_s") else "generated"
            c = mine.loc[n]
            t.add_row(head if j == 0 else "", text, fmt(kind, c["with_fault"], 2),
                      fmt(kind, c["without_fault"], 2), fmt(kind, c["difference"], 2),
                      end_section=j == len(names) - 1)
    out.print(t)
    if len(windows) > most:
        out.print(f"... and {len(windows) - most} more windows in fault_comparison.csv")


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
        from sim.measures import fmt

        out.print(f"end-to-end response (after warm-up): p95 {fmt('p95_s', s['p95_s'], 2)} (answered only) "
                  f"/ {fmt('p95_censored_s', s.get('p95_censored_s'), 2)} (timed-out counted at the "
                  f"{s.get('response_timeout_s', 0):g} s timeout; "
                  f"{fmt('timed_out_share', s.get('waited_timed_out_share'))} of "
                  f"{s.get('waited', 0):,} timed out); answered only: mean {s['mean_s']:.3f} s, "
                  f"p50 {s['p50_s']:.3f} s, p99 {s['p99_s']:.3f} s", highlight=False)
    if s.get("messages_per_inquiry") not in (None, 1.0):
        first = s.get("first_p95_s")
        out.print(f"fan-out/resends: {s.get('messages_total', 0):,} database messages for "
                  f"{s['generated']:,} inquiries ({s['messages_per_inquiry']:.2f} per inquiry)"
                  + (f"; time to the first answer: p95 {first:.3f} s" if first is not None else ""),
                  highlight=False)
    if s.get("hub_backlog_peak") is not None:
        rec = s.get("hub_recovery_s")
        out.print(f"hub failover: backlog peaked at {s['hub_backlog_peak']:,.0f} messages (before the fault "
                  f"{s.get('hub_backlog_pre_fault') or 0:,.0f}); "
                  + (f"back to its pre-fault level {rec:,.0f} s after the switch-back" if rec is not None
                     else "not back to its pre-fault level by the end of the run"
                     if s.get("hub_recovered") is False else "no switch-back in the run"),
                  highlight=False)
    _print_fault_windows(result)
    nodes = result.nodes.sort_values("utilization", ascending=False).head(8)
    nt = Table(title="busiest nodes")
    nt.add_column("node", no_wrap=True)
    for col in ("servers", "utilization", "mean_queue", "p95_s", "rejected", "lost"):
        nt.add_column(col, justify="right")
    for _, r in nodes.iterrows():
        nt.add_row(r["node"], str(r["servers"]), f"{r['utilization']:.3f}", f"{r['mean_queue']:.3f}",
                   f"{r['p95_s']:.3f}", str(r["rejected"]), str(r["lost"]))
    out.print(nt)
    twin = (f"; the no-fault twin took {s['baseline_wall_s']:.1f} s of it"
            if s.get("baseline_wall_s") is not None else "")
    out.print(f"simulated {s['generated']:,} messages in {s['wall_s']:.1f} s "
              f"({s['generated'] / max(s['sim_wall_s'], 1e-9):,.0f} messages/s{twin})")


