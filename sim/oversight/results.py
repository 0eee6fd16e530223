"""What an oversight run hands back: dated event tables and a per-year summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.catalogue import ARCHETYPES, CATEGORY_NAMES
from sim.config import Scenario
from sim.config.oversight import SANCTION_STEPS
from sim.detection import ALERT_KINDS
from sim.world import day_number

ALERT_STATUS = ("pending", "reviewed", "dropped")  # dropped is set last: it wins


def _status_column(codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The alerts' status strings from codes into ALERT_STATUS, as pandas' default string
    dtype (what assigning a string gives), built by Arrow: 10 million rows in 0.2 s, not 2 s."""
    names = pa.array(ALERT_STATUS, pa.large_string())
    col = pa.DictionaryArray.from_arrays(pa.array(codes), names).cast(pa.large_string())
    return col.to_pandas(types_mapper={pa.large_string(): pd.StringDtype(na_value=np.nan)}.get).array


@dataclass
class OversightResult:
    scenario: Scenario
    seed: int
    first_day: int
    days: int
    alerts: pd.DataFrame
    complaints: pd.DataFrame
    investigations: pd.DataFrame
    discipline: pd.DataFrame
    reports: pd.DataFrame
    follow_ups: pd.DataFrame
    compliance: pd.DataFrame
    public_list: pd.DataFrame
    audits: pd.DataFrame
    cac_meetings: pd.DataFrame
    sanctions: pd.DataFrame
    truth: pd.DataFrame
    misuse_journal: pd.DataFrame  # the journal rows of the misuse queries (for case books)
    incidents: pd.DataFrame
    agencies: pd.DataFrame
    yearly: pd.DataFrame
    cac_items: pd.DataFrame = field(default_factory=pd.DataFrame)
    filing_decisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    behaviour_events: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: dict = field(default_factory=dict)
    tail_days: int = 0  # paperwork-only days simulated after the last reported year
    # the trainer's case viewer (sim.caseviewer.record): answer-key side, never read by detection
    incident_journal: pd.DataFrame = field(default_factory=pd.DataFrame)
    incident_people: pd.DataFrame = field(default_factory=pd.DataFrame)
    shadow_rules: pd.DataFrame = field(default_factory=pd.DataFrame)
    shadow_hits: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def reported_days(self) -> tuple[int, int]:
        """[first, end) day numbers of the reported years (warm-up and tail excluded)."""
        start = self.scenario.journal.start_date.year
        return day_number(date(start, 1, 1)), day_number(date(start + self.scenario.oversight.years, 1, 1))

    def in_reported_years(self, df: pd.DataFrame, col: str = "day") -> pd.DataFrame:
        return _in_days(df, col, *self.reported_days)


def build_result(m) -> OversightResult:
    """Collect the processes' records into tables (agency names joined where useful)."""
    w = m.world
    names = w.agencies[["name", "ori", "agency_type", "county", "dhs"]].reset_index(drop=True)

    def with_agency(rows: list[dict], cols=None) -> pd.DataFrame:
        df = pd.DataFrame(rows, columns=cols)
        if "agency" in df and len(df):
            df = df.join(names.rename(columns={"name": "agency_name", "ori": "agency_ori"}), on="agency")
        return df

    # a shallow copy: the columns added here are the result's only (copy-on-write), and the
    # model's table (~10 million alerts in a statewide year) is not duplicated
    alerts = m.alert_table().copy(deep=False)
    status = np.zeros(len(alerts), dtype=np.int8)  # index into ALERT_STATUS
    reviewed_day = np.full(len(alerts), -1, dtype=np.int64)  # the wait = reviewed_day - day
    if m.cases.reviewed:
        ids, days = np.array(m.cases.reviewed, dtype=np.int64).reshape(-1, 2).T
        status[ids] = 1
        reviewed_day[ids] = days
    if m.cases.dropped:
        status[np.concatenate(m.cases.dropped)] = 2
    alerts["status"] = _status_column(status)
    del status
    alerts["reviewed_day"] = pd.arrays.IntegerArray(reviewed_day, reviewed_day < 0)
    led = m.ledger
    truth = (pd.concat(led.truth_parts, ignore_index=True) if led.truth_parts else
             pd.DataFrame(columns=["query_id", "category", "archetype", "incident_id", "day"]))
    truth["category"] = pd.Categorical.from_codes(truth["category"].astype(int), CATEGORY_NAMES)
    truth["archetype"] = pd.Categorical.from_codes(truth["archetype"].astype(int), ARCHETYPES)
    level = m.cac.level
    result = OversightResult(
        scenario=m.scenario, seed=m.streams.root_seed, first_day=m.clock.first_day,
        days=m.n_days, tail_days=m.tail_days, alerts=alerts,
        complaints=pd.DataFrame(m.complaints.rows),
        investigations=with_agency(m.cases.cases), discipline=with_agency(m.cases.discipline),
        reports=with_agency(m.reporting.reports), follow_ups=pd.DataFrame(m.reporting.follow_ups),
        compliance=pd.DataFrame(m.reporting.compliance),
        public_list=with_agency(m.reporting.public_list, ["report_year", "agency", "listed_day"]),
        audits=with_agency(m.audits.rows), cac_meetings=pd.DataFrame(m.cac.meetings),
        sanctions=with_agency(m.cac.sanctions, ["day", "agency", "step", "reason", "item_id",
                                                "conduct_year"]),
        truth=truth, incidents=_realised(m.gen.misuse.incidents, truth),
        misuse_journal=(pa.concat_tables(led.misuse_journal_parts).to_pandas()
                        if led.misuse_journal_parts else pd.DataFrame()),
        agencies=names.assign(level=[(["none", *SANCTION_STEPS])[v] for v in level],
                              removed=m.removed, active_at_end=m.lawful.agency_active.copy(),
                              reporting_unit=m.reporting.unit_of),
        yearly=pd.DataFrame(),
        cac_items=with_agency(m.cac.items, ["item_id", "agency", "kind", "referred_day", "report_year",
                                            "conduct_year", "detail", "discussed", "status", "closed_day", "action"]),
        filing_decisions=pd.DataFrame(m.reporting.decisions),
        behaviour_events=pd.DataFrame(m.behaviour.events, columns=["day", "agency", "operator", "kind"]),
    )
    result.yearly = yearly_summary(result, m.volume_by_year, m.potential_by_year, m.audits.spent)
    for name, df in m.case_records.tables(result.incidents, truth, result.misuse_journal).items():
        setattr(result, name, df)
    return result


