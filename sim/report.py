"""One self-contained HTML report per run or sweep (jinja2, figures embedded as PNG).

The report reads the run's own output files through `sim.results.load`, so every number
in the page is one a reader can find in the Parquet/CSV tables next to it. Key figures
carry a ``data-key`` attribute (tested against the tables).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment

from sim.results import RunResults, load

PUBLIC_COMPLIANCE = {2017: 0.58, 2018: 0.98}


@dataclass
class Section:
    id: str
    title: str
    text: str = ""
    figures: list[dict] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)


def _figure(fig, name: str, caption: str) -> dict:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return {"name": name, "caption": caption, "data": base64.b64encode(buf.getvalue()).decode()}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _table(df: pd.DataFrame, max_rows: int = 40, floatfmt: str = "{:,.3f}") -> str:
    df = df.head(max_rows).copy()
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            df[c] = df[c].map(lambda v: "" if pd.isna(v) else floatfmt.format(v))
    return df.to_html(index=False, border=0, escape=True)


def _key(value: str, key: str) -> str:
    return f'<span data-key="{key}">{value}</span>'


# ---------------------------------------------------------------------- oversight


def _oversight_sections(r: RunResults) -> list[Section]:
    plt = _plt()
    y = r["yearly"]
    out = []
    funnel_cols = [("true misuse incidents", "true_misuse_incidents"), ("alerts", "alerts"),
                   ("alerts reviewed", "alerts_reviewed"), ("investigations", "investigations_closed"),
                   ("misuse confirmed", "investigations_confirmed"),
                   ("reported misuse found", "reported_misuse_found"), ("CAC sanctions", "sanctions")]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / max(len(y), 1)
    for i, (_, row) in enumerate(y.iterrows()):
        vals = [max(float(row[c]), 0.5) for _, c in funnel_cols]
        ax.bar(np.arange(len(funnel_cols)) + i * width, vals, width, label=str(int(row["year"])))
    ax.set_xticks(np.arange(len(funnel_cols)) + width * (len(y) - 1) / 2)
    ax.set_xticklabels([lbl for lbl, _ in funnel_cols], rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("count (log)")
    ax.legend()
    lines = []
    for _, row in y.iterrows():
        yr = int(row["year"])
        lines.append(f"{yr}: {_key(f'{int(row.true_misuse_rows):,}', f'true_misuse_rows_{yr}')} misuse queries "
                     f"truly happened; {_key(f'{int(row.investigations_confirmed):,}', f'confirmed_{yr}')} "
                     f"were confirmed by investigations; agencies reported "
                     f"{_key(f'{int(row.reported_misuse_found):,}', f'reported_misuse_found_{yr}')} "
                     f"on form HDC 0010.")
    funnel = Section("funnel", "The funnel: truth, detected, investigated, reported, sanctioned",
                     " ".join(lines), [_figure(fig, "funnel", "Per year, from what truly happened to "
                                                "what the CAC acted on (log scale).")],
                     [_table(y)])
    out.append(funnel)

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
                         f"{_key(f'{row.reported_share:.1%}', f'reported_share_{int(row.report_year)}')}"
                         f" of {int(row.agencies)} agencies" for row in c.itertuples())
        out.append(Section("compliance", "Reporting compliance vs the public figures", text,
                           [_figure(fig, "compliance", "Share of agencies with an HDC 0010 form by the "
                                    "census date; red: 58% (2017) and 98% (2018).")], [_table(c)]))

    metrics = {n: r[f"metrics_{n}"] for n in ("by_policy", "recall_by_category", "recall_by_archetype",
                                             "time_to_detection") if f"metrics_{n}" in r}
    sec = Section("detection", "Detection: precision and recall (joined with the answer key)")
    if "by_policy" in metrics:
        pol = metrics["by_policy"]
        sec.tables.append(_table(pol[pol["alerts"] > 0]))
    for name in ("recall_by_category", "recall_by_archetype"):
        if name in metrics:
            m = metrics[name]
            fig, ax = plt.subplots(figsize=(8, 3.2))
            label = m.columns[0]
            ax.barh(m[label].astype(str), m["recall"].fillna(0))
            ax.set_xlim(0, 1)
            ax.set_xlabel("recall (misuse rows with an alert)")
            ax.tick_params(axis="y", labelsize=7)
            sec.figures.append(_figure(fig, name, f"Recall by {label}."))
            sec.tables.append(_table(m))
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
        sec.figures.append(_figure(fig, "recall_vs_budget", "Recall against the number of alerts an "
                                   "investigator could review."))
    if "time_to_detection" in metrics:
        sec.tables.append(_table(metrics["time_to_detection"]))
    out.append(sec)

    s = r["sanctions"] if "sanctions" in r else pd.DataFrame()
    items = r["cac_items"] if "cac_items" in r else pd.DataFrame()
    n_sanctions = int(s["step"].isin(["censure", "suspension", "removal"]).sum()) if len(s) else 0
    sanc = Section("sanctions", "The CAC: items referred, discussed and acted on",
                   f"{_key(str(len(items)), 'cac_items_total')} items referred to the CAC, "
                   f"{_key(str(n_sanctions), 'sanctions_total')} sanctions over the run. The CAC "
                   "takes items up for consideration and acts on some after deliberation.")
    if len(items) or len(s):
        fig, ax = plt.subplots(figsize=(8, 3.2))
        kinds = sorted(set(items["kind"])) if len(items) else []
        for i, kind in enumerate(kinds):
            d = items[items["kind"] == kind]
            ax.scatter(pd.to_datetime(d["referred_day"], unit="D"), [i] * len(d), s=10, marker="|",
                       color="grey", label="referred" if i == 0 else None)
        steps = ["censure", "suspension", "removal"]
        for j, step in enumerate(steps):
            d = s[s["step"] == step] if len(s) else s
            ax.scatter(pd.to_datetime(d["day"], unit="D"), [len(kinds) + j] * len(d), s=14, label=step)
        ax.set_yticks(range(len(kinds) + len(steps)))
        ax.set_yticklabels([*kinds, *steps])
        ax.legend(loc="upper left", fontsize=7, frameon=False)
        sanc.figures.append(_figure(fig, "cac", "Grey ticks: items referred, by kind; dots: CAC "
                                               "actions on one agency each."))
        if len(items):
            sanc.tables.append(_table(items.groupby(["kind", "action"], dropna=False).size()
                                      .rename("items").reset_index()))
        if len(s):
            sanc.tables.append(_table(s[[c for c in ("day", "agency_name", "step", "reason") if c in s]]))
    out.append(sanc)
    out.append(_casebook(r))
    return out


def _casebook(r: RunResults, per_archetype: int = 2) -> Section:
    """Incidents a trainer can walk through: rows, what fired, the case, the report line."""
    sec = Section("casebook", "Trainer case book",
                  "For each kind of misuse, one incident that was detected and one that was missed "
                  "(where the run has them): the journal rows, what fired, what the investigation "
                  "found, and what the agency reported.")
    if "truth" not in r or "misuse_journal" not in r or not len(r["truth"]):
        return sec
    truth, journal, inc = r["truth"], r["misuse_journal"], r["incidents"]
    alerts = r["alerts"]
    inv = r["investigations"] if "investigations" in r else pd.DataFrame()
    reports = r["reports"] if "reports" in r else pd.DataFrame()
    alerted = alerts[alerts["query_id"].notna()].assign(query_id=lambda d: d["query_id"].astype("int64"))
    by_q = alerted.groupby("query_id")["kind"].agg(lambda k: ", ".join(sorted(set(map(str, k)))))
    t = truth.merge(journal, on="query_id", how="left")
    t["alerts"] = t["query_id"].map(by_q)
    for archetype in [a for a in t["archetype"].astype(str).unique()]:
        mine = t[t["archetype"].astype(str) == archetype]
        detected = mine.groupby("incident_id")["alerts"].apply(lambda a: a.notna().any())
        picks = list(detected[detected].index[:1]) + list(detected[~detected].index[:1])
        for iid in picks[:per_archetype]:
            rows = mine[mine["incident_id"] == iid].sort_values("time")
            info = inc[inc["incident_id"] == iid].iloc[0] if (inc["incident_id"] == iid).any() else None
            ops = rows["operator"].dropna().astype(int).unique().tolist()
            cases = inv[inv["operator"].isin(ops)] if len(inv) else inv
            if len(cases):
                c = cases.iloc[0]
                investigation = (f"case {int(c['case_id'])} opened from a {c['source']} alert; "
                                 f"{'misuse confirmed' if c['confirmed'] else 'closed without a finding'}"
                                 f"{'' if pd.isna(c['outcome']) else ', outcome: ' + str(c['outcome'])}"
                                 f"{'' if c['referral'] is None or pd.isna(c['referral']) else ', referred under ' + str(c['referral'])}.")
                agency = int(c["agency"])
                rep = reports[(reports["agency"] == agency)] if len(reports) else reports
                report = ("; ".join(f"{int(x.report_year)}: {int(x.investigations)} investigation(s), "
                                    f"{int(x.misuse_found)} with misuse" for x in rep.itertuples())
                          or "the agency filed no form")
            else:
                investigation = "no investigation was opened."
                report = "nothing about this incident reached the form."
            fired = rows["alerts"].dropna()
            detection = (f"{len(fired)} of {len(rows)} rows raised alerts ({', '.join(sorted(set(fired)))})"
                         if len(fired) else "no rule, audit sample or complaint flagged these rows "
                         "(they look like ordinary work in the journal).")
            story = (f"{archetype.replace('_', ' ')}: {len(rows)} lookup(s), category "
                     f"{rows['category'].astype(str).iloc[0]}"
                     + (f", actors {info['actors']}, from {info['agency_ori']}" if info is not None else ""))
            cols = [c for c in ("query_id", "time", "operator", "ori", "terminal", "key", "subject",
                                "purpose", "case_number", "alerts") if c in rows]
            sec.cases.append(dict(archetype=archetype, heading=f"Incident {int(iid)} — "
                                  f"{'detected' if len(fired) else 'missed'}", story=story,
                                  rows=_table(rows[cols], max_rows=12), detection=detection,
                                  investigation=investigation, report=report))
    return sec


# ---------------------------------------------------------------------- network, sweep


def _network_sections(r: RunResults) -> list[Section]:
    plt = _plt()
    s = r.manifest.get("summary", {})
    generated, answered = s.get("generated", 0), s.get("answered", 0)
    p95 = s.get("p95_s") or float("nan")
    text = (f"{_key(f'{generated:,}', 'generated')} messages: {_key(f'{answered:,}', 'answered')} "
            f"answered, {s.get('rejected', 0):,} rejected, {s.get('timed_out', 0):,} timed out, "
            f"{s.get('in_flight', 0):,} in flight; end-to-end p95 {_key(f'{p95:.3f}', 'p95_s')} s.")
    sec = Section("network", "Network: throughput, response times, utilization", text)
    nodes = r["nodes"].sort_values("utilization", ascending=False)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    top = nodes.head(15)
    ax.barh(top["node"], top["utilization"])
    ax.invert_yaxis()
    ax.set_xlabel("utilization")
    ax.tick_params(axis="y", labelsize=7)
    sec.figures.append(_figure(fig, "utilization", "The 15 busiest nodes."))
    county = r["e2e_by_county"].sort_values("p95_s", ascending=False).head(15)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh(county["county"].astype(str), county["p95_s"])
    ax.invert_yaxis()
    ax.set_xlabel("end-to-end p95 (s)")
    ax.tick_params(axis="y", labelsize=7)
    sec.figures.append(_figure(fig, "p95_by_county", "Counties with the slowest p95 response."))
    if "timeline" in r:
        tl = r["timeline"]
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.plot(tl["bin_start_s"] / 60, tl["p95_s"])
        ax.set_xlabel("minute")
        ax.set_ylabel("p95 (s)")
        sec.figures.append(_figure(fig, "timeline", "Sender's p95 response time per minute "
                                   "(faults show here)."))
    sec.tables.append(_table(nodes.head(20)[["node", "servers", "utilization", "mean_queue", "p50_s",
                                             "p95_s", "p99_s", "rejected", "lost"]]))
    return [sec]


def _sweep_sections(r: RunResults) -> list[Section]:
    sec = Section("sweep", "Sweep: comparison with 95% confidence intervals",
                  f"{_key(str(r.manifest.get('runs')), 'runs')} runs "
                  f"({r.manifest.get('failed', 0)} failed); replication r of every point shares its "
                  "seed, so differences are paired.")
    png = r.directory / "comparison.png"
    if png.exists():
        sec.figures.append({"name": "comparison", "caption": "Mean and 95% CI per point.",
                            "data": base64.b64encode(png.read_bytes()).decode()})
    sec.tables.append(_table(r["sweep_summary"], max_rows=200, floatfmt="{:,.4g}"))
    if (r.directory / "sweep_differences.csv").stat().st_size > 1 if (r.directory / "sweep_differences.csv").exists() else False:
        sec.tables.append(_table(r["sweep_differences"], max_rows=200, floatfmt="{:,.4g}"))
    return [sec]


def _first_run_sections(r: RunResults) -> list[Section]:
    """The detailed sections of replication 0 of the first point (network and/or oversight)."""
    first = r.manifest.get("first_run")
    if not first or not Path(first).exists():
        return []
    sections = []
    for d in (Path(first), Path(first) / "network", Path(first) / "oversight"):
        if (d / "manifest.json").exists():
            sub = load(d)
            if sub.kind == "network_run":
                sections += _network_sections(sub)
            elif sub.kind == "oversight_run":
                sections += _oversight_sections(sub)
    for sec in sections:
        sec.title += " (first replication)"
    return sections


def _scenario_section(r: RunResults) -> Section:
    """What was run: the settings a reader needs to interpret the rest."""
    scen = r.manifest.get("scenario") or {}
    o = scen.get("oversight", {})
    rows = [
        ("scenario", r.manifest.get("scenario_name", scen.get("name", ""))),
        ("kind of run", r.kind),
        ("root seed", r.manifest.get("root_seed", r.manifest.get("seed", ""))),
        ("model", scen.get("model", "")),
        ("counties", ", ".join(scen.get("topology", {}).get("counties") or ["all 58"])),
        ("journal start", scen.get("journal", {}).get("start_date", "")),
        ("oversight years", o.get("years", "")),
        ("DOJ follow-up", o.get("follow_up", {}).get("regime", "")),
        ("detection rules", ", ".join(o.get("detection", {}).get("rules", {}).get("enabled", [])) or "none"),
        ("random audit rate", o.get("detection", {}).get("random_audit_rate", "")),
        ("misuse prevalence scale", scen.get("misuse", {}).get("prevalence_scale", "")),
        ("package versions", ", ".join(f"{k} {v}" for k, v in r.manifest.get("versions", {}).items())),
        ("wall time (s)", r.manifest.get("wall_s", "")),
    ]
    df = pd.DataFrame(rows, columns=["setting", "value"]).astype(str)
    return Section("scenario", "Scenario", scen.get("description", ""), tables=[_table(df)])


def _capacity_sections(r: RunResults) -> list[Section]:
    knee = r.manifest.get("knee")
    sec = Section("capacity", "Capacity: p95 against load",
                  f"knee: {_key('none' if knee is None else f'x{knee:g}', 'knee')} "
                  f"(first load whose p95 exceeds {r.manifest.get('target_p95_s')} s); bottleneck: "
                  f"{_key(str(r.manifest.get('bottleneck')), 'bottleneck')}.")
    png = r.directory / "capacity.png"
    if png.exists():
        sec.figures.append({"name": "capacity", "caption": "p95 in the busiest nodes and end to end.",
                            "data": base64.b64encode(png.read_bytes()).decode()})
    sec.tables.append(_table(r["capacity"]))
    return [sec]


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
                           f"{text} {_key(str(inside), f'{role}_inside')} of {len(part)} records lie "
                           "inside the model's interval.", tables=[_table(shown)]))
    return out


def _calibration_sections(r: RunResults) -> list[Section]:
    return calibration_sections(r["calibration"])


def write_report(run_dir: Path, calibration: pd.DataFrame | None = None) -> Path:
    """Render `report.html` into a finished run or sweep directory."""
    r = load(run_dir)
    kind = r.kind
    scen = r.manifest.get("scenario", {}) or {}
    if kind == "calibration":
        sections = _calibration_sections(r)
    elif kind == "capacity":
        sections = _capacity_sections(r)
    elif kind == "oversight_run":
        sections = _oversight_sections(r)
    elif kind == "network_run":
        sections = _network_sections(r)
    elif kind == "sweep":
        sections = _sweep_sections(r) + _first_run_sections(r)
    else:
        sections = []
    sections.insert(0, _scenario_section(r))
    if calibration is not None and len(calibration):
        sections += calibration_sections(calibration)
    template = resources.files("sim.templates").joinpath("report.html.j2").read_text()
    html = Environment(autoescape=False).from_string(template).render(
        title=f"CLETS testbed — {r.manifest.get('scenario_name', scen.get('name', ''))}",
        description=scen.get("description", ""), seed=r.manifest.get("seed", ""), kind=kind,
        written=r.manifest.get("written_at", ""), git=r.manifest.get("git"), sections=sections)
    path = Path(run_dir) / "report.html"
    path.write_text(html)
    return path
