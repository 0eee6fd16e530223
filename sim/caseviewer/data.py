"""The case viewer's content, built from a finished oversight run's directory alone.

`build_cases(run)` returns plain data (dicts, lists, strings and numbers, ready for JSON):
per incident, its operators and victims by name, every journal row of the operators on the
incident's days (flagged rows marked, misuse rows marked apart: the answer key), the
alerts with the rule that fired and why in words, their wait in the review queue, the
investigation and its outcome, what reached the agency's HDC 0010 form, and, for rows no
alert flagged, which rule would have caught them and at what cost in alerts (the run's
shadow detection). Every value is shown through `sim.formatting`: dates, counts, case
numbers as strings. The report's case book reuses it.

This module is answer-key side: it reads truth, incidents and the world's people.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.catalogue import MESSAGE_KEYS, MISUSE_CATEGORIES
from sim.config.oversight import RULES
from sim.detection import RULE_BIT
from sim.errors import ScenarioError
from sim.formatting import count, day_to_date, identifier

MAX_INCIDENTS = 60  # a statewide run has thousands: a sample per kind of misuse is shown
MAX_ROWS = 1500  # journal rows kept per incident (flagged and misuse rows first)

ARCHETYPE_LABELS = {
    "occasional": ("Occasional lookup", "Many users make a few questionable lookups each "
                   "(Minnesota Legislative Auditor, 2013): self, family, friends, neighbours."),
    "lone_snooper": ("Lone snooper", "One man looks up women he finds attractive, over weeks, "
                     "often off shift (Glendale)."),
    "misunderstood_rule": ("Misunderstood rule", "A unit runs concealed-carry (CCW) applicants "
                           "through criminal history, believing it is allowed (Chula Vista)."),
    "mass_rule": ("Mass rule misuse", "A sheriff's office runs CCW applicants through criminal "
                  "history as routine: the misunderstood rule at scale (2023)."),
    "serious_case": ("Serious case", "An officer charged with stalking an ex-partner; the "
                     "internal-affairs inquiry finds an unrelated CLETS lookup (Carlsbad)."),
    "agency_purpose": ("Agency purpose misuse", "A federal immigration component runs DMV "
                       "lookups for immigration enforcement, banned since February 2019 (DHS/ICE)."),
    "credential_sharing": ("Credential sharing", "An operator lends a login: the rows carry the "
                           "owner's id, but another person's shift and terminal."),
    "curiosity_burst": ("Curiosity burst", "News about a media figure; several operators look "
                        "them up within days."),
    "data_for_hire": ("Data for hire", "An operator sells people's addresses to a third party "
                      "(personal gain)."),
}
CATEGORY_TEXT = {c.name: c.description for c in MISUSE_CATEGORIES}
KEY_TEXT = {k.key: k.description for k in MESSAGE_KEYS}
KIND_LABELS = {"rule": "rule", "random_audit": "random audit", "anomaly": "anomaly score",
               "complaint": "complaint"}
OUTCOME_WORDS = {"counselling": "counselling", "suspension": "suspension", "reprimand": "reprimand",
                 "resignation": "resigned", "termination": "terminated", "no_action": "no action taken",
                 "no_misuse": "no misuse found"}
SOURCE_WORDS = {"rule": "a rule alert", "random_audit": "a random-audit alert",
                "anomaly": "an anomaly-score alert", "complaint": "a complaint",
                "audit": "a DOJ audit finding", "internal_affairs": "an internal-affairs inquiry "
                "opened for a reason outside CLETS"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rule_sentences(scenario: dict) -> dict[str, str]:
    """Each policy in one sentence a trainer can read out (with this run's settings)."""
    det = (scenario.get("oversight") or {}).get("detection") or {}
    r = det.get("rules") or {}
    rate = det.get("random_audit_rate", 0) or 0
    an = det.get("anomaly") or {}
    return {
        "surname_or_address": "fires when the person looked up shares the operator's surname or "
                              "home address: a relative, a partner, a housemate.",
        "known_relation": "fires when the person looked up is on the agency's file as the "
                          "operator's household member or relative (agencies know only some).",
        "high_profile": "fires when the person looked up is on the state's list of media figures.",
        "achs_without_case": "fires on a criminal-history lookup (ACHS: QH, QR) with no case or "
                             "call number entered.",
        "achs_noncriminal_purpose": "fires on a criminal-history lookup (ACHS) that states a "
                                    "licensing or employment purpose: criminal history is for "
                                    "criminal-justice purposes only.",
        "out_of_county_no_case": "fires when the person looked up lives outside the agency's "
                                 "county and no case number was entered.",
        "off_shift": "fires on a query made outside the operator's scheduled shift.",
        "lapsed_certification": "fires on a query by an operator whose training, biennial "
                                "proficiency test or annual DMV confidentiality statement has "
                                "lapsed.",
        "volume_spike": f"fires when an operator's queries in a day exceed "
                        f"{r.get('spike_factor', 4.0):g} times their running average (and at "
                        f"least {r.get('spike_min', 12)}).",
        "repeated_subject": f"fires on the {ordinal(int(r.get('repeat_count', 3)))} lookup of the "
                            f"same person by the same operator within "
                            f"{r.get('repeat_window_days', 30)} days, none with a case number.",
        "random_audit": f"samples {rate:.2%} of all operator queries at random for review."
        if rate else "samples a share of all operator queries at random for review.",
        "anomaly": f"monthly: an operator whose mix of queries is far from their peers' "
                   f"(summed robust z-scores above {an.get('threshold', 8.0):g}) is reviewed.",
        "complaint": "a person who learns of a lookup complains; the agency reviews the complaint.",
    }


# ---------------------------------------------------------------------- reading the run


class RunTables:
    """The tables of a run directory (or a `sim.results.RunResults`), missing ones empty."""

    def __init__(self, run):
        if isinstance(run, (str, Path)):
            from sim.results import load

            directory = Path(run)
            if not directory.exists():
                raise ScenarioError(f"run directory not found: {directory}")
            if not directory.is_dir():
                raise ScenarioError(f"{directory}: not a directory (pass a run directory)")
            if not (directory / "manifest.json").exists():
                raise ScenarioError(f"{directory}: not a run directory (no manifest.json)")
            run = load(directory)
        self.run = run
        self.manifest = run.manifest
        self.kind = run.manifest.get("kind", "")
        self.scenario = self.manifest.get("scenario") or {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            if name in self.run:
                return self.run[name]
        except (KeyError, ScenarioError):
            pass
        return pd.DataFrame()

    def has(self, name: str) -> bool:
        try:
            return name in self.run
        except (KeyError, ScenarioError):
            return False


def _int(v, default: int = -1) -> int:
    try:
        if v is None or pd.isna(v):
            return default
    except (TypeError, ValueError):
        pass
    return int(v)


def _hhmm(t: pd.Timestamp) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


# ---------------------------------------------------------------------- building


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
        self.sentences = rule_sentences(scen)
        o = scen.get("oversight") or {}
        det = o.get("detection") or {}
        self.enabled = list((det.get("rules") or {}).get("enabled") or [])
        self.rules_cfg = det.get("rules") or {}
        self.random_rate = float(det.get("random_audit_rate") or 0)
        self.incidents = t["incidents"]
        truth = t["truth"]
        self.truth = truth.assign(query_id=truth["query_id"].astype(np.int64)) if len(truth) else truth
        self.misuse_journal = t["misuse_journal"]
        self.incident_journal = t["incident_journal"]
        self.people = t["incident_people"]
        alerts = t["alerts"]
        if len(alerts) and "reviewed_day" not in alerts:
            alerts = alerts.assign(reviewed_day=pd.NA)
        self.alerts = alerts
        self.inv = t["investigations"]
        self.reports = t["reports"]
        self.complaints = t["complaints"]
        self.audits = t["audits"]
        self.cac_items = t["cac_items"]
        self.agencies = t["agencies"]
        self.shadow_rules = t["shadow_rules"]
        self.shadow_hits = t["shadow_hits"]
        self.has_context = len(self.incident_journal) > 0
        first = t.manifest.get("first_day")
        j = scen.get("journal") or {}
        self.start = j.get("start_date", "")
        self.days = o.get("days")
        self.years = o.get("years", 1)
        self.first_day = first
        # journal days covered by shadow detection (for the cost "over the run")
        self.journal_days = (int(self.shadow_rules["journal_days"].iloc[0])
                             if len(self.shadow_rules) else None)
        # alerts by query id, sorted (a statewide run has millions: looked up by binary search)
        has_q = alerts["query_id"].notna().to_numpy() if len(alerts) else np.zeros(0, bool)
        aq = alerts["query_id"].to_numpy(dtype=np.float64, na_value=np.nan)[has_q].astype(np.int64) \
            if len(alerts) else np.zeros(0, np.int64)
        order = np.argsort(aq, kind="stable")
        self.aq_sorted, self.aq_rows = aq[order], np.flatnonzero(has_q)[order]
        self.op_alerts = alerts[~has_q] if len(alerts) else alerts
        self.truth_incident = (dict(zip(self.truth["query_id"].tolist(),
                                        self.truth["incident_id"].astype(np.int64).tolist()))
                               if len(self.truth) else {})
        ij = self.incident_journal
        if len(ij):
            j_day = ij["time"].to_numpy().astype("datetime64[D]").astype(np.int64)
            j_op = ij["operator"].to_numpy(dtype=np.float64, na_value=-1).astype(np.int64)
            self.ij_key = j_op * (1 << 20) + j_day
        else:
            self.ij_key = np.zeros(0, dtype=np.int64)
        self.ori_agency = ({o_: i for i, o_ in enumerate(self.agencies["ori"])}
                           if len(self.agencies) else {})
        self.unit_of = (self.agencies["reporting_unit"].to_numpy()
                        if "reporting_unit" in self.agencies else None)
        comp = t["compliance"]
        self.report_years = ({int(y) for y in comp["report_year"]} if len(comp) else
                             {int(y) for y in self.reports["report_year"]} if len(self.reports) else set())

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
            rules={k: v for k, v in self.sentences.items()},
            incidents=cases,
        )

    def flagged(self, qids) -> np.ndarray:
        """Which of these query ids carry an alert (of any kind)."""
        q = np.asarray(qids, dtype=np.int64)
        if not len(self.aq_sorted):
            return np.zeros(len(q), dtype=bool)
        pos = np.minimum(np.searchsorted(self.aq_sorted, q), len(self.aq_sorted) - 1)
        return self.aq_sorted[pos] == q

    def alerts_on(self, qids) -> dict[int, pd.DataFrame]:
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

    def _choose(self, inc: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, str]:
        if len(inc) <= limit:
            return inc.sort_values("incident_id"), ""
        t = self.truth
        hit = t[self.flagged(t["query_id"])]["incident_id"].astype(np.int64).unique()
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
        if not self.has_context:
            notes.append("This run kept only the misuse rows of the journal: the operators' lawful "
                         "rows around each incident are not shown (rerun with a current version).")
        if not len(self.shadow_rules) and self.enabled != list(RULES):
            notes.append("This run did not record shadow detection, so the viewer cannot say which "
                         "other rule would have caught a missed incident (set "
                         "outputs.case_viewer: true in the scenario).")
        return dict(
            scenario=m.get("scenario_name", scen.get("name", "")),
            description=scen.get("description", ""), seed=identifier(m.get("seed", "")),
            period=period, counties=", ".join(counties), agencies=", ".join(misuse_ag),
            enabled=[dict(rule=r, text=self.sentences[r]) for r in self.enabled],
            random_audit=self.sentences["random_audit"] if self.random_rate else "",
            incidents_total=count(total), incidents_shown=count(shown), counts=counts,
            notes=notes, written=m.get("written_at", ""),
        )

    # ------------------------------------------------------------------ one incident
    def incident(self, info) -> dict:
        iid = int(info.incident_id)
        archetype = str(info.archetype)
        mine_t = self.truth[self.truth["incident_id"] == iid]
        misuse_q = set(mine_t["query_id"].tolist())
        mj = self.misuse_journal
        mrows = mj[mj["query_id"].isin(misuse_q)]
        rows = self._rows(iid, mrows)
        other_inc = self.truth_incident
        alerts_by_q = self.alerts_on(rows["query_id"])
        people = self.people[self.people["incident_id"] == iid] if len(self.people) else self.people
        ops = people[people["person_kind"] == "operator"] if len(people) else people
        subs = people[people["person_kind"] == "subject"] if len(people) else people
        op_info = {int(r.operator): r for r in ops.itertuples(index=False)} if len(ops) else {}
        sub_info = {int(r.subject): r for r in subs.itertuples(index=False)} if len(subs) else {}
        agency = self.ori_agency.get(str(info.agency_ori), -1)
        agency_name = (str(self.agencies["name"].iat[agency]) if agency >= 0 else str(info.agency_ori))
        agency_county = (str(self.agencies["county"].iat[agency]) if agency >= 0 else "")
        first_day = int(mine_t["day"].min()) if len(mine_t) else int(info.start_day)
        last_day = int(mine_t["day"].max()) if len(mine_t) else int(info.end_day)
        row_ops = sorted({int(o) for o in mrows["operator"].dropna()})

        # rows, with alerts and reasons
        out_rows, alerts_out, alert_ids_seen = [], [], set()
        shadow_by_q = self._shadow_by_q(rows["query_id"])
        for i, r in enumerate(rows.itertuples(index=False)):
            q = int(r.query_id)
            ts = pd.Timestamp(r.time)
            day = int((ts - pd.Timestamp("1970-01-01")).days)
            op = _int(r.operator)
            subj = _int(r.subject)
            si = sub_info.get(subj)
            oi = op_info.get(op)
            a = alerts_by_q.get(q)
            reasons = []
            ids = []
            if a is not None:
                for al in a.itertuples(index=False):
                    rs = self._alert_reasons(al, r, oi, si, agency_county, ts)
                    reasons += rs
                    ids.append(int(al.alert_id))
                    if int(al.alert_id) not in alert_ids_seen:
                        alert_ids_seen.add(int(al.alert_id))
                        alerts_out.append(self._alert(al, i, rs, row_ops or [op]))
            inc_of = other_inc.get(q)
            out_rows.append(dict(
                q=identifier(q), date=day_to_date(day), time=_hhmm(ts),
                weekday=WEEKDAYS[ts.weekday()][:3],
                op=(oi.name if oi is not None else f"operator {op}") if op >= 0 else "automated",
                uid=(oi.user_id if oi is not None else ""), terminal=_terminal(r.terminal, info.agency_ori),
                terminal_id=str(r.terminal),
                key=str(r.key), key_text=KEY_TEXT.get(str(r.key), ""), purpose=_words(r.purpose),
                case=identifier(r.case_number), rtk="" if pd.isna(r.right_to_know) else str(r.right_to_know),
                subject=(si.name if si is not None else f"person {subj}"), sid=identifier(subj),
                relation=(si.relation if si is not None else ""),
                flagged=bool(ids), alerts=ids, reasons=reasons,
                misuse=inc_of == iid, other_incident=identifier(inc_of) if inc_of is not None
                and inc_of != iid else "",
                shadow=[x for x in RULES if shadow_by_q.get(q, 0) & RULE_BIT[x]],
            ))
        # operator-level alerts (anomaly, volume spike) on the incident's operators and days
        for al in self._operator_alerts(row_ops, first_day, last_day):
            if int(al.alert_id) in alert_ids_seen:
                continue
            alert_ids_seen.add(int(al.alert_id))
            alerts_out.append(self._alert(al, None, self._alert_reasons(al, None, op_info.get(
                int(al.operator)), None, agency_county, None), row_ops))
        alerts_out.sort(key=lambda x: (x["raised_day"], x["id"]))

        flagged_misuse = [r for r in out_rows if r["misuse"] and r["flagged"]]
        cases = self._cases(iid, archetype, row_ops, first_day, {a["id"] for a in alerts_out})
        detection = "flagged by an alert" if flagged_misuse else "missed"
        status = "investigated" if cases else detection
        operators = [self._operator(r) for r in ops.itertuples(index=False)] if len(ops) else [
            dict(id=identifier(o), name=f"operator {o}", part="operator", role="", status="",
                 training=[], shift="", agency=agency_name) for o in row_ops]
        victims = self._victims(subs, out_rows)
        n_mis = sum(r["misuse"] for r in out_rows)
        label, story = ARCHETYPE_LABELS.get(archetype, (archetype.replace("_", " ").capitalize(), ""))
        return dict(
            id=identifier(iid), archetype=archetype, label=label, story=story,
            category=str(info.category), category_text=self._category_text(str(info.category), mine_t),
            agency=agency_name, ori=str(info.agency_ori), county=agency_county,
            first=day_to_date(first_day), last=day_to_date(last_day),
            n_misuse=n_mis, n_rows=len(out_rows), n_rows_total=int(self._n_rows_total),
            n_flagged=sum(r["flagged"] for r in out_rows), n_flagged_misuse=len(flagged_misuse),
            detection=detection, status=status,
            headline=self._headline(label, operators, victims, n_mis, first_day, last_day),
            operators=operators, victims=victims, rows=out_rows, alerts=alerts_out,
            cases=cases, form=self._form(agency, cases, first_day),
            missed=self._missed(out_rows, row_ops, first_day, last_day, archetype, subs,
                                detection == "missed"),
            oversight=self._agency_oversight(agency, first_day),
            rows_note=self._rows_note,
        )

    def _category_text(self, category: str, truth: pd.DataFrame) -> str:
        """The category's description; for a mixed incident, those of its rows."""
        if category in CATEGORY_TEXT:
            return CATEGORY_TEXT[category]
        cats = pd.unique(truth["category"].astype(str)) if len(truth) else []
        return "; ".join(CATEGORY_TEXT.get(c, c) for c in cats) or "several kinds"

    def _rows(self, iid: int, mrows: pd.DataFrame) -> pd.DataFrame:
        """The operators' journal rows on the incident's days (lawful too), misuse rows always."""
        self._rows_note = ""
        rows = mrows
        if self.has_context and len(mrows):
            day = mrows["time"].to_numpy().astype("datetime64[D]").astype(np.int64)
            keys = np.unique(mrows["operator"].to_numpy(dtype=np.int64) * (1 << 20) + day)
            ctx = self.incident_journal[np.isin(self.ij_key, keys)]
            rows = pd.concat([ctx, mrows[~mrows["query_id"].isin(ctx["query_id"])]], ignore_index=True)
        rows = rows.sort_values(["time", "query_id"]).reset_index(drop=True)
        self._n_rows_total = len(rows)
        if len(rows) > MAX_ROWS:
            misuse = rows["query_id"].isin(set(self.truth["query_id"])).to_numpy()
            flagged = self.flagged(rows["query_id"])
            order = np.argsort(~(misuse | flagged), kind="stable")[:MAX_ROWS]
            rows = rows.iloc[np.sort(order)].reset_index(drop=True)
            self._rows_note = (f"showing {count(MAX_ROWS)} of {count(self._n_rows_total)} rows: "
                               "every flagged and misuse row first")
        elif not self.has_context:
            self._rows_note = "misuse rows only: this run did not keep the operators' other rows"
        return rows

    def _shadow_by_q(self, qids: pd.Series) -> dict[int, int]:
        h = self.shadow_hits
        if not len(h):
            return {}
        h = h[h["query_id"].notna()]
        h = h[h["query_id"].astype(np.int64).isin(set(qids.astype(np.int64)))]
        return {int(q): int(m) for q, m in zip(h["query_id"], h["rules"])}

    # ------------------------------------------------------------------ alerts
    def _alert(self, al, row_index, reasons: list[str], ops: list[int]) -> dict:
        kind = str(al.kind)
        rules = [r for r in RULES if int(al.rules) & RULE_BIT[r]] if kind == "rule" else []
        raised = int(al.day)
        reviewed = _int(getattr(al, "reviewed_day", None))
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
        case = self._case_of_alert(int(al.alert_id))
        if case is not None:
            after = f"opened case {identifier(case['case_id'])}"
        elif status == "reviewed":
            after = self._why_no_case(al, reviewed)
        else:
            after = ""
        names = [r.replace("_", " ") for r in rules] or [KIND_LABELS.get(kind, kind)]
        return dict(id=int(al.alert_id), kind=kind, kind_label=KIND_LABELS.get(kind, kind),
                    rules=rules, title=", ".join(names), row=row_index, reasons=reasons,
                    rule_text=[self.sentences[r] for r in rules] or [self.sentences.get(kind, "")],
                    raised=day_to_date(raised), raised_day=raised,
                    reviewed=day_to_date(reviewed) if reviewed >= 0 else "",
                    wait_days=wait, status=status, queue=queue, after=after,
                    case=identifier(case["case_id"]) if case is not None else "")

    def _case_of_alert(self, alert_id: int):
        inv = self.inv
        if not len(inv):
            return None
        c = inv[inv["alert_id"] == alert_id]
        return c.iloc[0] if len(c) else None

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

    def _operator_alerts(self, ops: list[int], first: int, last: int):
        a = self.op_alerts
        if not len(a) or not ops:
            return []
        sel = a[a["operator"].isin(ops) & (a["day"] >= first) & (a["day"] <= last + 31)]
        return list(sel.itertuples(index=False))

    def _alert_reasons(self, al, row, oi, si, agency_county: str, ts) -> list[str]:
        """Why this alert fired on this row, in words (one sentence per rule)."""
        kind = str(al.kind)
        who = si.name if si is not None else "the person looked up"
        if kind == "random_audit":
            return [f"sampled at random for review ({self.random_rate:.2%} of all operator queries)"
                    if self.random_rate else "sampled at random for review"]
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
        rc = self.rules_cfg
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
                           f"'{_words(row.purpose)}': not a criminal-justice purpose")
            elif rule == "out_of_county_no_case":
                where = f"in {si.county} County" if si is not None else "elsewhere"
                out.append(f"{who} lives {where}, outside the agency's county ({agency_county}), "
                           "and no case number was entered")
            elif rule == "off_shift" and ts is not None:
                shift = (f" ({int(oi.shift_start):02d}:00-{int(oi.shift_end):02d}:00, {oi.workdays})"
                         if oi is not None else "")
                out.append(f"at {_hhmm(ts)} on a {WEEKDAYS[ts.weekday()]}, outside the operator's "
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
                out.append(self.sentences.get(rule, rule))
        return out

    # ------------------------------------------------------------------ people
    def _operator(self, r) -> dict:
        training = [f"trained {day_to_date(r.training_day)}",
                    f"proficiency test {day_to_date(r.test_day)} (score {int(r.test_score)}%)",
                    f"DMV confidentiality statement {day_to_date(r.confidentiality_day)}",
                    "background check on file" if bool(r.background_check) else
                    "no background check on file"]
        certified = bool(r.certified)
        status = ("certified when the incident began" if certified else
                  "NOT certified when the incident began: " + (str(getattr(r, "lapses", "")) or "a lapse"))
        return dict(id=identifier(r.operator), name=str(r.name), part=str(r.part), role=str(r.role),
                    user_id=str(r.user_id), agency=str(r.agency_name), ori=str(r.agency_ori),
                    sex="woman" if r.sex == "F" else "man", age=int(r.age),
                    certified=certified, status=status, training=training,
                    hired=day_to_date(r.hire_day),
                    shift=f"{int(r.shift_start):02d}:00-{int(r.shift_end):02d}:00, {r.workdays}")

    def _victims(self, subs: pd.DataFrame, rows: list[dict]) -> list[dict]:
        if not len(subs):
            return []
        v = subs[subs["part"] == "victim"]
        times: dict[str, int] = {}
        for r in rows:
            if r["misuse"]:
                times[r["sid"]] = times.get(r["sid"], 0) + 1
        out = []
        for r in v.itertuples(index=False):
            out.append(dict(id=identifier(r.subject), name=str(r.name),
                            sex="woman" if r.sex == "F" else "man", age=int(r.age),
                            relation=str(r.relation), address=f"{r.address}, {r.county} County",
                            lookups=times.get(identifier(r.subject), 0)))
        out.sort(key=lambda x: -x["lookups"])
        return out

    def _headline(self, label, operators, victims, n, first, last) -> str:
        who = operators[0]["name"] if operators else "an operator"
        if len(operators) > 1:
            who = f"{len(operators)} operators"
        women = sum(v["sex"] == "woman" for v in victims)
        whom = (f"{count(len(victims))} {'person' if len(victims) == 1 else 'people'}"
                + (f" ({women} {'woman' if women == 1 else 'women'})" if women and len(victims) > 1
                   else ""))
        span = (f"on {day_to_date(first)}" if first == last
                else f"from {day_to_date(first)} to {day_to_date(last)}")
        return f"{label}: {who} looked up {whom} {count(n)} time{'s' if n != 1 else ''} {span}."

    # ------------------------------------------------------------------ cases and forms
    def _cases(self, iid: int, archetype: str, ops: list[int], first: int, alert_ids: set) -> list:
        inv = self.inv
        if not len(inv) or not ops:
            return []
        c = inv[inv["operator"].isin(ops) & (inv["opened_day"] >= first)]
        linked = c["alert_id"].isin(alert_ids) | c["source"].isin(["internal_affairs", "audit"])
        if "archetype" in c:
            linked |= c["archetype"].astype(str) == archetype
        c = c[linked]
        out = []
        for r in c.itertuples(index=False):
            closed = _int(r.closed_day)
            if closed >= 0:
                found = ("misuse confirmed" if r.confirmed is True or r.confirmed == 1 else
                         "closed without a finding of misuse")
                dur = f"{count(closed - int(r.opened_day))} days"
            else:
                found, dur = "still open when the run ended", ""
            outcome = "" if pd.isna(r.outcome) else OUTCOME_WORDS.get(str(r.outcome), str(r.outcome))
            referral = "" if r.referral is None or pd.isna(r.referral) else str(r.referral)
            alert_id = _int(r.alert_id)
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

    def _form(self, agency: int, cases: list[dict], first: int) -> dict:
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
            closed_here = (inv[inv["agency"].isin(members) & (inv["closed_day"] >= _day(y))
                               & (inv["closed_day"] < _day(y + 1))] if len(inv) else inv)
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

    def _agency_oversight(self, agency: int, first: int) -> list[str]:
        """DOJ audits of the agency and CAC items about it, from the incident on."""
        out = []
        au = self.audits
        if len(au) and agency >= 0:
            for a in au[(au["agency"] == agency) & (au["day"] >= first)].itertuples(index=False):
                out.append(f"DOJ {a.kind} audit on {day_to_date(a.day)}: {count(a.sampled)} logged "
                           f"queries sampled, {count(a.misuse_sampled)} of them misuse, "
                           f"{count(a.unjustified)} could not be justified"
                           + ("; an agency-level finding" if bool(a.finding) else "") + ".")
        items = self.cac_items
        if len(items) and agency >= 0 and self.unit_of is not None:
            unit = int(self.unit_of[agency])
            mine = items[items["agency"].isin([agency, unit]) & (items["referred_day"] >= first)]
            for it in mine.itertuples(index=False):
                action = "" if pd.isna(it.action) else f"; {it.action}"
                out.append(f"Referred to the CLETS Advisory Committee on {day_to_date(it.referred_day)} "
                           f"({str(it.kind).replace('_', ' ')}: {it.detail}); discussed "
                           f"{count(it.discussed)} time(s){action}.")
        return out

    # ------------------------------------------------------------------ missed
    def _missed(self, rows: list[dict], ops: list[int], first: int, last: int, archetype: str,
                subs: pd.DataFrame, missed: bool) -> dict:
        """Which policy would have caught the rows no alert flagged, and at what cost."""
        target = [r for r in rows if r["misuse"] and not r["flagged"]]
        if not target:
            return dict(applies=False, text="", options=[], why_not=[])
        n = len(target)
        options = []
        sr = self.shadow_rules
        days = self.journal_days
        span = (f"{count(days)} days of journal" if days else "the run")
        for rule in RULES:
            if rule in self.enabled:
                continue
            hits = sum(rule in r["shadow"] for r in target)
            if rule == "volume_spike":
                hits = self._spike_hits(ops, first, last)
            info = sr[sr["rule"] == rule] if len(sr) else sr
            if not len(info):
                continue
            info = info.iloc[0]
            new, total, mis = int(info["new_alerts"]), int(info["alerts"]), int(info["misuse_rows"])
            if hits == 0:
                continue
            if rule == "volume_spike":
                what = f"the operator on {count(hits)} of the incident's days"
            elif n == 1:
                what = "this row"
            elif hits == n:
                what = f"all {count(n)} of these rows"
            else:
                what = f"{count(hits)} of these {count(n)} rows"
            options.append(dict(
                rule=rule, hits=hits, rows=n, new_alerts=new, alerts=total, misuse_rows=mis,
                text=(f"{rule.replace('_', ' ')} would have flagged {what}, at the cost of "
                      f"{count(new)} more alert{'s' if new != 1 else ''} over {span} "
                      f"({count(mis)} of its {count(total)} alerts on misuse rows)."),
                rule_text=self.sentences[rule]))
        options.sort(key=lambda o: (-o["hits"] / max(o["rows"], 1), o["new_alerts"]))
        if not len(sr):
            text = ("This run did not record shadow detection (outputs.case_viewer: false), so it "
                    "cannot say which other rule would have caught these rows.")
        elif options:
            text = (f"{count(n)} misuse row{'s' if n != 1 else ''} of this incident raised no "
                    "alert. Rules this scenario did not enable, run over the same journal "
                    "without acting on them:")
        else:
            these = "this row: it looks" if n == 1 else f"these {count(n)} rows: they look"
            text = (f"No journal rule would have flagged {these} like ordinary work. Only a "
                    "complaint, an audit that asks about purpose, or an outside inquiry can find "
                    "such misuse.")
        return dict(applies=True, missed=missed, text=text, options=options,
                    why_not=self._why_not(target, subs, archetype))

    def _spike_hits(self, ops: list[int], first: int, last: int) -> int:
        h = self.shadow_hits
        if not len(h):
            return 0
        s = h[h["query_id"].isna() & h["operator"].isin(ops) & (h["day"] >= first) & (h["day"] <= last)
              & ((h["rules"] & RULE_BIT["volume_spike"]) > 0)]
        return int(s["day"].nunique())

    def _why_not(self, target: list[dict], subs: pd.DataFrame, archetype: str) -> list[str]:
        """Why the enabled rules stayed silent on these rows, where the data can say."""
        out = []
        rels = {r["relation"] for r in target}
        for rule in self.enabled:
            if rule == "known_relation":
                known = [x for x in rels if x and x not in ("stranger", "media figure", "self")]
                if known:
                    out.append(f"known relation: the person is the operator's {', '.join(sorted(known))}, "
                               "but agencies keep only household members and some relatives on file.")
                else:
                    out.append("known relation: the people looked up are not the operator's relations.")
            elif rule == "high_profile":
                out.append("high profile: nobody looked up is on the media-figure list.")
            elif rule == "achs_noncriminal_purpose":
                achs = [r for r in target if r["key"] in ("QH", "QR")]
                if achs:
                    stated = sorted({r["purpose"] for r in achs})
                    out.append(f"ACHS non-criminal purpose: the criminal-history lookups stated "
                               f"{', '.join(stated)}, a criminal-justice purpose.")
                else:
                    out.append("ACHS non-criminal purpose: no criminal-history lookup among these rows.")
            elif rule == "repeated_subject":
                rc = self.rules_cfg
                out.append(f"repeated subject: nobody was looked up {rc.get('repeat_count', 3)} times "
                           f"within {rc.get('repeat_window_days', 30)} days without a case number.")
            elif rule == "surname_or_address":
                out.append("surname or address: nobody looked up shares the operator's surname or "
                           "address.")
            elif rule == "off_shift":
                out.append("off shift: the lookups were made during the operator's shift.")
            elif rule == "achs_without_case":
                out.append("ACHS without case: no criminal-history lookup without a case number.")
            elif rule == "out_of_county_no_case":
                out.append("out of county: the people looked up live in the agency's county, or a "
                           "case number was entered.")
            elif rule == "lapsed_certification":
                out.append("lapsed certification: the operator's certification was current.")
        if self.random_rate:
            out.append(f"random audit: each row had a {self.random_rate:.2%} chance of being sampled; "
                       "none was.")
        return out


def _terminal(name, ori: str) -> str:
    """'mdt:CA2600000:3' -> 'MDT 3' (the agency's own), or 'terminal 2 (CA0DC0000)'."""
    parts = str(name).split(":")
    if len(parts) != 3:
        return str(name)
    kind = "MDT" if parts[0] == "mdt" else "terminal"
    return f"{kind} {parts[2]}" + ("" if parts[1] == str(ori) else f" ({parts[1]})")


def _day(year: int) -> int:
    return (pd.Timestamp(f"{year}-01-01") - pd.Timestamp("1970-01-01")).days


def _words(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v).replace("_", " ")
