"""The case viewer's content, built from a finished oversight run's directory alone.

`build_cases(run)` returns plain data (dicts, lists, strings and numbers, ready for JSON):
per incident, its operators and victims by name, every journal row of the operators on the
incident's days (flagged rows marked, misuse rows marked apart: the answer key), the
alerts with the rule that fired and why in words, their wait in the review queue, the
investigation and its outcome, what reached the agency's HDC 0010 form, and, for rows no
alert flagged, which rule would have caught them and at what cost in alerts (the run's
shadow detection). Every value is shown through `sim.formatting`: dates, counts, case
numbers as strings. The report's case book reuses it.

This module assembles each incident; its parts each have a module: `tables` (reading the
run), `words` (labels, policies in words, values as text), `rows` (the journal rows an
incident shows), `alerts`, `people`, `casework` (investigations, forms, audits) and
`counterfactual` (the rules not enabled). It is answer-key side: it reads truth, incidents
and the world's people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.caseviewer.alerts import Alerts
from sim.caseviewer.casework import Casework
from sim.caseviewer.counterfactual import Counterfactual
from sim.caseviewer.people import People, headline, operator_card, victim_cards
from sim.caseviewer.rows import MAX_ROWS, JournalRows
from sim.caseviewer.tables import ByIncident, RunTables, records
from sim.caseviewer.words import (
    ARCHETYPE_LABELS,
    CATEGORY_TEXT,
    KEY_TEXT,
    WEEKDAYS,
    Policies,
    as_int,
    code_words,
    hhmm,
    rule_sentences,
    terminal_words,
)
from sim.config.oversight import RULES
from sim.errors import ScenarioError
from sim.formatting import count, day_to_date, identifier

__all__ = ["MAX_INCIDENTS", "MAX_ROWS", "CaseBuilder", "RunTables", "build_cases", "rule_sentences"]

MAX_INCIDENTS = 60  # a statewide run has thousands: a sample per kind of misuse is shown


def build_cases(run, max_incidents: int = MAX_INCIDENTS) -> dict:
    """Everything the case viewer shows, for an oversight run (a directory or loaded run)."""
    t = run if isinstance(run, RunTables) else RunTables(run)
    if t.kind != "oversight_run":
        where = getattr(t.run, "directory", run)
        if t.kind == "sweep":
            raise ScenarioError(f"{where}: a sweep or replicated run; the case viewer shows one "
                                "oversight run: pass one of the folders under its runs/")
        raise ScenarioError(f"{where}: a {t.kind or 'unknown'} run has no incidents (the case "
                            "viewer needs an oversight run, model: oversight)")
    return CaseBuilder(t).build(max_incidents)


class CaseBuilder:
    def __init__(self, t: RunTables):
        self.t = t
        scen = t.scenario
        self.scen = scen
        self.policies = Policies.of(scen)
        o = scen.get("oversight") or {}
        self.incidents = t["incidents"]
        truth = t["truth"]
        self.truth = truth.assign(query_id=truth["query_id"].astype(np.int64)) if len(truth) else truth
        self.truth_of = ByIncident(self.truth)
        self.truth_incident = (dict(zip(self.truth["query_id"].tolist(),
                                        self.truth["incident_id"].astype(np.int64).tolist()))
                               if len(self.truth) else {})
        self.agencies = t["agencies"]
        self.ori_agency = ({o_: i for i, o_ in enumerate(self.agencies["ori"])}
                           if len(self.agencies) else {})
        self.alerts = Alerts(t, self.policies)
        self.journal = JournalRows(t, self.truth, self.alerts.flagged)
        self.people = People(t)
        self.casework = Casework(t)
        self.counterfactual = Counterfactual(t, self.policies)
        j = scen.get("journal") or {}
        self.start = j.get("start_date", "")
        self.days = o.get("days")
        self.years = o.get("years", 1)
        self.first_day = t.manifest.get("first_day")

    # ------------------------------------------------------------------ the whole page
    def build(self, max_incidents: int) -> dict:
        inc = self.incidents
        if len(inc):
            inc = inc[inc["n_queries"] > 0] if "n_queries" in inc else inc
        chosen, note = self._choose(inc, max_incidents)
        cases = [self.incident(row) for row in chosen.itertuples(index=False)]
        counts = {s: sum(c["status"] == s for c in cases)
                  for s in ("investigated", "flagged by an alert", "missed")}
        return dict(
            run=self._run_info(len(inc), len(cases), note, counts),
            rules={k: v for k, v in self.policies.sentences.items()},
            incidents=cases,
        )

    def _choose(self, inc: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, str]:
        if len(inc) <= limit:
            return inc.sort_values("incident_id"), ""
        t = self.truth
        hit = t[self.alerts.flagged(t["query_id"])]["incident_id"].astype(np.int64).unique()
        per = max(1, limit // (2 * max(inc["archetype"].nunique(), 1)))
        picks = []
        for _, g in inc.sort_values("incident_id").groupby("archetype", sort=False):
            f = g[g["incident_id"].isin(hit)]
            m = g[~g["incident_id"].isin(hit)]
            picks += [f.head(per), m.head(per)]
        chosen = pd.concat(picks).sort_values("incident_id")
        note = (f"showing {count(len(chosen))} of {count(len(inc))} incidents: up to {per} "
                f"flagged and {per} missed per kind of misuse")
        return chosen, note

    def _run_info(self, total: int, shown: int, note: str, counts: dict) -> dict:
        m, scen = self.t.manifest, self.scen
        period = (f"{self.days} days from {self.start}" if self.days
                  else f"{self.years} year(s) from {self.start}")
        counties = (scen.get("topology") or {}).get("counties") or ["all 58 counties"]
        misuse_ag = (scen.get("misuse") or {}).get("agencies") or []
        notes = [note] if note else []
        if not self.journal.has_context:
            notes.append("This run kept only the misuse rows of the journal: the operators' lawful "
                         "rows around each incident are not shown (rerun with a current version).")
        if not len(self.counterfactual.shadow_rules) and self.policies.enabled != list(RULES):
            notes.append("This run did not record shadow detection, so the viewer cannot say which "
                         "other rule would have caught a missed incident (set "
                         "outputs.case_viewer: true in the scenario).")
        return dict(
            scenario=m.get("scenario_name", scen.get("name", "")),
            description=scen.get("description", ""), seed=identifier(m.get("seed", "")),
            period=period, counties=", ".join(counties), agencies=", ".join(misuse_ag),
            enabled=[dict(rule=r, text=self.policies.sentences[r]) for r in self.policies.enabled],
            random_audit=self.policies.sentences["random_audit"] if self.policies.random_rate else "",
            incidents_total=count(total), incidents_shown=count(shown), counts=counts,
            notes=notes, written=m.get("written_at", ""),
        )

    # ------------------------------------------------------------------ one incident
    def incident(self, info) -> dict:
        iid = int(info.incident_id)
        archetype = str(info.archetype)
        mine_t = self.truth_of.of(iid)
        mrows = self.journal.misuse_rows(iid)
        rows, n_rows_total, rows_note = self.journal.rows(mrows)
        other_inc = self.truth_incident
        alerts_by_q = self.alerts.on_queries(rows["query_id"])
        op_rows, sub_rows, op_info, sub_info = self.people.of(iid)
        agency = self.ori_agency.get(str(info.agency_ori), -1)
        agency_name = (str(self.agencies["name"].iat[agency]) if agency >= 0 else str(info.agency_ori))
        agency_county = (str(self.agencies["county"].iat[agency]) if agency >= 0 else "")
        first_day = int(mine_t["day"].min()) if len(mine_t) else int(info.start_day)
        last_day = int(mine_t["day"].max()) if len(mine_t) else int(info.end_day)
        row_ops = sorted({int(o) for o in mrows["operator"].dropna()})

        # rows, with alerts and reasons
        out_rows, alerts_out, alert_ids_seen = [], [], set()
        for i, r in enumerate(records(rows)):
            q = int(r.query_id)
            ts = pd.Timestamp(r.time)
            day = int((ts - pd.Timestamp("1970-01-01")).days)
            op = as_int(r.operator)
            subj = as_int(r.subject)
            si = sub_info.get(subj)
            oi = op_info.get(op)
            a = alerts_by_q.get(q)
            reasons = []
            ids = []
            if a is not None:
                for al in records(a):
                    rs = self.alerts.reasons(al, r, oi, si, agency_county, ts)
                    reasons += rs
                    ids.append(int(al.alert_id))
                    if int(al.alert_id) not in alert_ids_seen:
                        alert_ids_seen.add(int(al.alert_id))
                        alerts_out.append(self.alerts.describe(al, i, rs))
            inc_of = other_inc.get(q)
            out_rows.append(dict(
                q=identifier(q), date=day_to_date(day), time=hhmm(ts),
                weekday=WEEKDAYS[ts.weekday()][:3],
                op=(oi.name if oi is not None else f"operator {op}") if op >= 0 else "automated",
                uid=(oi.user_id if oi is not None else ""), terminal=terminal_words(r.terminal, info.agency_ori),
                terminal_id=str(r.terminal),
                key=str(r.key), key_text=KEY_TEXT.get(str(r.key), ""), purpose=code_words(r.purpose),
                case=identifier(r.case_number), rtk="" if pd.isna(r.right_to_know) else str(r.right_to_know),
                subject=(si.name if si is not None else f"person {subj}"), sid=identifier(subj),
                relation=(si.relation if si is not None else ""),
                flagged=bool(ids), alerts=ids, reasons=reasons,
                misuse=inc_of == iid, other_incident=identifier(inc_of) if inc_of is not None
                and inc_of != iid else "",
                shadow=self.counterfactual.shadow(q),
            ))
        # operator-level alerts (anomaly, volume spike) on the incident's operators and days
        for al in self.alerts.of_operators(row_ops, first_day, last_day):
            if int(al.alert_id) in alert_ids_seen:
                continue
            alert_ids_seen.add(int(al.alert_id))
            why = self.alerts.reasons(al, None, op_info.get(int(al.operator)), None, agency_county, None)
            alerts_out.append(self.alerts.describe(al, None, why))
        alerts_out.sort(key=lambda x: (x["raised_day"], x["id"]))

        flagged_misuse = [r for r in out_rows if r["misuse"] and r["flagged"]]
        cases = self.casework.cases(iid, archetype, row_ops, first_day, {a["id"] for a in alerts_out})
        detection = "flagged by an alert" if flagged_misuse else "missed"
        status = "investigated" if cases else detection
        operators = [operator_card(r) for r in op_rows] if op_rows else [
            dict(id=identifier(o), name=f"operator {o}", part="operator", role="", status="",
                 training=[], shift="", agency=agency_name) for o in row_ops]
        victims = victim_cards(sub_rows, out_rows)
        n_mis = sum(r["misuse"] for r in out_rows)
        label, story = ARCHETYPE_LABELS.get(archetype, (archetype.replace("_", " ").capitalize(), ""))
        return dict(
            id=identifier(iid), archetype=archetype, label=label, story=story,
            category=str(info.category), category_text=self._category_text(str(info.category), mine_t),
            agency=agency_name, ori=str(info.agency_ori), county=agency_county,
            first=day_to_date(first_day), last=day_to_date(last_day),
            n_misuse=n_mis, n_rows=len(out_rows), n_rows_total=int(n_rows_total),
            n_flagged=sum(r["flagged"] for r in out_rows), n_flagged_misuse=len(flagged_misuse),
            detection=detection, status=status,
            headline=headline(label, operators, victims, n_mis, first_day, last_day),
            operators=operators, victims=victims, rows=out_rows, alerts=alerts_out,
            cases=cases, form=self.casework.form(agency, cases, first_day),
            missed=self.counterfactual.missed(out_rows, row_ops, first_day, last_day, detection == "missed"),
            oversight=self.casework.oversight(agency, first_day),
            rows_note=rows_note,
        )

    def _category_text(self, category: str, truth: pd.DataFrame) -> str:
        """The category's description; for a mixed incident, those of its rows."""
        if category in CATEGORY_TEXT:
            return CATEGORY_TEXT[category]
        cats = pd.unique(truth["category"].astype(str)) if len(truth) else []
        return "; ".join(CATEGORY_TEXT.get(c, c) for c in cats) or "several kinds"
