"""Oversight sections: the funnel, reporting compliance, detection, the CAC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.measures import by_year_frame, catalogue_frame, fmt, get
from sim.report.common import Section, figure, html_table, keyed, pyplot, table_link
from sim.results import RunResults

PUBLIC_COMPLIANCE = {2017: 0.58, 2018: 0.98}


def oversight_sections(r: RunResults) -> list[Section]:
    plt = pyplot()
    y = r["yearly"]
    out = []
    out.append(_funnel(r, y, plt))

    if "compliance" in r and len(r["compliance"]):
        c = r["compliance"]
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(c["report_year"], c["reported_share"], "o-", label="model")
        pub = {k: v for k, v in PUBLIC_COMPLIANCE.items() if k in set(c["report_year"])}
        if pub:
            ax.plot(list(pub), list(pub.values()), "s", color="red", label="public figure")
        ax.set_ylim(0, 1.05)
        years = sorted(set(c["report_year"]) | set(pub))
        ax.set_xticks(years)
        ax.set_xlim(min(years) - 0.5, max(years) + 0.5)
        ax.set_ylabel("agencies reporting")
        ax.legend()
        text = "; ".join(f"{int(row.report_year)}: "
                         f"{keyed(f'{row.reported_share:.1%}', f'reported_share_{int(row.report_year)}')}"
                         f" of {int(row.agencies)} agencies" for row in c.itertuples())
        out.append(Section("compliance", "Reporting compliance vs the public figures", text,
                           [figure(fig, "compliance", "Share of agencies with an HDC 0010 form by the "
                                    "census date; red: 58% (2017) and 98% (2018).")], [html_table(c, source=table_link(r, "compliance.csv"))]))

    metrics = {n: r[f"metrics_{n}"] for n in ("by_policy", "recall_by_category", "recall_by_archetype",
                                             "time_to_detection") if f"metrics_{n}" in r}
    sec = Section("detection", "Detection: precision and recall (joined with the answer key)",
                  "Over the reported years (the window of the yearly table): alerts raised then, "
                  "and the misuse rows of those years.")
    if "by_policy" in metrics:
        pol = metrics["by_policy"]
        sec.tables.append(html_table(pol[pol["alerts"] > 0], source=table_link(r, "metrics_by_policy.csv")))
    for name in ("recall_by_category", "recall_by_archetype"):
        if name in metrics:
            m = metrics[name]
            fig, ax = plt.subplots(figsize=(8, 3.2))
            label = m.columns[0]
            ax.barh(m[label].astype(str), m["recall"].fillna(0))
            ax.set_xlim(0, 1)
            ax.set_xlabel("recall (misuse rows with an alert)")
            ax.tick_params(axis="y", labelsize=7)
            sec.figures.append(figure(fig, name, f"Recall by {label}."))
            sec.tables.append(html_table(m, source=table_link(r, f"metrics_{name}.csv")))
    alerts, truth = r["alerts"], r["truth"]
    q = alerts[alerts["query_id"].notna()]
    if len(q) and len(truth):
        ranked = q.sort_values(["score", "day"], ascending=[False, True])["query_id"].astype("int64")
        is_mis = ranked.isin(set(truth["query_id"])).to_numpy()
        budgets = np.unique(np.geomspace(1, len(ranked), 30).astype(int))
        recall = [is_mis[:k].sum() / len(truth) for k in budgets]
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(budgets, recall)
        ax.set_xscale("log")
        ax.set_xlabel("alerts reviewed (highest score first)")
        ax.set_ylabel("recall")
        sec.figures.append(figure(fig, "recall_vs_budget", "Recall against the number of alerts an "
                                   "investigator could review."))
    if "time_to_detection" in metrics:
        sec.tables.append(html_table(metrics["time_to_detection"],
                                     source=table_link(r, "metrics_time_to_detection.csv")))
    out.append(sec)

    out.append(_cac(r, y, plt))
    from sim.report.casebook import casebook

    out.append(casebook(r))
    return out




QUERY_STAGES = ["true_misuse_rows", "misuse_rows_flagged"]
CASE_STAGES = ["true_misuse_incidents", "investigations_closed", "investigations_confirmed",
               "reported_misuse_found", "sanctions"]


def _funnel(r: RunResults, y: pd.DataFrame, plt) -> Section:
    """Two funnels, never mixed: misuse queries (rows) and cases (incidents, investigations,
    form entries, CAC actions), each bar labelled with its measure's unit."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 5]})
    for ax, stages, title in ((axes[0], QUERY_STAGES, "queries"), (axes[1], CASE_STAGES, "cases")):
        width = 0.8 / max(len(y), 1)
        for i, (_, row) in enumerate(y.iterrows()):
            vals = [max(float(row[c]), 0.5) for c in stages]
            ax.bar(np.arange(len(stages)) + i * width, vals, width, label=str(int(row["year"])))
        ax.set_xticks(np.arange(len(stages)) + width * (len(y) - 1) / 2)
        ax.set_xticklabels([f"{get(c).label}\n({get(c).unit})" for c in stages], rotation=25,
                           ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("count per year (log)")
    axes[1].legend(fontsize=7)
    lines = []
    for _, row in y.iterrows():
        yr = int(row["year"])
        lines.append(f"{yr}: {keyed(fmt('true_misuse_rows', row.true_misuse_rows), f'true_misuse_rows_{yr}')} "
                     f"misuse queries truly happened, "
                     f"{keyed(fmt('misuse_rows_flagged', row.misuse_rows_flagged), f'misuse_rows_flagged_{yr}')}"
                     f" of them raised an alert; "
                     f"{keyed(fmt('investigations_confirmed', row.investigations_confirmed), f'confirmed_{yr}')}"
                     f" investigations confirmed misuse; agencies reported "
                     f"{keyed(fmt('reported_misuse_found', row.reported_misuse_found), f'reported_misuse_found_{yr}')}"
                     f" on form HDC 0010; the CAC took "
                     f"{keyed(fmt('sanctions', row.sanctions), f'sanctions_{yr}')} sanction(s) about the year.")
    table = by_year_frame(y).merge(catalogue_frame(r.manifest.get("tail_days"))[["label", "window"]],
                                   left_on="measure", right_on="label", how="left").drop(columns="label")
    return Section("funnel", "The funnel: what happened, what was flagged, investigated, reported, sanctioned",
                   " ".join(lines), [figure(fig, "funnel", "Per simulated year (log scale). Left: "
                                             "misuse queries; right: cases - incidents, investigations, "
                                             "form entries and CAC actions. Definitions: measures.csv.")],
                   [html_table(table, max_rows=60, source=table_link(r, "yearly.csv"))])


def _cac(r: RunResults, y: pd.DataFrame, plt) -> Section:
    import matplotlib.dates as mdates

    s = r["sanctions"] if "sanctions" in r else pd.DataFrame()
    items = r["cac_items"] if "cac_items" in r else pd.DataFrame()
    lo, hi = int(y["year"].min()), int(y["year"].max())
    counted_items = items[items["conduct_year"].between(lo, hi)] if len(items) else items
    n_items, n_sanctions = int(y["cac_items"].sum()), int(y["sanctions"].sum())
    sec = Section("sanctions", "The CAC: items referred, discussed and acted on",
                  f"{keyed(fmt('cac_items', n_items), 'cac_items_total')} items about {lo}-{hi} were "
                  f"referred to the CAC and it took {keyed(fmt('sanctions', n_sanctions), 'sanctions_total')}"
                  f" sanction(s) about them (counted against the year of the conduct, whenever the "
                  f"CAC acted, up to {r.manifest.get('tail_days', 'N')} days after {hi}). The CAC takes "
                  "items up for consideration and acts on some after deliberation.")
    if not (len(items) or len(s)):
        return sec
    fig, ax = plt.subplots(figsize=(9, 3.2))
    kinds = sorted(set(items["kind"])) if len(items) else []
    for i, kind in enumerate(kinds):
        d = items[items["kind"] == kind]
        ax.scatter(pd.to_datetime(d["referred_day"], unit="D"), [i] * len(d), s=10, marker="|",
                   color="grey", label="referred" if i == 0 else None)
    steps = ["censure", "suspension", "removal"]
    for j, step in enumerate(steps):
        d = s[s["step"] == step] if len(s) else s
        ax.scatter(pd.to_datetime(d["day"], unit="D"), [len(kinds) + j] * len(d), s=14, label=step)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_yticks(range(len(kinds) + len(steps)))
    ax.set_yticklabels([k.replace("_", " ") for k in [*kinds, *steps]], fontsize=8)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    sec.figures.append(figure(fig, "cac", "Grey ticks: items referred, by kind; dots: CAC actions on "
                                          "one agency each (whole run, warm-up and tail included)."))
    if len(counted_items):
        sec.tables.append(html_table(counted_items.groupby(["conduct_year", "kind", "action"], dropna=False)
                                     .size().rename("items").reset_index(), source=table_link(r, "cac_items.csv")))
    if len(s):
        cols = [c for c in ("day", "agency_name", "step", "conduct_year", "reason") if c in s]
        sec.tables.append(html_table(s[cols], source=table_link(r, "sanctions.csv")))
    return sec
