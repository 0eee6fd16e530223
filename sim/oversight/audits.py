"""DOJ audits: a procedure on the logs and the registry, with consequences.

An audit of an agency samples up to ``sample_per_operator`` of each operator's logged
transactions over the log retention period (3 years; never before the simulation began)
and asks the agency to justify each one. A sampled misuse row fails unless the operator
covers it (``cover_story_probability``, by category: a routine audit checks procedure, so
a purpose misuse with a case number usually passes; a targeted audit asks about purpose);
a row with neither a case number nor the right to know entered is harder to cover
(``cover_without_case``).
A lawful row fails now and then (a paperwork gap: a procedural finding, not a case). The auditors also check the registry:
training, biennial test, confidentiality statement, background check.

Sampling is exact without keeping the journal: an operator's sample holds a
hypergeometric number of their misuse rows (their misuse rows in the window among all
their logged rows), which are then picked at random. Operators with failed rows face an
investigation by their agency (DHS components open none: their finding goes to the CAC
as agency misuse); findings appear on the agency's next form; agency-level findings go to
the CAC as recommendations. Auditor-days are a yearly budget; an audit that does not fit
waits for the next year. Draws come from the ``audit`` stream only.
"""

from __future__ import annotations

import heapq
from datetime import date

import numpy as np

from sim.catalogue import ARCHETYPES, CATEGORY_NAMES
from sim.world import QUERY_ROLES

AGENCY_PURPOSE = ARCHETYPES.index("agency_purpose")


class Audits:
    def __init__(self, model):
        self.m = model
        self.cfg = model.cfg.audits
        self.rng = model.rngs["audit"]
        w = model.world
        self.query_op = np.isin(w.operators.role, QUERY_ROLES)
        n_ops_q = np.bincount(w.operators.agency[self.query_op], minlength=model.n_ag)
        self.cost = self.cfg.days_base + self.cfg.days_per_100_operators * n_ops_q / 100
        cycle = self.cfg.cycle_years * 365
        self.offset = self.rng.integers(0, cycle, model.n_ag)  # each agency's place in the cycle
        self.rows: list[dict] = []
        self.spent: dict[int, float] = {}

    def _schedule(self) -> list[tuple[int, int, int, int]]:
        """(loop day, order, agency, targeted audit index or -1), in date order."""
        m, au = self.m, self.cfg
        events = []
        if au.cyclical:
            cycle = au.cycle_years * 365
            for a in range(m.n_ag):
                events += [(k, 1, a, -1) for k in range(int(self.offset[a]), m.journal_days, cycle)]
        dhs = np.flatnonzero(m.world.agencies["dhs"].to_numpy())
        for j, t in enumerate(au.targeted):
            targets = dhs if t.agencies == "dhs" else np.arange(m.n_ag)
            for year in (t.years or range(m.start.year, m.start.year + m.cfg.years)):
                k = m.clock.k_of(date(year, 1, 1)) + t.day_of_year - 1
                if 0 <= k < m.journal_days:
                    events += [(k, 0, int(a), j) for a in targets]
        heapq.heapify(events)
        return events

    def process(self):
        m, env = self.m, self.m.env
        events = self._schedule()
        while events:
            k, order, a, j = heapq.heappop(events)
            if k > env.now:
                yield env.timeout(k - env.now)
            if m.removed[a]:
                continue
            year = m.clock.date_of(k).year
            if self.spent.get(year, 0.0) + self.cost[a] > self.cfg.auditor_days_per_year:
                nxt = m.clock.k_of(date(year + 1, 1, 1))
                if nxt < m.journal_days:
                    heapq.heappush(events, (nxt, order, a, j))
                continue
            self.spent[year] = self.spent.get(year, 0.0) + self.cost[a]
            self._audit(k, a, j)

    def _audit(self, k: int, a: int, j: int) -> None:
        m, au, rng = self.m, self.cfg, self.rng
        t = au.targeted[j] if j >= 0 else None
        cover = {**au.cover_story_by_category, **(t.cover_story_by_category if t else {})}
        p_cover = np.array([cover.get(c, au.cover_story_probability) for c in CATEGORY_NAMES])
        n_sample = (t.sample_per_operator if t and t.sample_per_operator else au.sample_per_operator)
        lo, hi = m.lawful.op_ptr[a], m.lawful.op_ptr[a + 1]
        ops = np.arange(lo, hi)[self.query_op[lo:hi]]
        k_from = max(0, k - au.retention_days)
        logged = m.ledger.rows_in_window(ops, k_from, k)
        mis = m.ledger.rows()
        sel = np.flatnonzero((mis["k"] >= k_from) & (mis["k"] < k) & np.isin(mis["op"], ops))
        local = np.searchsorted(ops, mis["op"][sel])
        n_mis = np.bincount(local, minlength=len(ops))
        logged = np.maximum(logged, n_mis)
        sampled = np.minimum(n_sample, logged)
        has = sampled > 0
        hits = np.zeros(len(ops), dtype=np.int64)
        if has.any():
            hits[has] = rng.hypergeometric(n_mis[has], logged[has] - n_mis[has], sampled[has])
        failed_rows = []
        for i in np.flatnonzero(hits).tolist():
            rows_i = sel[local == i]
            picked = rng.choice(rows_i, size=int(hits[i]), replace=False)
            p = p_cover[mis["category"][picked]] * np.where(mis["has_case"][picked], 1.0,
                                                              au.cover_without_case)
            covered = rng.random(len(picked)) < p
            failed_rows += picked[~covered].tolist()
        lawful_failed = rng.binomial(sampled - hits, au.lawful_unjustified)
        day = m.clock.abs(k)
        certified = m.world.operators.certified_on(day, ops)
        noncompliant = float((~certified).mean()) if len(ops) else 0.0
        failed_rows = np.array(sorted(failed_rows), dtype=np.int64)
        purpose = bool(len(failed_rows) and (mis["archetype"][failed_rows] == AGENCY_PURPOSE).any())
        finding = bool(len(failed_rows)) or noncompliant > au.finding_share
        self.rows.append(dict(
            day=day, agency=a, kind="targeted" if t else "cyclical", operators=len(ops),
            sampled=int(sampled.sum()), misuse_sampled=int(hits.sum()), unjustified=len(failed_rows),
            lawful_unjustified=int(lawful_failed.sum()), noncompliant_share=round(noncompliant, 4),
            incidents_found=int(len(np.unique(mis["incident"][failed_rows]))),
            archetypes=",".join(sorted({ARCHETYPES[x] for x in mis["archetype"][failed_rows]})),
            finding=finding, auditor_days=float(self.cost[a])))
        # consequences: investigations of the operators found, the agency's next form, the CAC
        cases = m.cases
        for r in failed_rows.tolist():
            if cases.investigates[a]:
                cases.open(k, a, int(mis["op"][r]), "audit", True, int(mis["category"][r]),
                           int(mis["archetype"][r]))
        m.reporting.contact_agency(a, "audit", k)
        m.behaviour.on_audit(k, a)
        if purpose:
            m.cac.refer(a, "agency_misuse", k, "audit: lookups for a purpose the PPP prohibits")
        elif finding:
            m.cac.refer(a, "audit_finding", k, f"audit: {len(failed_rows)} unjustified, "
                                                f"{noncompliant:.0%} operators out of compliance")
        if finding:
            m.behaviour.on_audit_finding(k, a)
