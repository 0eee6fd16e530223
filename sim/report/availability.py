"""Report section of `clets availability`: uptime per component against the CAC's 95% rule."""

from __future__ import annotations

import base64
from html import escape

import pandas as pd

from sim.report.common import Section, html_table, keyed, table_link
from sim.results import RunResults


def availability_sections(r: RunResults) -> list[Section]:
    from sim.availability import KIND_LABEL
    from sim.measures import fmt, label

    m = r.manifest
    flagged = m.get("cac_report") or []
    reps, years = m.get("replications", 1), m.get("years", 1)
    text = (f"The random-fault process alone (faults.random; no messages): {reps} replication(s) "
            f"of {years} year(s). Uptime is the share of a simulated year a component was up; the "
            "CI is a 95% t-interval over every simulated year. The CAC reports direct connects at or "
            "below 95% uptime; MSCs, the hub and MDT gateways are shown for information. Direct "
            f"connects the rule would report: {keyed(escape(', '.join(flagged)) or 'none', 'cac_report')}.")
    sec = Section("availability", "Availability: uptime per component", text)
    png = r.directory / "availability.png"
    if png.exists():
        sec.figures.append({"name": "availability", "caption": "Uptime per direct-connect link and "
                            "per MSC (mean over simulated years, 95% CI), lowest first; the dashed "
                            "line is the CAC's 95%.",
                            "data": base64.b64encode(png.read_bytes()).decode()})
    kinds = r["availability_kinds"]
    rows = []
    for _, k in kinds.iterrows():
        rows.append({"kind": k["label"], "components": int(k["components"]),
                     label("expected_uptime"): fmt("expected_uptime", k["expected_uptime"]),
                     "mean uptime": keyed(fmt("uptime", k["uptime"]), f"uptime_{k['kind']}"),
                     "lowest uptime": fmt("uptime", k["lowest_uptime"]),
                     "outages a year (all)": fmt("outages", k["outages"]),
                     label("longest_outage_h"): fmt("longest_outage_h", k["longest_outage_h"]),
                     label("flagged_share"): fmt("flagged_share", k["flagged_share"])})
    sec.tables.append(_raw_table(pd.DataFrame(rows)))
    comps = r["availability"]
    rows = []
    for _, c in comps[comps["kind"].isin(["direct_connect", "hub", "msc"])].iterrows():
        rule = ("yes" if c["cac_report"] else "no") if c["kind"] == "direct_connect" else "(info)"
        rows.append({"component": c["name"], "kind": KIND_LABEL.get(c["kind"], c["kind"]),
                     "MTBF h": f"{c['mtbf_hours']:,.0f}", "MTTR min": f"{c['mttr_minutes']:,.0f}",
                     "uptime": fmt("uptime", c["uptime"]),
                     "95% CI": f"{fmt('uptime', c['uptime_ci_low'])} - {fmt('uptime', c['uptime_ci_high'])}",
                     "outages a year": fmt("outages", c["outages"]),
                     "longest outage": fmt("longest_outage_h", c["longest_outage_h"]),
                     "down time a year": fmt("downtime_h", c["downtime_h"]),
                     "years at or below 95%": fmt("flagged_share", c["flagged_share"]),
                     "CAC report": rule})
    sec.tables.append(html_table(pd.DataFrame(rows), max_rows=100,
                                 source=table_link(r, "availability.csv")))
    return [sec]


def _raw_table(df: pd.DataFrame) -> str:
    """A small table whose cells may carry data-key spans (not escaped)."""
    head = "".join(f"<th>{c}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
