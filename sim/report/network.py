"""Network and capacity sections."""

from __future__ import annotations

import base64

import pandas as pd

from sim.report.common import Section, figure, html_table, keyed, pyplot, table_link
from sim.results import RunResults


def _response_text(s: dict) -> str:
    """The headline p95 both ways, labelled: answered only, and timed-out at the timeout."""
    from sim.measures import fmt

    timeout = s.get("response_timeout_s")
    both = (f"end-to-end p95 {keyed(fmt('p95_s', s.get('p95_s'), 3), 'p95_s')} (answered only)")
    if s.get("p95_censored_s") is not None:
        both += (f" / {keyed(fmt('p95_censored_s', s['p95_censored_s'], 3), 'p95_censored_s')} "
                 f"(timed-out messages counted at the {timeout:g} s timeout; "
                 f"{keyed(fmt('timed_out_share', s.get('waited_timed_out_share')), 'waited_timed_out_share')}"
                 f" of the {s.get('waited', 0):,} senders who waited timed out)")
    return both + "."


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}".removesuffix(".0")


def _timeline_figure(r: RunResults, plt) -> dict:
    """p95 per minute, the fault windows shaded and labelled, the no-fault twin beside it."""
    tl = r["timeline"]
    windows = r.manifest.get("fault_windows") or []
    fig, ax = plt.subplots(figsize=(9, 3.4))
    # one step per minute of creation, so the steps line up with the shaded windows
    ax.plot(tl["bin_start_s"] / 60, tl["p95_s"], color="black", lw=1.4, drawstyle="steps-post",
            label="with the faults" if windows else "p95")
    if "timeline_baseline" in r:
        base = r["timeline_baseline"]
        ax.plot(base["bin_start_s"] / 60, base["p95_s"], color="tab:blue", lw=1.2, ls="--",
                drawstyle="steps-post", label="without (no-fault twin: same seed, same arrivals)")
    colours = ["tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:olive"]
    seen: dict[str, str] = {}
    for i, w in enumerate(windows):
        colour = seen.setdefault(w["label"], colours[len(seen) % len(colours)])
        ax.axvspan(w["start_s"] / 60, w["end_s"] / 60, color=colour, alpha=0.15, lw=0)
        ax.text(w["start_s"] / 60, 0.97 - 0.09 * (i % 3), " " + w["label"],
                transform=ax.get_xaxis_transform(), va="top", ha="left", fontsize=7, color=colour)
    warm = r.manifest.get("warmup_s") or 0
    if warm:
        ax.axvline(warm / 60, color="grey", ls=":", lw=1)
    ax.set_xlabel("minute of creation")
    ax.set_ylabel("p95 response (s), timed-out at the timeout")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    caption = ("Sender's p95 response time per minute of creation (timed-out messages at the "
               "timeout; dotted line: end of warm-up).")
    if windows:
        caption += (" Shaded: the fault windows. Dashed: the same scenario and seed with the faults "
                    "removed." if "timeline_baseline" in r else " Shaded: the fault windows.")
    return figure(fig, "timeline", caption)


def _fault_table(r: RunResults) -> str:
    """During each fault window: with the fault vs without, one row per window and measure."""
    from sim.measures import fmt, label

    cmp = r["fault_comparison"]
    rows = []
    for _, c in cmp.iterrows():
        kind = c["measure"] if c["measure"].endswith("_s") else "generated"
        name = {"timed_out": "timed out", "lost_in_node": "lost inside a failed node",
                "messages": "messages created"}.get(c["measure"], label(c["measure"]))
        rows.append({"window": f"{c['window']} ({_minutes(c['start_s'])}-{_minutes(c['end_s'])} min)",
                     "measure": name, "with the fault": fmt(kind, c["with_fault"]),
                     "without (twin)": fmt(kind, c["without_fault"]),
                     "difference": fmt(kind, c["difference"])})
    return html_table(pd.DataFrame(rows), max_rows=200)


