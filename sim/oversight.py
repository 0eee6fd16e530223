"""The multi-year oversight loop as SimPy processes at day resolution.

Time unit: one day; day 0 is `journal.start_date`. Processes:

* ``days``: each day, the journal generator logs the day; detection (journal only) raises
  alerts into each agency's queue; victims who learned of a lookup complain after a delay
  (world side: uses the answer key, as real victims know what happened to them);
* ``reviews``: on the first of each month an agency reviews as many queued alerts as its
  investigator budget allows (the rest wait or are dropped); a reviewed alert may open an
  investigation of the operator (one open case per operator);
* ``investigation`` (one per case): takes time, confirms misuse with some probability,
  may count the operator's other misuse, ends in an outcome and maybe a criminal
  referral; a dismissed operator stops querying, a suspended one pauses;
* ``reporting``: form HDC 0010 for the preceding calendar year is due Feb 1; agencies
  report with their propensity, DOJ's regime (passive or proactive: reminder before,
  calls after the deadline) converts some of the rest; the compliance figure is taken at
  a census date; non-reporters are referred to the next CAC meeting and listed publicly;
* ``audits``: DOJ's cyclical audit of every agency once per cycle and targeted audits find
  misuse independently of the agencies' own reporting;
* ``cac``: the CLETS Advisory Committee meets on its schedule and climbs the sanctions
  ladder (censure -> suspension -> removal) by its rules; a suspended or removed agency's
  terminals stop generating traffic.

Everything the loop decides is written as event tables with dates (`OversightResult`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import simpy

from sim.catalogue import ARCHETYPES, CATEGORY_NAMES
from sim.config import Scenario
from sim.config.oversight import OUTCOMES, SANCTION_STEPS, TRIGGERS
from sim.detection import ALERT_KINDS, Detector, HumanRows, Registry, empty_alerts, kinds
from sim.journal import JournalGenerator
from sim.rng import Streams
from sim.world import EPOCH, day_number

STATUTES = {  # criminal referral by what was misused
    "dmv": "Vehicle Code 1808.45",
    "achs": "Penal Code 11141-11143",
    "local": "Penal Code 13302-13304",
    "other": "Government Code 6200",
}
DMV_CATEGORIES = {"dmv_personal_lookup", "immigration_enforcement", "personal_gain", "giving_data_to_others"}


def cal(day_abs: int) -> date:
    return EPOCH + timedelta(days=int(day_abs))


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
    summary: dict = field(default_factory=dict)


class OversightModel:
    def __init__(self, scenario: Scenario, streams: Streams, graph=None):
        self.scenario = scenario
        self.cfg = cfg = scenario.oversight
        self.streams = streams
        self.start = start = scenario.journal.start_date  # the first reported year starts here
        sim_start = start - timedelta(days=cfg.warmup_days)
        end = date(start.year + cfg.years, 1, 1)
        # run past the last year's deadline, census and the CAC meeting after it
        tail = 31 + cfg.reporting.census_days_after_deadline + 100
        self.first_day = day_number(sim_start)
        self.journal_days = (end - sim_start).days  # after the last reported year: paperwork only
        self.n_days = self.journal_days + tail
        self.gen = JournalGenerator(scenario, streams, graph=graph, days=self.journal_days,
                                    automated=cfg.automated_rows, start=sim_start)
        self.world = w = self.gen.world
        self.lawful = self.gen.lawful
        self.registry = Registry.from_world(w, cfg.detection.rules.known_relation_share,
                                            streams.fresh("registry"))
        self.detector = Detector(cfg.detection, self.registry, streams.fresh("detection"))
        self.rng = streams.fresh("oversight")
        self.env = simpy.Environment()
        ag = w.agencies
        n_ag, n_ops = len(ag), len(w.operators)
        self.n_ag = n_ag
        ops_per_agency = np.bincount(w.operators.agency, minlength=n_ag)
        inv = cfg.investigation
        self.budget = inv.budget_base + inv.budget_per_100_operators * ops_per_agency / 100
        self.credit = np.zeros(n_ag)
        self.queues: list[list[np.ndarray]] = [[] for _ in range(n_ag)]  # chunks of alert ids
        rep = cfg.reporting
        a = rep.propensity_mean * rep.propensity_concentration
        b = (1 - rep.propensity_mean) * rep.propensity_concentration
        self.investigates = ~ag["dhs"].to_numpy() | cfg.investigation.dhs_investigates
        self.propensity = self.rng.beta(max(a, 1e-6), max(b, 1e-6), n_ag)
        self.underreports = self.rng.random(n_ag) < rep.underreport_share
        self.level = np.zeros(n_ag, dtype=np.int8)  # 0 none, 1 censure, 2 suspension, 3 removal
        self.removed = np.zeros(n_ag, dtype=bool)
        self.trigger_counts = {t: np.zeros(n_ag, dtype=np.int32) for t in TRIGGERS}
        self.pending_referrals: list[tuple[int, str, int]] = []  # (agency, trigger, day)
        # answer-key bookkeeping (world side)
        self.truth_by_qid: dict[int, tuple[int, int, int]] = {}
        self.op_misuse_rows = np.zeros(n_ops, dtype=np.int64)
        self.op_last_misuse = np.full(n_ops, -10_000, dtype=np.int64)
        self.op_last_category = np.full(n_ops, -1, dtype=np.int16)
        self.open_case: dict[int, int] = {}
        self.dismissed = np.zeros(n_ops, dtype=bool)  # terminated or resigned: never back
        self.complaints_due: dict[int, list[tuple]] = {}
        # records
        self.alert_parts: list[pd.DataFrame] = []
        self.next_alert_id = 0
        self.reviewed: list[tuple[int, int]] = []  # (alert_id, day)
        self.dropped: list[np.ndarray] = []
        self.complaint_rows: list[dict] = []
        self.cases: list[dict] = []
        self.discipline: list[dict] = []
        self.reports: list[dict] = []
        self.follow_ups: list[dict] = []
        self.compliance: list[dict] = []
        self.public_list: list[dict] = []
        self.audit_rows: list[dict] = []
        self.meetings: list[dict] = []
        self.sanction_rows: list[dict] = []
        self.truth_parts: list[pd.DataFrame] = []
        self.misuse_journal_parts: list[pa.Table] = []
        self.human_rows_by_year: dict[int, int] = {}

    # ------------------------------------------------------------------ calendar helpers
    def k_of(self, d: date) -> int:
        return day_number(d) - self.first_day

    def date_of(self, k: int) -> date:
        return cal(self.first_day + k)

    # ------------------------------------------------------------------ run
    def run(self, progress=None) -> OversightResult:
        import time

        t0 = time.perf_counter()
        env = self.env
        env.process(self._days(progress))
        env.process(self._reviews())
        env.process(self._reporting())
        env.process(self._cac())
        env.process(self._audits())
        env.run(until=self.n_days)
        result = self._result()
        result.summary["wall_s"] = round(time.perf_counter() - t0, 2)
        return result

    # ------------------------------------------------------------------ days
    def _days(self, progress):
        env = self.env
        for k in range(self.n_days):
            day = self.first_day + k
            if k >= self.journal_days:  # the reported years are over: only complaints still arrive
                self._enqueue(self._complaint_alerts(k, day))
                if progress is not None:
                    progress(1)
                yield env.timeout(1)
                continue
            chunk = self.gen.day(day, k)
            rows = HumanRows.from_journal(chunk.journal)
            year = self.date_of(k).year
            self.human_rows_by_year[year] = self.human_rows_by_year.get(year, 0) + len(rows.query_id)
            self._learn_truth(chunk, rows, k)
            alerts = self.detector.run_rows(rows, day)
            if self.date_of(k + 1).day == 1:
                alerts = pd.concat([alerts, self.detector.end_month(day)], ignore_index=True)
            alerts = pd.concat([alerts, self._complaint_alerts(k, day)], ignore_index=True)
            self._enqueue(alerts)
            if progress is not None:
                progress(1)
            yield env.timeout(1)

    def _complaint_alerts(self, k: int, day: int) -> pd.DataFrame:
        """Complaints arriving today, as alerts to the operator's agency."""
        due = self.complaints_due.pop(k, [])
        self.complaint_rows.extend(due)
        if not due:
            return empty_alerts()
        return pd.DataFrame({
            "day": np.full(len(due), day, dtype=np.int32), "kind": kinds("complaint", len(due)),
            "query_id": pd.array([c["query_id"] for c in due], dtype="Int64"),
            "operator": np.array([c["operator"] for c in due], dtype=np.int32),
            "agency": np.array([c["agency"] for c in due], dtype=np.int32),
            "rules": np.zeros(len(due), dtype=np.int64), "score": np.ones(len(due)),
        })

    def _learn_truth(self, chunk, rows: HumanRows, k: int) -> None:
        """World-side: record the day's misuse and schedule the complaints victims will make."""
        t = chunk.truth
        qid = t.column("query_id").to_numpy()
        cat = t.column("category").combine_chunks().indices.to_numpy().astype(np.int16)
        arch = t.column("archetype").combine_chunks().indices.to_numpy().astype(np.int8)
        inc = t.column("incident_id").to_numpy()
        if len(qid):
            first_qid = chunk.journal.column("query_id")[0].as_py()
            self.misuse_journal_parts.append(chunk.journal.take(pa.array(qid - first_qid)))
            self.truth_parts.append(pd.DataFrame({"query_id": qid, "category": cat, "archetype": arch,
                                                  "incident_id": inc, "day": self.first_day + k}))
            pos = np.searchsorted(rows.query_id, qid)
            op = rows.operator[pos]
            np.add.at(self.op_misuse_rows, op, 1)
            self.op_last_misuse[op] = k
            self.op_last_category[op] = cat
            for q, c, a, i in zip(qid.tolist(), cat.tolist(), arch.tolist(), inc.tolist()):
                self.truth_by_qid[q] = (c, a, i)
            cc = self.cfg.detection.complaints
            if self.cfg.detection.enabled_complaints:
                p = np.array([cc.learn_probability.get(CATEGORY_NAMES[c], 0.0) for c in cat])
                learn = self.rng.random(len(qid)) < p
                for j in np.flatnonzero(learn).tolist():
                    self._schedule_complaint(k, int(qid[j]), int(op[j]), founded=True)
        cc = self.cfg.detection.complaints
        if self.cfg.detection.enabled_complaints and len(rows.query_id):
            n = self.rng.poisson(cc.unfounded_per_million * len(rows.query_id) / 1e6)
            for j in self.rng.integers(0, len(rows.query_id), n).tolist():
                if int(rows.query_id[j]) not in self.truth_by_qid:
                    self._schedule_complaint(k, int(rows.query_id[j]), int(rows.operator[j]), founded=False)

    def _schedule_complaint(self, k: int, qid: int, op: int, founded: bool) -> None:
        delay = 1 + int(self.rng.exponential(self.cfg.detection.complaints.mean_delay_days))
        arrival = k + delay
        self.complaints_due.setdefault(arrival, []).append(dict(
            query_id=qid, operator=op, agency=int(self.world.operators.agency[op]),
            lookup_day=self.first_day + k, arrival_k=arrival, arrival_day=self.first_day + arrival,
            founded=founded))

    def _enqueue(self, alerts: pd.DataFrame) -> None:
        if alerts.empty:
            return
        n = len(alerts)
        ids = np.arange(self.next_alert_id, self.next_alert_id + n, dtype=np.int64)
        self.next_alert_id += n
        alerts = alerts.assign(alert_id=ids)
        self.alert_parts.append(alerts)
        ag = alerts["agency"].to_numpy()
        order = np.argsort(ag, kind="stable")
        bounds = np.searchsorted(ag[order], np.arange(self.n_ag + 1))
        for a in np.flatnonzero(np.diff(bounds)).tolist():
            if not self.removed[a]:
                self.queues[a].append(ids[order[bounds[a]:bounds[a + 1]]])

    # ------------------------------------------------------------------ monthly reviews
    def _reviews(self):
        env = self.env
        lookup = None
        while True:
            k = int(env.now)
            if k > 0 and self.date_of(k).day == 1:
                lookup = self._alert_lookup()
                self._review_month(k, lookup)
            yield env.timeout(1)

    def _alert_lookup(self) -> pd.DataFrame:
        if not self.alert_parts:
            return empty_alerts().assign(alert_id=pd.Series(dtype=np.int64))
        if len(self.alert_parts) > 1:
            self.alert_parts = [pd.concat(self.alert_parts, ignore_index=True)]
        return self.alert_parts[0]

    def _review_month(self, k: int, alerts: pd.DataFrame) -> None:
        inv = self.cfg.investigation
        self.credit += self.budget
        qid_col = alerts["query_id"].to_numpy(dtype=np.float64, na_value=np.nan)
        op_col = alerts["operator"].to_numpy()
        kind_col = alerts["kind"].cat.codes.to_numpy()
        score_col = alerts["score"].to_numpy()
        complaint = ALERT_KINDS.index("complaint")
        for a in range(self.n_ag):
            q = self.queues[a]
            n_rev = int(self.credit[a])
            pending = np.concatenate(q) if q else np.zeros(0, dtype=np.int64)
            if inv.review_order == "score" and len(pending) > n_rev:
                # triage: highest score first, oldest first among equals (stable sort)
                pending = pending[np.argsort(-score_col[pending], kind="stable")]
            take, rest = pending[:n_rev], pending[n_rev:]
            self.credit[a] -= len(take)
            if len(take) < n_rev:  # idle investigator time is not banked: keep the fraction only
                self.credit[a] %= 1.0
            if not q:
                continue
            if inv.overflow == "drop":
                if len(rest):
                    self.dropped.append(rest)
                self.queues[a] = []
            else:
                self.queues[a] = [rest] if len(rest) else []
            for aid in take.tolist():
                self.reviewed.append((aid, self.first_day + k))
                op = int(op_col[aid])
                if op in self.open_case or not self.investigates[a]:
                    continue
                misuse, category = self._is_misuse(qid_col[aid], op, k)
                if kind_col[aid] == complaint:
                    p = inv.open_complaint
                else:
                    p = inv.open_if_misuse if misuse else inv.open_if_lawful
                if self.rng.random() < p:
                    self._open_case(k, a, op, aid, ALERT_KINDS[kind_col[aid]], misuse, category)

    def _is_misuse(self, qid: float, op: int, k: int) -> tuple[bool, int]:
        """Answer key for a reviewed alert: the query itself, or the operator's recent misuse."""
        if not np.isnan(qid):
            t = self.truth_by_qid.get(int(qid))
            if t is not None:
                return True, t[0]
            return False, -1
        recent = k - self.op_last_misuse[op] <= 60
        return bool(recent), int(self.op_last_category[op]) if recent else -1

    # ------------------------------------------------------------------ investigations
    def _open_case(self, k, agency, op, alert_id, kind, misuse, category) -> None:
        cid = len(self.cases)
        self.open_case[op] = cid
        case = dict(case_id=cid, agency=agency, operator=op, alert_id=alert_id, source=kind,
                    opened_day=self.first_day + k, closed_day=None, truly_misuse=misuse,
                    confirmed=None, violations=0, category=CATEGORY_NAMES[category] if category >= 0 else "",
                    outcome=None, referral=None)
        self.cases.append(case)
        self.env.process(self._investigate(case))

    def _investigate(self, case):
        inv = self.cfg.investigation
        rng = self.rng
        yield self.env.timeout(max(1, int(rng.exponential(inv.mean_days))))
        k = int(self.env.now)
        op = case["operator"]
        confirmed = rng.random() < (inv.confirm_if_misuse if case["truly_misuse"] else inv.confirm_if_lawful)
        case["closed_day"] = self.first_day + k
        case["confirmed"] = bool(confirmed)
        del self.open_case[op]
        if not confirmed:
            case["outcome"] = "no_misuse"
            return
        violations = 1
        if case["truly_misuse"] and rng.random() < inv.expand_to_other_queries:
            violations = max(1, int(self.op_misuse_rows[op]))
        case["violations"] = violations
        if not case["category"]:
            last = int(self.op_last_category[op])
            case["category"] = CATEGORY_NAMES[last] if last >= 0 else "unspecified"
        shares = np.array([inv.outcome_shares.get(o, 0.0) for o in OUTCOMES])
        outcome = OUTCOMES[int(np.searchsorted(np.cumsum(shares) / shares.sum(), rng.random(), side="right"))]
        case["outcome"] = outcome
        if rng.random() < inv.criminal_referral:
            case["referral"] = _statute(case["category"])
        self.discipline.append(dict(day=self.first_day + k, case_id=case["case_id"], operator=op,
                                    agency=case["agency"], outcome=outcome, referral=case["referral"]))
        if outcome in ("termination", "resignation"):
            self.dismissed[op] = True
            self.lawful.active[op] = False
        elif outcome == "suspension" and not self.dismissed[op]:
            self.lawful.active[op] = False
            self.env.process(self._reinstate(op, inv.suspension_days))

    def _reinstate(self, op, days):
        yield self.env.timeout(days)
        if not self.dismissed[op]:
            self.lawful.active[op] = True

    # ------------------------------------------------------------------ annual report
    def _reporting(self):
        env, rep, fu = self.env, self.cfg.reporting, self.cfg.follow_up
        for year in range(self.start.year, self.start.year + self.cfg.years):
            deadline = self.k_of(date(year + 1, 2, 1))
            opens = self.k_of(date(year + 1, 1, 1))
            if opens > env.now:
                yield env.timeout(opens - env.now)
            submit_day = np.full(self.n_ag, -1, dtype=np.int64)
            active = ~self.removed
            unprompted = (self.rng.random(self.n_ag) < self.propensity) & active
            submit_day[unprompted] = opens + self.rng.integers(0, deadline - opens, int(unprompted.sum()))
            if fu.regime == "proactive":
                remind = deadline - fu.reminder_days_before
                left = active & (submit_day < 0)
                self._log_follow_up(year, "reminder", remind, left)
                conv = left & (self.rng.random(self.n_ag) < fu.reminder_conversion)
                submit_day[conv] = remind + self.rng.integers(0, max(1, deadline - remind), int(conv.sum()))
                for c in range(fu.calls_after_deadline):
                    call = deadline + c * fu.call_interval_days
                    left = active & (submit_day < 0)
                    self._log_follow_up(year, "outreach_call", call, left)
                    conv = left & (self.rng.random(self.n_ag) < fu.call_conversion)
                    submit_day[conv] = call + self.rng.integers(1, 8, int(conv.sum()))
            for a in np.flatnonzero(submit_day >= 0).tolist():
                env.process(self._submit(year, a, int(submit_day[a])))
            census = deadline + rep.census_days_after_deadline
            env.process(self._census(year, census, deadline))

    def _log_follow_up(self, year, kind, k, mask) -> None:
        for a in np.flatnonzero(mask).tolist():
            self.follow_ups.append(dict(report_year=year, kind=kind, day=self.first_day + k,
                                        agency=a))

    def _submit(self, year, agency, k):
        if k > self.env.now:
            yield self.env.timeout(k - self.env.now)
        if self.removed[agency]:
            return
        rep = self.cfg.reporting
        lo, hi = day_number(date(year, 1, 1)), day_number(date(year + 1, 1, 1))
        mine = [c for c in self.cases if c["agency"] == agency and c["closed_day"] is not None
                and lo <= c["closed_day"] < hi]
        if self.underreports[agency] and mine:
            keep = self.rng.random(len(mine)) >= rep.underreport_fraction
            mine = [c for c, kk in zip(mine, keep) if kk]
        found = [c for c in mine if c["confirmed"]]
        form = dict(report_year=year, agency=agency, submitted_day=self.first_day + k,
                    oris=",".join(self.world.oris["ori"][self.world.oris["agency"] == agency]),
                    investigations=len(mine), misuse_found=len(found),
                    violations=int(sum(c["violations"] for c in found)))
        for o in OUTCOMES:
            form[f"action_{o}"] = sum(c["outcome"] == o for c in found)
        form["criminal_referrals"] = sum(c["referral"] is not None for c in found)
        if rep.eff_fields:
            form["individuals"] = len({c["operator"] for c in found})
            for cat in CATEGORY_NAMES:
                form[f"category_{cat}"] = int(sum(c["violations"] for c in found if c["category"] == cat))
        self.reports.append(form)

    def _census(self, year, census, deadline):
        if census > self.env.now:
            yield self.env.timeout(census - self.env.now)
        reported = {r["agency"] for r in self.reports if r["report_year"] == year}
        eligible = np.flatnonzero(~self.removed)
        on_time = {r["agency"] for r in self.reports
                   if r["report_year"] == year and r["submitted_day"] < self.first_day + deadline}
        self.compliance.append(dict(
            report_year=year, agencies=len(eligible),
            reported=len(reported & set(eligible.tolist())),
            reported_share=len(reported & set(eligible.tolist())) / max(len(eligible), 1),
            on_time_share=len(on_time & set(eligible.tolist())) / max(len(eligible), 1)))

    # ------------------------------------------------------------------ audits
    def _audits(self):
        env, au = self.env, self.cfg.audits
        events: list[tuple[int, int, str, int]] = []  # (day, agency, kind, targeted audit index)
        if au.cyclical:
            cycle = au.cycle_years * 365
            offset = self.rng.integers(0, cycle, self.n_ag)
            for a in range(self.n_ag):
                for k in range(int(offset[a]), self.n_days, cycle):
                    events.append((k, a, "cyclical", -1))
        dhs = np.flatnonzero(self.world.agencies["dhs"].to_numpy())
        start = self.start.year
        for j, t in enumerate(au.targeted):
            targets = dhs if t.agencies == "dhs" else np.arange(self.n_ag)
            for year in (t.years or range(start, start + self.cfg.years)):
                k = self.k_of(date(year, 1, 1)) + t.day_of_year - 1
                if 0 <= k < self.n_days:
                    events.extend((k, int(a), "targeted", j) for a in targets)
        events.sort()
        incidents = self.gen.misuse.incidents
        ori_agency = dict(zip(self.world.agencies["ori"], range(self.n_ag)))
        inc_agency = incidents["agency_ori"].map(ori_agency).fillna(-1).astype(int).to_numpy() \
            if len(incidents) else np.zeros(0, dtype=int)
        for k, a, kind, j in events:
            if k > env.now:
                yield env.timeout(k - env.now)
            if self.removed[a]:
                continue
            find = {**au.find_probability, **(au.targeted[j].find_probability if j >= 0 else {})}
            day = self.first_day + k
            sel = np.flatnonzero((inc_agency == a) & (incidents["start_day"].to_numpy() <= day)
                                 & (incidents["end_day"].to_numpy() >= day - 365)) if len(incidents) else []
            found = [int(i) for i in sel
                     if self.rng.random() < find.get(incidents["archetype"].iat[i], 0.0)]
            archetypes = sorted({incidents["archetype"].iat[i] for i in found})
            self.audit_rows.append(dict(day=day, agency=a, kind=kind, incidents_found=len(found),
                                        archetypes=",".join(archetypes)))
            if found:
                self.pending_referrals.append((a, "audit_finding", day))
                if "agency_purpose" in archetypes:
                    self.pending_referrals.append((a, "agency_misuse", day))

    # ------------------------------------------------------------------ CAC
    def _cac(self):
        env, cac = self.env, self.cfg.cac
        start = self.start.year
        meetings = sorted(self.k_of(date(y, 1, 1)) + d - 1
                          for y in range(start, start + self.cfg.years + 2) for d in cac.meeting_days_of_year)
        referred_years: set[tuple[int, int]] = set()
        for k in meetings:
            if k >= self.n_days:
                break
            if k > env.now:
                yield env.timeout(k - env.now)
            day = self.first_day + k
            # non-reporters: agencies past a deadline with no report for that year
            for year in range(start, start + self.cfg.years):
                deadline = self.k_of(date(year + 1, 2, 1))
                if k < deadline:
                    continue
                reported = {r["agency"] for r in self.reports if r["report_year"] == year}
                for a in np.flatnonzero(~self.removed).tolist():
                    if a not in reported and (a, year) not in referred_years:
                        referred_years.add((a, year))
                        self.pending_referrals.append((a, "non_reporting", day))
                        self.public_list.append(dict(report_year=year, agency=a, listed_day=day))
            referrals, self.pending_referrals = self.pending_referrals, []
            actions = 0
            for a, trigger, _ in referrals:
                self.trigger_counts[trigger][a] += 1
            if cac.enforce:
                for a in sorted({r[0] for r in referrals}):
                    actions += self._apply_ladder(a, day)
            self.meetings.append(dict(day=day, referrals=len(referrals), sanctions=actions))

    def _apply_ladder(self, a: int, day: int) -> int:
        """Raise the agency to the highest step its trigger counts reach (never down)."""
        target, why = 0, ""
        for rule in self.cfg.cac.rules:
            if self.trigger_counts[rule.trigger][a] >= rule.count:
                step = SANCTION_STEPS.index(rule.step) + 1
                if step > target:
                    target, why = step, f"{rule.trigger} x{self.trigger_counts[rule.trigger][a]}"
        if target <= self.level[a]:
            return 0
        self.level[a] = target
        step = SANCTION_STEPS[target - 1]
        self.sanction_rows.append(dict(day=day, agency=a, step=step, reason=why))
        if step == "suspension":
            self.lawful.agency_active[a] = False
            self.env.process(self._restore(a, self.cfg.cac.suspension_days, day))
        elif step == "removal":
            self.lawful.agency_active[a] = False
            self.removed[a] = True
            self.queues[a] = []
        return 1

    def _restore(self, a, days, since):
        yield self.env.timeout(days)
        if not self.removed[a]:
            self.lawful.agency_active[a] = True
            self.sanction_rows.append(dict(day=since + days, agency=a, step="service_restored",
                                           reason="suspension ended"))

    # ------------------------------------------------------------------ results
    def _result(self) -> OversightResult:
        w = self.world
        names = w.agencies[["name", "ori", "agency_type", "county", "dhs"]].reset_index(drop=True)

        def with_agency(rows: list[dict], cols=None) -> pd.DataFrame:
            df = pd.DataFrame(rows, columns=cols)
            if "agency" in df and len(df):
                df = df.join(names.rename(columns={"name": "agency_name", "ori": "agency_ori"}), on="agency")
            return df

        alerts = self._alert_lookup().copy()
        alerts["status"] = "pending"
        if self.reviewed:
            alerts.loc[np.array([r[0] for r in self.reviewed]), "status"] = "reviewed"
        if self.dropped:
            alerts.loc[np.concatenate(self.dropped), "status"] = "dropped"
        truth = (pd.concat(self.truth_parts, ignore_index=True) if self.truth_parts else
                 pd.DataFrame(columns=["query_id", "category", "archetype", "incident_id", "day"]))
        truth["category"] = pd.Categorical.from_codes(truth["category"].astype(int), CATEGORY_NAMES)
        truth["archetype"] = pd.Categorical.from_codes(truth["archetype"].astype(int), ARCHETYPES)
        investigations = with_agency(self.cases)
        reports = with_agency(self.reports)
        sanctions = with_agency(self.sanction_rows, ["day", "agency", "step", "reason"])
        result = OversightResult(
            scenario=self.scenario, seed=self.streams.root_seed, first_day=self.first_day,
            days=self.n_days, alerts=alerts,
            complaints=pd.DataFrame(self.complaint_rows),
            investigations=investigations, discipline=with_agency(self.discipline),
            reports=reports, follow_ups=pd.DataFrame(self.follow_ups),
            compliance=pd.DataFrame(self.compliance), public_list=with_agency(self.public_list),
            audits=with_agency(self.audit_rows), cac_meetings=pd.DataFrame(self.meetings),
            sanctions=sanctions, truth=truth, incidents=self.gen.misuse.incidents,
            misuse_journal=(pa.concat_tables(self.misuse_journal_parts).to_pandas()
                            if self.misuse_journal_parts else pd.DataFrame()),
            agencies=names.assign(level=[(["none", *SANCTION_STEPS])[v] for v in self.level],
                                  removed=self.removed, active_at_end=self.lawful.agency_active.copy()),
            yearly=pd.DataFrame(),
        )
        result.yearly = yearly_summary(result, self.human_rows_by_year)
        return result


