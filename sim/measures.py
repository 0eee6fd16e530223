"""Every reported measure, defined once: name, label, unit, time window, definition.

The console summaries, the CSVs (each run writes ``measures.csv``), the HTML report,
``sim.results.load`` (``r.define(name)``) and the notebooks read labels, windows and
formats from here, so the same quantity carries the same name and meaning everywhere.
The oversight values themselves are computed once, per simulated year, by
``sim.oversight.results.yearly_summary`` (the ``yearly`` table); the network ones by
``sim.runner`` (the run's ``summary``). Sweeps and comparisons summarise those columns
as they are: the per-run value of an oversight measure is its mean over simulated years.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

YEAR = "per simulated calendar year of the journal (warm-up excluded)"
YEAR_CLOSED = YEAR + "; counted in the year the case closed"
YEAR_FORM = ("per report year: the HDC 0010 forms about that calendar year, "
             "received by the census (Feb 1 deadline plus outreach)")
CONDUCT = ("per simulated year of the conduct it answers (the report year for non-reporting, the "
           "finding's year for audits); CAC actions taken up to {tail_days} days after the "
           "last simulated year are counted")
WINDOW_NET = "messages created after the warm-up, to the end of the horizon"


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    unit: str
    kind: str  # count | share | seconds | days | ratio | uptime | hours
    window: str
    definition: str
    model: str  # oversight | network | availability
    headline: bool = False


def _m(model: str, name: str, label: str, unit: str, kind: str, window: str, definition: str,
       headline: bool = False) -> Measure:
    return Measure(name, label, unit, kind, window, definition, model, headline)


_OVERSIGHT = [
    _m("oversight", "operator_queries", "operator queries", "queries", "count", YEAR,
       "Journal rows keyed by a person at a terminal or MDT (lawful and misuse)."),
    _m("oversight", "automated_checks", "automated checks", "queries", "count", YEAR,
       "Journal rows with no operator (CAD, licence-plate readers, MDT status checks)."),
    _m("oversight", "potential_misuse_rows", "potential misuse rows (no oversight)", "queries",
       "count", YEAR, "Misuse rows the generated incidents would make if nobody were deterred."),
    _m("oversight", "true_misuse_rows", "true misuse rows", "queries", "count", YEAR,
       "Misuse rows that happened (answer key), after deterrence.", headline=True),
    _m("oversight", "true_misuse_incidents", "true misuse incidents", "incidents", "count", YEAR,
       "Incidents with at least one misuse row in the year (answer key)."),
    _m("oversight", "misuse_rows_flagged", "misuse rows flagged by an alert", "queries", "count",
       YEAR, "True misuse rows of the year that raised at least one alert, at any time (answer "
       "key joined with the alerts)."),
    _m("oversight", "alerts", "alerts", "alerts", "count", YEAR,
       "Alerts raised in the year: rules, anomaly scores, random-audit samples and complaints."),
    _m("oversight", "alerts_reviewed", "alerts reviewed", "alerts", "count", YEAR,
       "Alerts raised in the year that an investigator reviewed (by the end of the run)."),
    _m("oversight", "alerts_dropped", "alerts dropped", "alerts", "count", YEAR,
       "Alerts raised in the year that the review budget dropped unread."),
    _m("oversight", "complaints", "complaints", "complaints", "count", YEAR,
       "Complaints that arrived at an agency in the year (true and unfounded)."),
    _m("oversight", "investigations_closed", "investigations closed", "investigations", "count",
       YEAR_CLOSED, "Investigations of an operator that closed in the year."),
    _m("oversight", "investigations_confirmed", "investigations confirming misuse", "investigations",
       "count", YEAR_CLOSED, "Closed investigations whose finding is misuse.", headline=True),
    _m("oversight", "dismissed", "dismissed (resigned or terminated)", "operators", "count", YEAR,
       "Disciplinary outcomes of resignation or termination dated in the year."),
    _m("oversight", "criminal_referrals", "criminal referrals", "operators", "count", YEAR,
       "Disciplinary outcomes in the year with a referral under a statute."),
    _m("oversight", "audits", "DOJ audits", "audits", "count", YEAR,
       "DOJ audit visits (cyclical and targeted) in the year."),
    _m("oversight", "auditor_days", "auditor-days", "days", "days", YEAR,
       "Auditor-days spent on audit visits in the year."),
    _m("oversight", "audit_unjustified", "audit: rows not justified", "queries", "count", YEAR,
       "Sampled transactions the auditors found without a justification."),
    _m("oversight", "reports_received", "HDC 0010 forms", "forms", "count", YEAR_FORM,
       "Forms received about the year, one per reporting unit."),
    _m("oversight", "reported_investigations", "reported investigations", "investigations",
       "count", YEAR_FORM, "Investigations the forms about the year declare."),
    _m("oversight", "reported_complaints", "reported complaints", "complaints", "count", YEAR_FORM,
       "Complaints the forms about the year declare."),
    _m("oversight", "reported_misuse_found", "reported misuse found", "investigations", "count",
       YEAR_FORM, "Investigations with misuse found that the forms about the year declare.",
       headline=True),
    _m("oversight", "reported_dismissed", "reported dismissals", "operators", "count", YEAR_FORM,
       "Resignations and terminations the forms about the year declare."),
    _m("oversight", "reported_share", "agencies reporting", "share of reporting units", "share",
       YEAR_FORM, "Reporting units with a form about the year at the census, over all units "
       "(removed units stay in the denominator).", headline=True),
    _m("oversight", "cac_items", "CAC items referred", "items", "count", CONDUCT,
       "Items referred to the CLETS Advisory Committee about the year's conduct."),
    _m("oversight", "sanctions", "CAC sanctions", "actions", "count", CONDUCT,
       "Censures, suspensions and removals the CAC decided about the year's conduct.",
       headline=True),
]
ALERT_KIND_LABEL = "alerts of kind {kind}"

_NETWORK = [
    _m("network", "generated", "messages generated", "messages", "count", WINDOW_NET,
       "Inquiries and responses created by terminals, MDTs and automated sources."),
    _m("network", "answered_share", "answered", "share of messages", "share", WINDOW_NET,
       "Messages answered before the sender's timeout."),
    _m("network", "rejected_share", "rejected", "share of messages", "share", WINDOW_NET,
       "Messages refused by a full buffer or a node that was down."),
    _m("network", "timed_out_share", "timed out", "share of messages", "share", WINDOW_NET,
       "Messages whose answer did not come back within the sender's timeout."),
    _m("network", "mean_s", "mean response (answered)", "seconds", "seconds", WINDOW_NET,
       "Mean end-to-end response time of answered messages."),
    _m("network", "p95_s", "p95 response (answered only)", "seconds", "seconds", WINDOW_NET,
       "95th percentile of end-to-end response time over answered messages only: it leaves "
       "timed-out messages out, so it can look better as more messages time out.", headline=True),
    _m("network", "p95_censored_s", "p95 response (timed-out at the timeout)", "seconds", "seconds",
       WINDOW_NET, "95th percentile of the response time the sender sees: answered messages at "
       "their response time, timed-out ones at the timeout (censored).", headline=True),
    _m("network", "p99_s", "p99 response (answered only)", "seconds", "seconds", WINDOW_NET,
       "99th percentile of end-to-end response time over answered messages."),
    _m("network", "p50_censored_s", "p50 response (timed-out at the timeout)", "seconds", "seconds",
       WINDOW_NET, "Median of the response time the sender sees (timed-out at the timeout)."),
    _m("network", "p99_censored_s", "p99 response (timed-out at the timeout)", "seconds", "seconds",
       WINDOW_NET, "99th percentile of the response time the sender sees (timed-out at the timeout)."),
    _m("network", "waited_timed_out_share", "timed out among senders who waited", "share of messages",
       "share", WINDOW_NET, "Timed-out messages over answered plus timed-out ones: the censored "
       "sample behind the *_censored_s percentiles (above 5%, the censored p95 is the timeout)."),
    _m("network", "messages", "messages in scope", "messages", "count", WINDOW_NET,
       "Messages created after the warm-up by the devices in scope (capacity: the county's with "
       "--county, else all)."),
    _m("network", "msc_utilization", "MSC utilization", "share of capacity", "share",
       "from the end of the warm-up to the end of the horizon",
       "Time-average share of busy servers of one county MSC (capacity: the --county MSC, "
       "statewide the busiest MSC at the top load)."),
    _m("network", "messages_per_inquiry", "messages per inquiry", "messages", "ratio", WINDOW_NET,
       "Database messages sent per inquiry: its fan-out (network.fan_out: one per database its "
       "key touches) times its sends (1 + resends); 1 with both off."),
    _m("network", "first_p95_s", "p95 time to the first response (answered)", "seconds", "seconds",
       WINDOW_NET, "With fan-out: 95th percentile of the time to the first database's response "
       "over answered inquiries (the response time is to the last)."),
    _m("network", "hub_recovery_s", "hub recovery after failback", "seconds", "seconds",
       "from the failback (switch-back to the primary hub) to the end of the horizon",
       "Time from the failback until the hub backlog (messages in either hub site plus those "
       "held at MSCs for a switch-over, sampled every 5 s) is first back within its pre-fault "
       "level (95th percentile from the end of the warm-up to the failure)."),
    _m("network", "max_utilization", "busiest node's utilization", "share of capacity", "share",
       WINDOW_NET, "Highest time-average share of busy servers over all nodes."),
]

WINDOW_AVAIL = ("per simulated year (365.25 days) of one component's fault process alone "
                "(clets availability; no messages)")
_AVAILABILITY = [
    _m("availability", "uptime", "uptime", "share of the year", "uptime", WINDOW_AVAIL,
       "Share of the year the component was up; summaries give the mean over every simulated "
       "year of every replication with its 95% t-interval."),
    _m("availability", "expected_uptime", "long-run availability (theory)", "share of time",
       "uptime", "the long run", "MTBF / (MTBF + MTTR) (renewal-reward theorem)."),
    _m("availability", "outages", "outages", "outages", "count", WINDOW_AVAIL,
       "Outages that began in the year."),
    _m("availability", "downtime_h", "down time", "hours", "hours", WINDOW_AVAIL,
       "Hours down in the year."),
    _m("availability", "longest_outage_h", "longest outage", "hours", "hours", WINDOW_AVAIL,
       "Longest stretch of down time inside the year (summaries: the longest over every "
       "simulated year)."),
    _m("availability", "flagged_share", "years at or below 95% uptime", "share of years", "share",
       WINDOW_AVAIL, "Share of simulated years whose uptime was at or below 95%: how often the "
       "CAC's rule (report direct connects at or below 95% uptime) would flag it."),
]

MEASURES: dict[str, Measure] = {m.name: m for m in _OVERSIGHT + _NETWORK + _AVAILABILITY}

# the rows of the per-year oversight summary (console and report), in reading order
OVERSIGHT_SUMMARY = ["operator_queries", "potential_misuse_rows", "true_misuse_rows",
                     "true_misuse_incidents", "misuse_rows_flagged", "alerts", "alerts_reviewed",
                     "alerts_dropped",                     "investigations_closed", "investigations_confirmed", "dismissed", "audits",
                     "auditor_days", "audit_unjustified", "reports_received", "reported_investigations",
                     "reported_misuse_found", "reported_share", "cac_items", "sanctions"]


def get(name: str) -> Measure:
    """The measure behind a column or sweep key (``network.p95_s``, ``alerts_rule`` ...)."""
    base = name.split(".", 1)[1] if name.startswith(("network.", "oversight.")) else name
    if base in MEASURES:
        return MEASURES[base]
    if base == "alerts_reviewed_total":
        return Measure(base, "alerts reviewed over the run", "alerts", "count", "the whole run",
                       "Alerts reviewed by an investigator over the whole run.", "oversight")
    if base.startswith("alerts_"):
        kind = base[len("alerts_"):]
        return Measure(base, ALERT_KIND_LABEL.format(kind=kind), "alerts", "count", YEAR,
                       f"Alerts of kind '{kind}' raised in the year.", "oversight")
    raise KeyError(f"no measure named {name!r} (have: {', '.join(sorted(MEASURES))})")


def label(name: str) -> str:
    try:
        m = get(name)
    except KeyError:
        return name
    prefix = name.split(".", 1)[0] + ": " if name.startswith(("network.", "oversight.")) else ""
    return prefix + m.label


def fmt(name: str, value, digits: int = 3) -> str:
    """A value of the named measure as people read it: counts with separators, shares as %."""
    if value is None or pd.isna(value):
        return "n/a"
    try:
        kind = get(name).kind
    except KeyError:
        kind = "ratio"
    v = float(value)
    if kind == "share":
        return f"{v:.1%}"
    if kind == "uptime":
        return f"{v:.3%}"
    if kind == "hours":
        return f"{v:,.2f} h"
    if kind == "seconds":
        return f"{v:.{digits}f} s"
    if kind == "count":
        return f"{v:,.0f}" if abs(v) >= 100 or v == round(v) else f"{v:,.1f}"
    return f"{v:,.{digits}g}"


def fmt_difference(name: str, value) -> str:
    """A difference of the named measure with its sign; shares in percentage points."""
    if value is None or pd.isna(value):
        return "n/a"
    v = float(value)
    sign = "+" if v > 0 else "-" if v < 0 else ""
    try:
        share = get(name).kind == "share"
    except KeyError:
        share = False
    return sign + (f"{abs(v) * 100:.1f} pp" if share else fmt(name, abs(v)))


def catalogue_frame(tail_days: int | None = None) -> pd.DataFrame:
    """The registry as a table (written as ``measures.csv`` next to every run's tables)."""
    rows = [asdict(m) for m in MEASURES.values()]
    tail = "N" if tail_days is None else str(tail_days)
    for r in rows:
        r["window"] = r["window"].replace("{tail_days}", tail)
    return pd.DataFrame(rows)


def by_year_frame(yearly: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """The yearly table turned for reading: one row per measure (label, unit), one column per
    year, values formatted by `fmt` (the console and the report show this same table)."""
    names = [n for n in (names or OVERSIGHT_SUMMARY) if n in yearly]
    rows = []
    for n in names:
        m = get(n)
        row = {"measure": m.label, "unit": m.unit}
        row |= {str(int(yr)): fmt(n, v) for yr, v in zip(yearly["year"], yearly[n])}
        rows.append(row)
    return pd.DataFrame(rows)
