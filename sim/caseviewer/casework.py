"""What came of an incident for the case viewer: the investigations of its operators, what
reached the HDC 0010 form of the agency's reporting unit, and the DOJ audits and CLETS
Advisory Committee items about the agency."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.caseviewer.tables import RunTables, records
from sim.caseviewer.words import OUTCOME_WORDS, SOURCE_WORDS, as_int, year_start
from sim.formatting import count, day_to_date, identifier


class Casework:
    def __init__(self, t: RunTables):
        self.inv = t["investigations"]
        self.reports = t["reports"]
        self.audits = t["audits"]
        self.cac_items = t["cac_items"]
        self.agencies = t["agencies"]
        self.unit_of = (self.agencies["reporting_unit"].to_numpy()
                        if "reporting_unit" in self.agencies else None)
        comp = t["compliance"]
        self.report_years = ({int(y) for y in comp["report_year"]} if len(comp) else
                             {int(y) for y in self.reports["report_year"]} if len(self.reports) else set())

    def cases(self, iid: int, archetype: str, ops: list[int], first: int, alert_ids: set) -> list:
        """The investigations of the incident's operators opened from its first day that are
        linked to it (from one of its alerts, an audit, an internal-affairs inquiry, or about
        its kind of misuse)."""
        inv = self.inv
        if not len(inv) or not ops:
            return []
        c = inv[inv["operator"].isin(ops) & (inv["opened_day"] >= first)]
        linked = c["alert_id"].isin(alert_ids) | c["source"].isin(["internal_affairs", "audit"])
        if "archetype" in c:
            linked |= c["archetype"].astype(str) == archetype
        c = c[linked]
        out = []
        for r in records(c):
            closed = as_int(r.closed_day)
            if closed >= 0:
                found = ("misuse confirmed" if r.confirmed is True or r.confirmed == 1 else
                         "closed without a finding of misuse")
                dur = f"{count(closed - int(r.opened_day))} days"
            else:
                found, dur = "still open when the run ended", ""
            outcome = "" if pd.isna(r.outcome) else OUTCOME_WORDS.get(str(r.outcome), str(r.outcome))
            referral = "" if r.referral is None or pd.isna(r.referral) else str(r.referral)
            alert_id = as_int(r.alert_id)
            link = (f"opened from alert {alert_id} on this incident" if alert_id in alert_ids else
                    f"opened from {SOURCE_WORDS.get(str(r.source), str(r.source))}"
                    + (f" (alert {alert_id}, on another of the operator's queries)" if alert_id >= 0
                       else ""))
            out.append(dict(case_id=identifier(r.case_id), operator=identifier(r.operator),
                            source=SOURCE_WORDS.get(str(r.source), str(r.source)), link=link,
                            opened=day_to_date(r.opened_day), closed=day_to_date(closed) if closed >= 0 else "",
                            closed_day=closed, duration=dur, finding=found, outcome=outcome,
                            violations=count(r.violations), referral=referral))
        return out

    def form(self, agency: int, cases: list[dict], first: int) -> dict:
        """What reached the HDC 0010 form of the agency's reporting unit."""
        rep = self.reports
        if agency < 0 or self.unit_of is None:
            return dict(text="The agency is not in this run's agency table.", forms=[])
        unit = int(self.unit_of[agency])
        unit_name = str(self.agencies["name"].iat[unit])
        members = set(np.flatnonzero(self.unit_of == unit).tolist())
        years = sorted({int(c["closed"][:4]) for c in cases if c["closed"]}) or \
            [int(day_to_date(first)[:4])]
        forms, lines = [], []
        for y in years:
            f = rep[(rep["agency"] == unit) & (rep["report_year"] == y)] if len(rep) else rep
            inv = self.inv
            closed_here = (inv[inv["agency"].isin(members) & (inv["closed_day"] >= year_start(y))
                               & (inv["closed_day"] < year_start(y + 1))] if len(inv) else inv)
            if not len(f) and self.report_years and y not in self.report_years:
                lines.append(f"A case closed in {y}, after the run's last reporting year: its form "
                             "(due 1 February of the next year) is beyond this run.")
                continue
            if not len(f):
                lines.append(f"{unit_name} filed no HDC 0010 form for {y}: nothing about this "
                             "incident reached DOJ that way.")
                continue
            f = f.iloc[0]
            actions = ", ".join(f"{OUTCOME_WORDS.get(o, o)} {count(f[f'action_{o}'])}"
                                for o in ("counselling", "suspension", "reprimand", "resignation",
                                          "termination", "no_action") if f.get(f"action_{o}", 0))
            forms.append(dict(
                year=str(y), unit=unit_name, submitted=day_to_date(f["submitted_day"]),
                investigations=count(f["investigations"]), complaints=count(f["complaints"]),
                misuse_found=count(f["misuse_found"]), violations=count(f["violations"]),
                audit_findings=count(f.get("audit_findings", 0)), actions=actions or "none",
                referrals=count(f.get("criminal_referrals", 0)),
                closed_cases=count(len(closed_here))))
            n_listed, n_closed = int(f["investigations"]), len(closed_here)
            if cases and any(c["closed"][:4] == str(y) for c in cases if c["closed"]):
                if n_listed >= n_closed:
                    tail = (f"it lists all {count(n_closed)} cases the agency closed in {y}, this "
                            "incident's among them.")
                else:
                    tail = (f"it lists {count(n_listed)} of the {count(n_closed)} cases the agency "
                            f"closed in {y}: some were left out, perhaps this one.")
            else:
                tail = ("no case about this incident closed in that year, so the form does not "
                        "count it.")
            lines.append(f"{unit_name}'s form for {y} (received {day_to_date(f['submitted_day'])}): "
                         + tail)
        if not cases:
            lines.insert(0, "No investigation was opened, so nothing about this incident reached "
                            "the form.")
        return dict(text=" ".join(lines), forms=forms)

    def oversight(self, agency: int, first: int) -> list[str]:
        """DOJ audits of the agency and CAC items about it, from the incident on."""
        out = []
        au = self.audits
        if len(au) and agency >= 0:
            for a in records(au[(au["agency"] == agency) & (au["day"] >= first)]):
                out.append(f"DOJ {a.kind} audit on {day_to_date(a.day)}: {count(a.sampled)} logged "
                           f"queries sampled, {count(a.misuse_sampled)} of them misuse, "
                           f"{count(a.unjustified)} could not be justified"
                           + ("; an agency-level finding" if bool(a.finding) else "") + ".")
        items = self.cac_items
        if len(items) and agency >= 0 and self.unit_of is not None:
            unit = int(self.unit_of[agency])
            mine = items[items["agency"].isin([agency, unit]) & (items["referred_day"] >= first)]
            for it in records(mine):
                action = "" if pd.isna(it.action) else f"; {it.action}"
                out.append(f"Referred to the CLETS Advisory Committee on {day_to_date(it.referred_day)} "
                           f"({str(it.kind).replace('_', ' ')}: {it.detail}); discussed "
                           f"{count(it.discussed)} time(s){action}.")
        return out
