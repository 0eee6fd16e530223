"""The run's alerts for the case viewer: looked up by query id and by operator, and each in
words (what fired and why on this row, the wait in the review queue, the case it opened)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.caseviewer.tables import RunTables, records
from sim.caseviewer.words import KIND_LABELS, WEEKDAYS, Policies, as_int, code_words, hhmm
from sim.config.oversight import RULES
from sim.detection import RULE_BIT
from sim.formatting import count, day_to_date, identifier


class Alerts:
    def __init__(self, t: RunTables, policies: Policies):
        self.policies = policies
        alerts = t["alerts"]
        if len(alerts) and "reviewed_day" not in alerts:
            alerts = alerts.assign(reviewed_day=pd.NA)
        self.alerts = alerts
        self.inv = t["investigations"]
        self.complaints = t["complaints"]
        self.agencies = t["agencies"]
        # alerts by query id, sorted (a statewide run has millions: looked up by binary search)
        has_q = alerts["query_id"].notna().to_numpy() if len(alerts) else np.zeros(0, bool)
        aq = alerts["query_id"].to_numpy(dtype=np.float64, na_value=np.nan)[has_q].astype(np.int64) \
            if len(alerts) else np.zeros(0, np.int64)
        order = np.argsort(aq, kind="stable")
        self.aq_sorted, self.aq_rows = aq[order], np.flatnonzero(has_q)[order]
        self.op_alerts = alerts[~has_q] if len(alerts) else alerts
        # the first investigation opened from each alert
        self.case_row: dict[int, int] = {}
        if len(self.inv):
            for row, a in enumerate(self.inv["alert_id"].tolist()):
                if a is not None and not pd.isna(a):
                    self.case_row.setdefault(int(a), row)

    # ------------------------------------------------------------------ looking up
    def flagged(self, qids) -> np.ndarray:
        """Which of these query ids carry an alert (of any kind)."""
        q = np.asarray(qids, dtype=np.int64)
        if not len(self.aq_sorted):
            return np.zeros(len(q), dtype=bool)
        pos = np.minimum(np.searchsorted(self.aq_sorted, q), len(self.aq_sorted) - 1)
        return self.aq_sorted[pos] == q

    def on_queries(self, qids) -> dict[int, pd.DataFrame]:
        """The alerts on each of these query ids (only the ids that have some)."""
        q = np.unique(np.asarray(qids, dtype=np.int64))
        lo = np.searchsorted(self.aq_sorted, q, side="left")
        hi = np.searchsorted(self.aq_sorted, q, side="right")
        have = hi > lo
        if not have.any():
            return {}
        idx = np.concatenate([self.aq_rows[a:b] for a, b in zip(lo[have], hi[have])])
        sub = self.alerts.iloc[idx]
        return {int(k): g for k, g in sub.groupby(sub["query_id"].astype(np.int64))}

    def of_operators(self, ops: list[int], first: int, last: int):
        """Operator-level alerts (anomaly, volume spike) on these operators, from `first` to a
        month after `last`."""
        a = self.op_alerts
        if not len(a) or not ops:
            return []
        sel = a[a["operator"].isin(ops) & (a["day"] >= first) & (a["day"] <= last + 31)]
        return records(sel)

    # ------------------------------------------------------------------ in words
    def describe(self, al, row_index, reasons: list[str]) -> dict:
        """The alert as the page shows it: what fired, its wait in the review queue, and what
        came of it (`row_index`: the incident row it is on, None for operator-level alerts)."""
        kind = str(al.kind)
        rules = [r for r in RULES if int(al.rules) & RULE_BIT[r]] if kind == "rule" else []
        raised = int(al.day)
        reviewed = as_int(getattr(al, "reviewed_day", None))
        status = str(al.status)
        if status == "reviewed" and reviewed >= 0:
            wait = reviewed - raised
            queue = (f"waited {count(wait)} day{'s' if wait != 1 else ''} in the review queue "
                     f"(raised {day_to_date(raised)}, reviewed {day_to_date(reviewed)})")
        elif status == "reviewed":
            wait, queue = None, f"raised {day_to_date(raised)}, reviewed"
        elif status == "dropped":
            wait, queue = None, (f"raised {day_to_date(raised)}; dropped unreviewed: the review "
                                 "queue overflowed")
        else:
            wait, queue = None, (f"raised {day_to_date(raised)}; still waiting for review when the "
                                 "run ended")
        case = self.case_of(int(al.alert_id))
        if case is not None:
            after = f"opened case {identifier(case['case_id'])}"
        elif status == "reviewed":
            after = self._why_no_case(al, reviewed)
        else:
            after = ""
        names = [r.replace("_", " ") for r in rules] or [KIND_LABELS.get(kind, kind)]
        said = self.policies.sentences
        return dict(id=int(al.alert_id), kind=kind, kind_label=KIND_LABELS.get(kind, kind),
                    rules=rules, title=", ".join(names), row=row_index, reasons=reasons,
                    rule_text=[said[r] for r in rules] or [said.get(kind, "")],
                    raised=day_to_date(raised), raised_day=raised,
                    reviewed=day_to_date(reviewed) if reviewed >= 0 else "",
                    wait_days=wait, status=status, queue=queue, after=after,
                    case=identifier(case["case_id"]) if case is not None else "")

    def case_of(self, alert_id: int):
        """The investigation opened from this alert (its first), or None."""
        row = self.case_row.get(alert_id)
        return None if row is None else self.inv.iloc[row]

    def _why_no_case(self, al, reviewed: int) -> str:
        inv, op = self.inv, int(al.operator)
        if len(self.agencies) and "dhs" in self.agencies and bool(self.agencies["dhs"].iat[int(al.agency)]):
            return "reviewed; no case: DHS components open no investigations"
        if len(inv):
            open_ = inv[(inv["operator"] == op) & (inv["opened_day"] <= reviewed)
                        & ~(inv["closed_day"].fillna(np.inf) < reviewed)]
            if len(open_):
                return (f"reviewed; no new case: the operator already had case "
                        f"{identifier(open_['case_id'].iloc[0])} open")
        return "reviewed; the reviewer opened no case"

    def reasons(self, al, row, oi, si, agency_county: str, ts) -> list[str]:
        """Why this alert fired on this row, in words (one sentence per rule)."""
        kind = str(al.kind)
        who = si.name if si is not None else "the person looked up"
        if kind == "random_audit":
            return [f"sampled at random for review ({self.policies.random_rate:.2%} of all operator queries)"
                    if self.policies.random_rate else "sampled at random for review"]
        if kind == "complaint":
            c = self.complaints
            c = c[c["query_id"] == int(al.query_id)] if len(c) and row is not None else c.iloc[:0]
            if len(c):
                c = c.iloc[0]
                return [f"{who} complained about this lookup (looked up {day_to_date(c['lookup_day'])}, "
                        f"complaint received {day_to_date(c['arrival_day'])})"]
            return [f"{who} complained about this lookup"]
        if kind == "anomaly":
            return [f"the operator's month scored {float(al.score):.1f} on the anomaly score: their "
                    "shares of off-shift, no-case, out-of-county, media-figure, same-surname and "
                    "repeated lookups are far from their peers'"]
        out = []
        rules = [r for r in RULES if int(al.rules) & RULE_BIT[r]]
        rc = self.policies.rules
        for rule in rules:
            if rule == "surname_or_address":
                if oi is not None and si is not None and si.surname == oi.surname:
                    out.append(f"{who} shares the operator's surname ({si.surname})")
                elif oi is not None and si is not None and si.address == oi.address:
                    out.append(f"{who} lives at the operator's address ({si.address})")
                else:
                    out.append(f"{who} shares the operator's surname or address")
            elif rule == "known_relation":
                rel = si.relation if si is not None and si.relation not in ("", "stranger") else "relation"
                out.append(f"{who} is the operator's {rel}, on the agency's file")
            elif rule == "high_profile":
                out.append(f"{who} is a media figure (on the state's list)")
            elif rule == "achs_without_case":
                out.append(f"criminal-history lookup ({row.key}) with no case or call number")
            elif rule == "achs_noncriminal_purpose":
                out.append(f"criminal-history lookup ({row.key}) stating the purpose "
                           f"'{code_words(row.purpose)}': not a criminal-justice purpose")
            elif rule == "out_of_county_no_case":
                where = f"in {si.county} County" if si is not None else "elsewhere"
                out.append(f"{who} lives {where}, outside the agency's county ({agency_county}), "
                           "and no case number was entered")
            elif rule == "off_shift" and ts is not None:
                shift = (f" ({int(oi.shift_start):02d}:00-{int(oi.shift_end):02d}:00, {oi.workdays})"
                         if oi is not None else "")
                out.append(f"at {hhmm(ts)} on a {WEEKDAYS[ts.weekday()]}, outside the operator's "
                           f"shift{shift}")
            elif rule == "lapsed_certification":
                lapses = str(getattr(oi, "lapses", "")) if oi is not None else ""
                out.append("the operator was not certified: " + (lapses or "a lapse in training, "
                                                                  "test or statement"))
            elif rule == "volume_spike":
                out.append(f"the operator's queries that day were {float(al.score):.1f} times their "
                           "running average")
            elif rule == "repeated_subject":
                out.append(f"this operator's lookups of {who} reached {rc.get('repeat_count', 3)} "
                           f"within {rc.get('repeat_window_days', 30)} days, none with a case number")
            else:
                out.append(self.policies.sentences.get(rule, rule))
        return out
