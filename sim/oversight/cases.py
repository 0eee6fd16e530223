"""Agencies' monthly alert reviews and their investigations.

* reviews (``review`` stream): on the first of each month an agency reviews as many queued
  alerts as its investigator budget allows (the rest wait or are dropped); a reviewed alert
  may open a case on the operator (one open case per operator);
* investigations (``investigation`` stream): a case takes time, confirms misuse with some
  probability, may count the operator's other misuse, and ends in an outcome whose odds
  depend on severity (a serial snooper or data seller is likelier to be dismissed and
  prosecuted than a one-off curious lookup). A criminal referral names the statutes of the
  data touched. Cases also open from audits and from internal affairs (the Carlsbad case:
  an unrelated inquiry into an officer finds a CLETS violation).
"""

from __future__ import annotations

import numpy as np

from sim.catalogue import ARCHETYPES, CATEGORY_NAMES, MESSAGE_KEYS
from sim.config.oversight import OUTCOMES
from sim.detection import ALERT_KINDS

# Statutes by the data a misuse touched (DMV records; the state's criminal history; other
# criminal-justice records reached through the local agency; and changing a record)
STATUTES = {
    "dmv": "Vehicle Code 1808.45",
    "state_history": "Penal Code 11141-11143",
    "local": "Penal Code 13302-13304",
    "tampering": "Government Code 6200",
}
DISMISSAL = ("resignation", "termination")


def statutes_for(keys: list[str]) -> str:
    """The statutes a prosecutor would cite for misuse of these message keys."""
    by_key = {k.key: k for k in MESSAGE_KEYS}
    found = []
    for key in keys:
        mk = by_key.get(key)
        if mk is None:
            continue
        if mk.update:
            found.append(STATUTES["tampering"])
        elif mk.database == "DMV":
            found.append(STATUTES["dmv"])
        elif mk.database == "ACHS":
            found.append(STATUTES["state_history"])
        else:
            found.append(STATUTES["local"])
    order = list(STATUTES.values())
    return "; ".join(sorted(set(found), key=order.index)) or STATUTES["local"]