def _realised(incidents: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Incidents with `n_queries` = the lookups that happened (deterrence thins them) and
    `n_potential` = the lookups drawn before oversight acted."""
    if not len(incidents):
        return incidents.assign(n_potential=pd.Series(dtype=np.int64))
    done = truth["incident_id"].astype(np.int64).value_counts()
    out = incidents.assign(n_potential=incidents["n_queries"])
    out["n_queries"] = out["incident_id"].map(done).fillna(0).astype(np.int64)
    return out


def _in_days(df: pd.DataFrame, col: str, lo: int, hi: int) -> pd.DataFrame:
    """Rows whose day column (days since 1970) falls in [lo, hi)."""
    if not len(df):
        return df
    d = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
    return df[(d >= lo) & (d < hi)]


def _count_in(values: pd.Series, sorted_ids: np.ndarray) -> int:
    """How many of values (integer ids) are in sorted_ids (sorted)."""
    v = values.to_numpy(dtype=np.int64)
    i = np.searchsorted(sorted_ids, v)
    return int((sorted_ids[np.minimum(i, len(sorted_ids) - 1)] == v).sum()) if len(sorted_ids) else 0


def _in_year(df: pd.DataFrame, col: str, y: int) -> pd.DataFrame:
    """Rows whose day column falls in calendar year y."""
    return _in_days(df, col, day_number(date(y, 1, 1)), day_number(date(y + 1, 1, 1)))


def yearly_summary(r: OversightResult, volume: dict, potential: dict, auditor_days: dict) -> pd.DataFrame:
    """Per reported calendar year: truth, alerts, cases, audits, forms, compliance, CAC actions."""
    start = r.scenario.journal.start_date.year
    rows = []
    # the flagged query ids, sorted (a Python set of ~10 million ints took ~0.8 GB; np.unique's
    # hash table ~20 s): duplicates are kept, _count_in only asks whether an id is there
    flagged = (np.sort(r.alerts["query_id"].dropna().to_numpy(dtype=np.int64)) if len(r.alerts)
               else np.zeros(0, dtype=np.int64))
    alerts = r.alerts[["day", "status", "kind"]] if len(r.alerts) else r.alerts  # what is counted
    for y in range(start, start + r.scenario.oversight.years):
        t = _in_year(r.truth, "day", y)
        a = _in_year(alerts, "day", y)
        closed = _in_year(r.investigations, "closed_day", y)
        disc = _in_year(r.discipline, "day", y)
        au = _in_year(r.audits, "day", y)
        rep = r.reports[r.reports["report_year"] == y] if len(r.reports) else r.reports
        comp = r.compliance[r.compliance["report_year"] == y] if len(r.compliance) else r.compliance
        s = r.sanctions[r.sanctions["conduct_year"] == y] if len(r.sanctions) else r.sanctions
        items = r.cac_items[r.cac_items["conduct_year"] == y] if len(r.cac_items) else r.cac_items
        vol = volume.get(y, {})
        row = dict(
            year=y,
            operator_queries=vol.get("operator", 0),
            automated_checks=vol.get("automated", 0),
            potential_misuse_rows=potential.get(y, 0),
            true_misuse_rows=len(t),
            true_misuse_incidents=int(t["incident_id"].nunique()) if len(t) else 0,
            misuse_rows_flagged=_count_in(t["query_id"], flagged) if len(t) else 0,
            alerts=len(a),
            alerts_reviewed=int((a["status"] == "reviewed").sum()) if len(a) else 0,
            alerts_dropped=int((a["status"] == "dropped").sum()) if len(a) else 0,
            complaints=len(_in_year(r.complaints, "arrival_day", y)),
            investigations_closed=len(closed),
            investigations_confirmed=int(closed["confirmed"].sum()) if len(closed) else 0,
            dismissed=int(disc["outcome"].isin(["resignation", "termination"]).sum()) if len(disc) else 0,
            criminal_referrals=int(disc["referral"].notna().sum()) if len(disc) else 0,
            audits=len(au),
            auditor_days=round(float(auditor_days.get(y, 0.0)), 2),
            audit_unjustified=int(au["unjustified"].sum()) if len(au) else 0,
            reports_received=len(rep),
            reported_investigations=int(rep["investigations"].sum()) if len(rep) else 0,
            reported_complaints=int(rep["complaints"].sum()) if len(rep) else 0,
            reported_misuse_found=int(rep["misuse_found"].sum()) if len(rep) else 0,
            reported_dismissed=int(rep[["action_resignation", "action_termination"]].sum().sum())
            if len(rep) else 0,
            reported_share=float(comp["reported_share"].iloc[0]) if len(comp) else float("nan"),
            cac_items=len(items),
            sanctions=int(s["step"].isin(SANCTION_STEPS).sum()) if len(s) else 0,
        )
        for kind in ALERT_KINDS:
            row[f"alerts_{kind}"] = int((a["kind"] == kind).sum()) if len(a) else 0
        rows.append(row)
    return pd.DataFrame(rows)