def _statute(category: str) -> str:
    if category in DMV_CATEGORIES:
        return STATUTES["dmv"]
    if category == "achs_licensing":
        return STATUTES["achs"]
    if category in ("self_lookup", "family_lookup", "friend_lookup", "ex_partner_lookup"):
        return STATUTES["local"]
    return STATUTES["other"]


def _year_of(day_abs) -> np.ndarray:
    return pd.to_datetime(np.asarray(day_abs, dtype="int64"), unit="D").year.to_numpy()


def yearly_summary(r: OversightResult, human_rows: dict[int, int]) -> pd.DataFrame:
    """Per reported calendar year: truth, alerts, investigations, reports, compliance, CAC actions."""
    start = r.scenario.journal.start_date.year
    years = list(range(start, start + r.scenario.oversight.years))
    rows = []
    for y in years:
        t = r.truth[_year_of(r.truth["day"]) == y] if len(r.truth) else r.truth
        a = r.alerts[_year_of(r.alerts["day"]) == y] if len(r.alerts) else r.alerts
        inv = r.investigations
        closed = inv[inv["closed_day"].notna()] if len(inv) else inv
        closed = closed[_year_of(closed["closed_day"]) == y] if len(closed) else closed
        rep = r.reports[r.reports["report_year"] == y] if len(r.reports) else r.reports
        comp = r.compliance[r.compliance["report_year"] == y] if len(r.compliance) else r.compliance
        s = r.sanctions[_year_of(r.sanctions["day"]) == y] if len(r.sanctions) else r.sanctions
        row = dict(
            year=y,
            operator_queries=human_rows.get(y, 0),
            true_misuse_rows=len(t),
            true_misuse_incidents=int(t["incident_id"].nunique()) if len(t) else 0,
            alerts=len(a),
            alerts_reviewed=int((a["status"] == "reviewed").sum()) if len(a) else 0,
            alerts_dropped=int((a["status"] == "dropped").sum()) if len(a) else 0,
            investigations_closed=len(closed),
            investigations_confirmed=int(closed["confirmed"].sum()) if len(closed) else 0,
            reports_received=len(rep),
            reported_investigations=int(rep["investigations"].sum()) if len(rep) else 0,
            reported_misuse_found=int(rep["misuse_found"].sum()) if len(rep) else 0,
            reported_share=float(comp["reported_share"].iloc[0]) if len(comp) else float("nan"),
            sanctions=int(s["step"].isin(SANCTION_STEPS).sum()) if len(s) else 0,
        )
        for kind in ALERT_KINDS:
            row[f"alerts_{kind}"] = int((a["kind"] == kind).sum()) if len(a) else 0
        rows.append(row)
    return pd.DataFrame(rows)





def simulate_oversight(scenario: Scenario, seed: int | None = None, progress=None) -> OversightResult:
    """Run the oversight loop of a scenario (its `oversight.years` from `journal.start_date`)."""
    streams = Streams(seed if seed is not None else scenario.seed)
    model = OversightModel(scenario, streams)
    return model.run(progress)