class Cases:
    def __init__(self, model):
        self.m = model
        self.cfg = inv = model.cfg.investigation
        self.review_rng = model.rngs["review"]
        self.rng = model.rngs["investigation"]
        n_ag = model.n_ag
        ops_per_agency = np.bincount(model.world.operators.agency, minlength=n_ag)
        self.budget = inv.budget_base + inv.budget_per_100_operators * ops_per_agency / 100
        self.credit = np.zeros(n_ag)
        self.queues: list[list[np.ndarray]] = [[] for _ in range(n_ag)]
        ag = model.world.agencies
        self.investigates = ~ag["dhs"].to_numpy() | inv.dhs_investigates
        self.severe = np.isin(np.arange(len(ARCHETYPES)),
                              [ARCHETYPES.index(a) for a in inv.severe_archetypes])
        self.open_case: dict[int, int] = {}
        self.cases: list[dict] = []
        self.discipline: list[dict] = []
        self.reviewed: list[tuple[int, int]] = []
        self.dropped: list[np.ndarray] = []

    # ------------------------------------------------------------------ queues
    def enqueue(self, alerts, ids: np.ndarray) -> None:
        ag = alerts["agency"].to_numpy()
        order = np.argsort(ag, kind="stable")
        bounds = np.searchsorted(ag[order], np.arange(self.m.n_ag + 1))
        for a in np.flatnonzero(np.diff(bounds)).tolist():
            if not self.m.removed[a]:
                self.queues[a].append(ids[order[bounds[a]:bounds[a + 1]]])

    def clear(self, agency: int) -> None:
        self.queues[agency] = []

    def reviews(self):
        """Process: the first of each month, every agency reviews up to its budget."""
        env = self.m.env
        while True:
            k = int(env.now)
            if k > 0 and self.m.clock.date_of(k).day == 1:
                self._review_month(k, self.m.alert_columns)
            yield env.timeout(1)

    def _review_month(self, k: int, alerts) -> None:
        inv = self.cfg
        self.credit += self.budget
        qid_col, op_col = alerts["query_id"], alerts["operator"]
        kind_col, score_col = alerts["kind"], alerts["score"]
        complaint = ALERT_KINDS.index("complaint")
        for a in range(self.m.n_ag):
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
            draws = self.review_rng.random(len(take))
            for aid, u in zip(take.tolist(), draws.tolist()):
                self.reviewed.append((aid, self.m.clock.abs(k)))
                op = int(op_col[aid])
                if op in self.open_case or not self.investigates[a]:
                    continue
                misuse, category, archetype = self._is_misuse(qid_col[aid], op, k)
                if kind_col[aid] == complaint:
                    p = inv.open_complaint
                else:
                    p = inv.open_if_misuse if misuse else inv.open_if_lawful
                if u < p:
                    self.open(k, a, op, ALERT_KINDS[kind_col[aid]], misuse, category, archetype,
                              alert_id=aid)

    def _is_misuse(self, qid: float, op: int, k: int) -> tuple[bool, int, int]:
        """Answer key for a reviewed alert: the query itself, or the operator's recent misuse."""
        led = self.m.ledger
        if not np.isnan(qid):
            t = led.truth_by_qid.get(int(qid))
            if t is not None:
                return True, t[0], t[1]
            return False, -1, -1
        recent = k - led.op_last_misuse[op] <= 60
        if not recent:
            return False, -1, -1
        return True, int(led.op_last_category[op]), int(led.op_last_archetype[op])

    # ------------------------------------------------------------------ investigations
    def open(self, k, agency, op, source, misuse, category, archetype, alert_id=-1,
             forced_outcome: str | None = None) -> dict | None:
        """Open a case on an operator (none if one is open, they were dismissed, or the agency
        opens no cases, as DHS components did not)."""
        if op in self.open_case or self.m.dismissed[op] or not self.investigates[agency]:
            return None
        cid = len(self.cases)
        self.open_case[op] = cid
        case = dict(case_id=cid, agency=agency, operator=op, alert_id=alert_id, source=source,
                    opened_day=self.m.clock.abs(k), closed_day=None, truly_misuse=bool(misuse),
                    confirmed=None, violations=0,
                    category=CATEGORY_NAMES[category] if category >= 0 else "",
                    archetype=ARCHETYPES[archetype] if archetype >= 0 else "",
                    severe=bool(archetype >= 0 and self.severe[archetype]),
                    outcome=None, referral=None)
        self.cases.append(case)
        self.m.env.process(self._investigate(case, forced_outcome))
        return case

    def _investigate(self, case, forced_outcome):
        inv, rng, m = self.cfg, self.rng, self.m
        u = rng.random(5)  # duration, confirm, expand, outcome, referral: fixed count per case
        yield m.env.timeout(max(1, int(-inv.mean_days * np.log1p(-u[0]))))
        k = int(m.env.now)
        op = case["operator"]
        confirmed = u[1] < (inv.confirm_if_misuse if case["truly_misuse"] else inv.confirm_if_lawful)
        case["closed_day"] = m.clock.abs(k)
        case["confirmed"] = bool(confirmed)
        del self.open_case[op]
        if not confirmed:
            case["outcome"] = "no_misuse"
            m.behaviour.on_case_closed(k, op, case["agency"], False, False)
            return
        led = m.ledger
        violations = 1
        if case["truly_misuse"] and u[2] < inv.expand_to_other_queries:
            violations = max(1, int(led.op_misuse_rows[op]))
        case["violations"] = violations
        if not case["category"]:
            last = int(led.op_last_category[op])
            case["category"] = CATEGORY_NAMES[last] if last >= 0 else "unspecified"
        outcome = forced_outcome or self._outcome(case["severe"], u[3])
        case["outcome"] = outcome
        p_ref = inv.severe_criminal_referral if case["severe"] else inv.criminal_referral
        if forced_outcome is not None or u[4] < p_ref:
            keys = led.operator_keys(op) if case["truly_misuse"] else []
            case["referral"] = statutes_for(keys)
        self.discipline.append(dict(day=m.clock.abs(k), case_id=case["case_id"], operator=op,
                                    agency=case["agency"], outcome=outcome, referral=case["referral"]))
        publicised = case["referral"] is not None or outcome in DISMISSAL
        m.behaviour.on_case_closed(k, op, case["agency"], True, publicised)
        if outcome in DISMISSAL:
            m.dismissed[op] = True
            m.lawful.active[op] = False
        elif outcome == "suspension" and not m.dismissed[op]:
            m.lawful.active[op] = False
            m.env.process(self._reinstate(op, inv.suspension_days))

    def _outcome(self, severe: bool, u: float) -> str:
        w = np.array([self.cfg.outcome_shares.get(o, 0.0) for o in OUTCOMES], dtype=float)
        if severe:
            w[[OUTCOMES.index(o) for o in DISMISSAL]] *= self.cfg.severe_dismissal_odds
        return OUTCOMES[int(np.searchsorted(np.cumsum(w) / w.sum(), u, side="right"))]

    def _reinstate(self, op, days):
        yield self.m.env.timeout(days)
        if not self.m.dismissed[op]:
            self.m.lawful.active[op] = True

    # ------------------------------------------------------------------ internal affairs
    def internal_affairs(self, incidents):
        """Process: inquiries opened for reasons outside CLETS (an officer charged with a crime)
        look at the officer's CLETS use too; a violation found leads to a charge."""
        env, m = self.m.env, self.m
        if "external_investigation_day" not in incidents or not len(incidents):
            return
        ext = incidents["external_investigation_day"].to_numpy(dtype=float, na_value=np.nan)
        todo = sorted((int(d) - m.clock.first_day, i) for i, d in enumerate(ext)
                      if not np.isnan(d) and d >= 0)
        for k, i in todo:
            if k >= m.journal_days:
                break
            if k > env.now:
                yield env.timeout(k - env.now)
            op = int(incidents["actors"].iat[i][0])
            agency = int(m.world.operators.agency[op])
            found = m.ledger.op_misuse_rows[op] > 0
            cat = int(m.ledger.op_last_category[op]) if found else -1
            arch = ARCHETYPES.index(incidents["archetype"].iat[i])
            self.open(int(env.now), agency, op, "internal_affairs", found, cat, arch,
                      forced_outcome="termination")
