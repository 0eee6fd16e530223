"""Sweep, replicated-run and calibration sections."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd

from sim.measures import fmt, fmt_difference
from sim.measures import label as measure_label
from sim.metrics import mean_ci
from sim.report.common import Section, figure, html_table, keyed, pyplot, table_link
from sim.report.network import network_sections
from sim.report.oversight import oversight_sections
from sim.results import RunResults, load


def labelled(df: pd.DataFrame, values=("mean", "ci_low", "ci_high", "baseline_mean", "alternative_mean"),
             differences=("difference",)) -> pd.DataFrame:
    """For reading: measure keys replaced by their registry labels, values formatted by their
    measure (counts, shares, seconds; never scientific notation). The CSV keeps raw numbers."""
    if "measure" not in df or not len(df):
        return df
    out = df.copy()
    diff_table = any(c in df for c in differences)
    for col in [c for c in df.columns if c in values or c in differences]:
        as_diff = col in differences or (diff_table and col in ("ci_low", "ci_high"))
        f = fmt_difference if as_diff else fmt
        out[col] = [f(m, v) for m, v in zip(df["measure"], df[col])]
    out["measure"] = df["measure"].map(measure_label)
    return out.astype({c: str for c in out.columns if c in values or c in differences})


def sweep_sections(r: RunResults) -> list[Section]:
    reps = r.manifest.get("runs", 0) // max(len(r.manifest.get("points") or [1]), 1)
    sec = Section("sweep", "Means with 95% confidence intervals over replications",
                  f"{keyed(str(r.manifest.get('runs')), 'runs')} runs "
                  f"({r.manifest.get('failed', 0)} failed), {reps} replication(s) per point; "
                  "replication r of every point shares its seed, so differences are paired. "
                  "Oversight measures are per simulated year (the mean over the run's years); "
                  "definitions and windows: measures.csv of any run.")
    png = r.directory / "comparison.png"
    if png.exists():
        sec.figures.append({"name": "comparison", "caption": "Mean and 95% CI per point.",
                            "data": base64.b64encode(png.read_bytes()).decode()})
    sec.tables.append(html_table(labelled(r["sweep_summary"]), max_rows=200, floatfmt="{:,.4g}",
                                 source=table_link(r, "sweep_summary.csv")))
    diffs = r["sweep_differences"] if "sweep_differences" in r else pd.DataFrame()
    if len(diffs):
        sec.tables.append(html_table(labelled(diffs), max_rows=200, floatfmt="{:,.4g}",
                                     source=table_link(r, "sweep_differences.csv")))
    return [sec, *replicated_sections(r)]


def comparison_sections(r: RunResults) -> list[Section]:
    """`clets compare`: the paired differences, their plot and verdicts."""
    m = r.manifest
    diffs = r["compare_differences"]
    shown = m.get("shown_measures") or list(diffs["measure"])
    head = diffs.set_index("measure").loc[[x for x in shown if x in set(diffs["measure"])]].reset_index()
    words = "; ".join(f"{measure_label(x.measure)}: {x.verdict}" for x in head.itertuples())
    sec = Section("comparison", f"{m.get('alternative')} compared with {m.get('baseline')}",
                  f"{m.get('replications')} replications of each under common random numbers "
                  f"(replication r of both shares its seed). Verdicts (paired 95% CI of "
                  f"{m.get('alternative')} minus {m.get('baseline')}): {words}.")
    png = r.directory / "differences.png"
    if png.exists():
        sec.figures.append({"name": "differences", "caption": "Paired differences scaled by the "
                            "baseline mean, 95% CI; green higher, red lower, grey no detectable "
                            "difference.", "data": base64.b64encode(png.read_bytes()).decode()})
    cols = ["measure", "baseline_mean", "alternative_mean", "difference", "ci_low", "ci_high", "verdict"]
    sec.tables.append(html_table(labelled(diffs[[c for c in cols if c in diffs]]), max_rows=60,
                                 floatfmt="{:,.4g}", source=table_link(r, "compare_differences.csv")))
    return [sec]


def _first_point_tables(r: RunResults, name: str) -> list[pd.DataFrame]:
    """Table `name` of every complete run of the first point that has it (`sim.results`)."""
    runs = list(r.iter_runs())
    first = min((row["point"] for row, _ in runs), default=0)
    return [run[name] for row, run in runs if row["point"] == first and name in run]


def _ci_frame(frames: list[pd.DataFrame], by: str, value: str, bounds=(None, None)) -> pd.DataFrame:
    """Mean and 95% t-interval of `value` per `by` over replications (clipped to `bounds`:
    a share's interval never leaves [0, 1])."""
    rows = []
    allv = pd.concat([f[[by, value]].assign(rep=i) for i, f in enumerate(frames)], ignore_index=True)
    for k, g in allv.groupby(by, observed=True):
        mean, lo, hi = mean_ci(g[value])
        rows.append({by: k, "mean": mean, "ci_low": lo, "ci_high": hi, "replications": len(g)})
    out = pd.DataFrame(rows)
    out[["ci_low", "ci_high"]] = out[["ci_low", "ci_high"]].clip(*bounds)
    return out


def _save(r: RunResults, df: pd.DataFrame, name: str) -> str:
    """Write an aggregate next to the report (so a cut table can link to all of it)."""
    df.to_csv(r.directory / name, index=False)
    return table_link(r, name)


def replicated_sections(r: RunResults) -> list[Section]:
    """Per-node utilisation and recall by category over every replication of the first point,
    with 95% CIs (the detailed sections below are the first replication's)."""
    plt = pyplot()
    out = []
    nets = _first_point_tables(r, "nodes")
    if len(nets) > 1:
        util = _ci_frame(nets, "node", "utilization",
                         (0.0, 1.0))
        util = util.sort_values("mean", ascending=False).rename(columns={"mean": "utilization"})
        link = _save(r, util, "nodes_over_replications.csv")
        util = util.rename(columns={"utilization": "mean"})
        top = util.head(15)
        fig, ax = plt.subplots(figsize=(8, 3.8))
        ax.barh(top["node"], top["mean"], xerr=[top["mean"] - top["ci_low"], top["ci_high"] - top["mean"]],
                capsize=3)
        ax.invert_yaxis()
        ax.set_xlabel("utilization (mean, 95% CI)")
        ax.tick_params(axis="y", labelsize=7)
        out.append(Section("nodes_ci", f"Busiest nodes over {len(nets)} replications",
                           "Time-average utilization of each node, mean and 95% CI over replications.",
                           [figure(fig, "utilization_ci", "The 15 busiest nodes, 95% CI.")],
                           [html_table(util.rename(columns={"mean": "utilization"}), max_rows=25,
                                       source=link)]))
    overs = _first_point_tables(r, "metrics_recall_by_category")
    if len(overs) > 1:
        out.append(_funnel_ci(r, len(overs), plt))
        rec = _ci_frame(overs, "category",
                        "recall", (0.0, 1.0))
        link = _save(r, rec.rename(columns={"mean": "recall"}), "recall_by_category_over_replications.csv")
        fig, ax = plt.subplots(figsize=(8, 3.4))
        ax.barh(rec["category"].astype(str), rec["mean"].fillna(0),
                xerr=[(rec["mean"] - rec["ci_low"]).fillna(0), (rec["ci_high"] - rec["mean"]).fillna(0)],
                capsize=3)
        ax.set_xlim(0, 1)
        ax.set_xlabel("recall: misuse rows with an alert (mean, 95% CI)")
        ax.tick_params(axis="y", labelsize=7)
        out.append(Section("recall_ci", f"Recall by category over {len(overs)} replications",
                           "Share of the reported years' misuse rows that raised an alert, by category.",
                           [figure(fig, "recall_ci", "Recall by category, 95% CI over replications.")],
                           [html_table(rec.rename(columns={"mean": "recall"}), source=link)]))
    return out


def first_run_sections(r: RunResults) -> list[Section]:
    """The detailed sections of replication 0 of the first point (network and/or oversight)."""
    first = r.manifest.get("first_run")
    if not first or not Path(first).exists():
        return []
    sections = []
    for d in (Path(first), Path(first) / "network", Path(first) / "oversight"):
        if (d / "manifest.json").exists():
            sub = load(d)
            if sub.kind == "network_run":
                sections += network_sections(sub)
            elif sub.kind == "oversight_run":
                sections += oversight_sections(sub)
    for sec in sections:
        sec.title += " (first replication)"
    return sections




def calibration_sections(cal: pd.DataFrame) -> list[Section]:
    """Fitted and held-out figures in two tables, each row with its public source."""
    out = []
    for role, title, text in (
        ("fitted", "Calibration: fitted figures",
         "These public figures were used to fit the free parameters (clets calibrate --fit): "
         "agreement here is by construction and is not evidence."),
        ("held-out", "Validation: held-out figures",
         "Never used in fitting: each is a prediction, with the model's 95% interval over "
         "replications; a record outside the interval is a miss.")):
        part = cal[cal["role"] == role]
        if not len(part):
            continue
        inside = int(part["inside"].sum())
        shown = part.assign(inside=np.where(part["inside"], "yes", "MISS"))[
            ["figure", "record", "mean", "ci_low", "ci_high", "inside", "source"]]
        out.append(Section(f"calibration_{role}", title,
                           f"{text} {keyed(str(inside), f'{role}_inside')} of {len(part)} records lie "
                           "inside the model's interval.", tables=[html_table(shown)]))
    return out


def _calibration_sections(r: RunResults) -> list[Section]:
    return calibration_sections(r["calibration"])




def _funnel_ci(r: RunResults, reps: int, plt) -> Section:
    """The funnel's stages (per simulated year) as means with 95% CIs over replications."""
    from sim.report.oversight import CASE_STAGES, QUERY_STAGES

    summ = r["sweep_summary"]
    summ = summ[summ["point"] == summ["point"].min()].copy()
    summ["base"] = summ["measure"].str.split(".").str[-1]
    summ = summ[summ["measure"].str.startswith("oversight.") | ~summ["measure"].str.contains(".", regex=False)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2, 5]})
    rows = []
    for ax, stages, title in ((axes[0], QUERY_STAGES, "queries"), (axes[1], CASE_STAGES, "cases")):
        d = summ.set_index("base").reindex(stages)
        ax.bar(range(len(stages)), d["mean"].fillna(0),
               yerr=[(d["mean"] - d["ci_low"]).fillna(0), (d["ci_high"] - d["mean"]).fillna(0)], capsize=4)
        ax.set_xticks(range(len(stages)))
        ax.set_xticklabels([measure_label(c) for c in stages], rotation=25, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
        rows += [dict(measure=c, mean=d.loc[c, "mean"], ci_low=d.loc[c, "ci_low"],
                      ci_high=d.loc[c, "ci_high"]) for c in stages]
    axes[0].set_ylabel("per simulated year (mean, 95% CI)")
    return Section("funnel_ci", f"The funnel over {reps} replications",
                   "Each stage per simulated year, mean and 95% CI over replications; left in misuse "
                   "queries, right in cases.", [figure(fig, "funnel_ci", "Funnel, 95% CI.")],
                   [html_table(labelled(pd.DataFrame(rows)))])
