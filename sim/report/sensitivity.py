"""Report sections of `clets sensitivity`: which declared assumptions drive each output."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from sim.report.common import Section, figure, html_table, keyed, pyplot, table_link
from sim.results import RunResults

MAX_PLOTTED = 4  # outputs with a figure of their own


def sensitivity_sections(r: RunResults) -> list[Section]:
    m = r.manifest
    method = m.get("method", "")
    indices = r["sensitivity_indices"]
    outputs = list(m.get("outputs") or indices["output"].unique())
    head = Section("sensitivity", f"Sensitivity ({method}): which assumptions drive "
                   f"{escape(outputs[0])}",
                   f"Answer: {keyed(escape(m.get('answer', '')), 'answer')}. "
                   f"{m.get('runs', 0):,} runs ({m.get('resumed', 0):,} reused from an earlier, "
                   f"interrupted command), {m.get('replications', 1)} replication(s) per parameter "
                   "set under common random numbers. " + _method_text(method))
    params = pd.DataFrame([{"parameter": p["name"], "as written": p["value"],
                            "range": f"{_number(p['low'])} - {_number(p['high'])}",
                            "sampled": ("log-uniform" if p["log"] else "uniform")
                            + (", rounded" if p["integer"] else ""),
                            "source": p["source"]} for p in m.get("parameters", [])])
    head.tables.append(html_table(params, max_rows=60))
    spread = r["sensitivity_spread"]
    head.tables.append(html_table(spread.rename(columns={"samples": "parameter sets"})))
    sections = [head]
    for output in outputs[:MAX_PLOTTED]:
        d = indices[indices["output"] == output].sort_values("rank")
        sec = Section(f"indices-{output}", f"{escape(output)}: {method} indices",
                      escape(d["note"].iloc[0]) if len(d) and d["note"].iloc[0] else "")
        if len(d) and not d["note"].iloc[0]:
            sec.figures.append(_morris_figure(d, output) if method == "morris"
                               else _sobol_figure(d, output))
        cols = (["rank", "parameter", "mu_star", "mu_star_ci_low", "mu_star_ci_high", "sigma", "mu"]
                if method == "morris" else
                ["rank", "parameter", "S1", "S1_ci_low", "S1_ci_high", "ST", "ST_ci_low", "ST_ci_high"])
        sec.tables.append(html_table(d[cols], max_rows=60,
                                     source=table_link(r, "sensitivity_indices.csv")))
        sections.append(sec)
    if "sensitivity_tornado" in r.tables():
        t = r["sensitivity_tornado"]
        t = t[t["output"] == outputs[0]]
        sec = Section("tornado", f"One at a time: {escape(outputs[0])} at each parameter's ends",
                      "Each parameter moved to the low and the high end of its range with the "
                      "others as written; bars from the output as written, largest swing first. "
                      "A one-at-a-time view misses interactions: read it beside the indices.")
        if len(t):
            sec.figures.append(_tornado_figure(t, outputs[0]))
        sec.tables.append(html_table(t.drop(columns=["output"]), max_rows=60,
                                     source=table_link(r, "sensitivity_tornado.csv")))
        sections.append(sec)
    return sections


def _number(v: float) -> str:
    """A range end as people write it: 2,000,000 rather than 2e+06."""
    return f"{v:,.0f}" if abs(v) >= 1e4 and float(v).is_integer() else f"{v:g}"


def _method_text(method: str) -> str:
    if method == "morris":
        return ("Morris screening: mu* is the mean absolute change of the output when a parameter "
                "moves across its whole range (elementary effects), with a bootstrap 95% CI; "
                "sigma is their spread (a large sigma against mu* means interactions or a "
                "non-linear effect). It ranks; it does not apportion variance.")
    return ("Sobol: S1 is the share of the output's variance over the declared ranges due to the "
            "parameter alone, ST with all its interactions; 95% CIs by bootstrap. ST - S1 is the "
            "part through interactions; the sum of S1 is at most 1.")


def _morris_figure(d: pd.DataFrame, output: str) -> dict:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.errorbar(d["mu_star"], d["sigma"], xerr=d["mu_star_conf"], fmt="o", capsize=3)
    for row in d.head(8).itertuples():
        ax.annotate(row.parameter.split(".", 1)[-1], (row.mu_star, row.sigma), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    top = float(np.nanmax(np.r_[d["mu_star"], d["sigma"], 0])) * 1.05 or 1.0
    ax.plot([0, top], [0, top], ls=":", color="grey", lw=1, label="sigma = mu*")
    ax.set_xlabel(f"mu* (change of {output} over a parameter's range)")
    ax.set_ylabel("sigma")
    ax.legend(fontsize=7)
    return figure(fig, f"morris-{output}", f"Morris mu* against sigma for {output}: far right "
                  "matters most; above the dotted line, through interactions or curvature.")


def _sobol_figure(d: pd.DataFrame, output: str) -> dict:
    plt = pyplot()
    d = d.head(15)
    y = np.arange(len(d))
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(d) + 1.2))
    ax.barh(y - 0.18, d["S1"], height=0.35, xerr=d["S1_conf"], capsize=2, label="S1 (alone)")
    ax.barh(y + 0.18, d["ST"], height=0.35, xerr=d["ST_conf"], capsize=2, label="ST (total)")
    ax.set_yticks(y, [p.split(".", 1)[-1] for p in d["parameter"]], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel(f"share of the variance of {output}")
    ax.legend(fontsize=7)
    return figure(fig, f"sobol-{output}", f"Sobol first-order (S1) and total (ST) indices of "
                  f"{output}, with bootstrap 95% CIs.")


def _tornado_figure(t: pd.DataFrame, output: str) -> dict:
    plt = pyplot()
    t = t.head(15)
    base = float(t["output_as_written"].iloc[0])
    y = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(t) + 1.2))
    ax.barh(y, t["output_at_low"] - base, left=base, color="tab:blue", label="parameter at low end")
    ax.barh(y, t["output_at_high"] - base, left=base, color="tab:orange", alpha=0.8,
            label="parameter at high end")
    ax.axvline(base, color="black", lw=0.8)
    ax.set_yticks(y, [p.split(".", 1)[-1] for p in t["parameter"]], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{output} (as written: {base:.3g})")
    ax.legend(fontsize=7)
    return figure(fig, f"tornado-{output}", f"Tornado of {output}: each parameter at its low "
                  "and high end, the others as written.")