def network_sections(r: RunResults) -> list[Section]:
    plt = pyplot()
    s = r.manifest.get("summary", {})
    generated, answered = s.get("generated", 0), s.get("answered", 0)
    text = (f"{keyed(f'{generated:,}', 'generated')} messages: {keyed(f'{answered:,}', 'answered')} "
            f"answered, {s.get('rejected', 0):,} rejected, {s.get('timed_out', 0):,} timed out, "
            f"{s.get('in_flight', 0):,} in flight; " + _response_text(s))
    windows = r.manifest.get("fault_windows") or []
    if windows:
        text += (" Fault windows (minutes from the start): " + "; ".join(
            f"{w['label']} {_minutes(w['start_s'])}-{_minutes(w['end_s'])}" for w in windows) + ".")
        if (r.manifest.get("baseline") or {}).get("summary"):
            b = r.manifest["baseline"]["summary"]
            text += (" Without the faults (the same scenario and seed, same arrivals): "
                     + _response_text(b))
    sec = Section("network", "Network: throughput, response times, utilization", text)
    nodes = r["nodes"].sort_values("utilization", ascending=False)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    top = nodes.head(15)
    ax.barh(top["node"], top["utilization"])
    ax.invert_yaxis()
    ax.set_xlabel("utilization")
    ax.tick_params(axis="y", labelsize=7)
    sec.figures.append(figure(fig, "utilization", "The 15 busiest nodes."))
    county = r["e2e_by_county"].sort_values("p95_s", ascending=False).head(15)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh(county["county"].astype(str), county["p95_s"])
    ax.invert_yaxis()
    ax.set_xlabel("end-to-end p95 (s), answered only")
    ax.tick_params(axis="y", labelsize=7)
    sec.figures.append(figure(fig, "p95_by_county", "Counties with the slowest p95 response "
                              "(answered messages only)."))
    if "timeline" in r:
        sec.figures.append(_timeline_figure(r, plt))
    if "fault_comparison" in r:
        sec.tables.append("<h3>During the fault windows: with the fault vs without</h3>"
                          + _fault_table(r))
    sec.tables.append(html_table(nodes[["node", "servers", "utilization", "mean_queue", "p50_s",
                                        "p95_s", "p99_s", "rejected", "lost"]], max_rows=20,
                                 source=table_link(r, "nodes.csv")))
    return [sec]


def capacity_sections(r: RunResults) -> list[Section]:
    from sim.measures import fmt, label

    m = r.manifest
    knee, headroom = m.get("knee"), m.get("headroom")
    text = (f"{keyed(m.get('verdict', ''), 'verdict')} Headroom: "
            f"{keyed('none' if headroom is None else f'x{headroom:g}', 'headroom')}; knee: "
            f"{keyed('none' if knee is None else f'x{knee:g}', 'knee')} (first load whose mean p95 "
            f"exceeds {m.get('target_p95_s', 0):g} s); bottleneck: "
            f"{keyed(str(m.get('bottleneck')), 'bottleneck')}.")
    sec = Section("capacity", "Capacity: p95 against load", text)
    png = r.directory / "capacity.png"
    if png.exists():
        sec.figures.append({"name": "capacity", "caption": "p95 in the busiest nodes and end to end "
                            "(mean over replications, 95% CI; timed-out messages at the timeout, "
                            "answered-only p95 dashed).",
                            "data": base64.b64encode(png.read_bytes()).decode()})
    pts = r["capacity"]
    if "p95_censored_s_ci_high" in pts:
        rows = []
        for _, p in pts.iterrows():
            row = {"load": f"x{p['load_factor']:g}", "replications": int(p["replications"])}
            for name in ("messages", "answered_share", "timed_out_share", "p95_s", "p95_censored_s"):
                row[label(name)] = fmt(name, p[name], 3)
            row["p95 (timed-out at the timeout) 95% CI"] = (
                f"{fmt('p95_censored_s', p['p95_censored_s_ci_low'])} - "
                f"{fmt('p95_censored_s', p['p95_censored_s_ci_high'])}")
            row[f"{m.get('msc', 'MSC')} utilization"] = fmt("msc_utilization", p["msc_utilization"])
            rows.append(row)
        sec.tables.append(html_table(pd.DataFrame(rows)))
    else:
        sec.tables.append(html_table(pts))
    return [sec]
