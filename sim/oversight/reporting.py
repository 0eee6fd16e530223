"""Form HDC 0010 and DOJ's follow-up: who files, when, and why.

One form per reporting unit, due Feb 1 for the preceding calendar year, listing the unit's
ORIs (bulletin 18-07-CJIS). CHP's area offices report through CHP Headquarters; an agency
with several ORIs files once; a removed agency cannot file but stays in the denominator.

A unit's propensity to file, on the logit scale, is

    z_u (its own diligence) + habit x [filed last year] + salience_u(t)

where salience sums DOJ's contacts (bulletin, reminder, calls, audits), a public listing
and CAC censures, each halving every ``salience_half_life_days``. A unit decides when the
season opens and again at each contact it receives. Under passive follow-up the only
decision is the first one, so the 2017 share identifies the diligence mean (fitted); the
2018 share is what the bulletin, outreach and listing then predict. Decision uniforms
come from the ``reporting`` stream, a full array per decision point, and timing draws
from the ``follow_up`` stream, so a unit's draws do not depend on what other processes do.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from sim.catalogue import CATEGORY_NAMES
from sim.config.oversight import OUTCOMES
from sim.errors import ScenarioError
from sim.world import day_number


def logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _agency_indices(agencies, names: list[str], field: str) -> np.ndarray:
    """Indices of named agencies; an unknown name is a scenario error naming the field."""
    index = {n: i for i, n in enumerate(agencies["name"])}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise ScenarioError(f"{field}: unknown agency {unknown[0]!r} in this topology "
                            f"(e.g. {', '.join(list(index)[:3])})")
    return np.array([index[n] for n in names], dtype=np.int64)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Reporting:
    def __init__(self, model):
        self.m = model
        self.cfg = rep = model.cfg.reporting
        self.fu = model.cfg.follow_up
        self.rng = model.rngs["reporting"]
        self.timing = model.rngs["follow_up"]
        ag = model.world.agencies
        types = ag["agency_type"].to_numpy()
        unit_of = np.arange(model.n_ag)
        hq = np.flatnonzero(types == "chp_hq")
        if len(hq):
            unit_of[types == "chp_area"] = hq[0]
        self.unit_of = unit_of  # agency -> the agency heading its reporting unit
        self.units = np.unique(unit_of)
        self.n_units = n = len(self.units)
        self.pos = np.full(model.n_ag, -1, dtype=np.int64)
        self.pos[self.units] = np.arange(n)
        self.members = [np.flatnonzero(unit_of == u) for u in self.units]
        federal = (types[self.units] == "federal")
        self.z = (logit(rep.base_propensity) + rep.heterogeneity_sd * self.rng.standard_normal(n)
                  + rep.federal_shift * federal)
        refusing = _agency_indices(ag, rep.refusing, "oversight.reporting.refusing")
        self.z[self.pos[unit_of[refusing]]] = -np.inf
        self.filed_last = self.rng.random(n) < sigmoid(self.z)  # history before the run
        self.underreports = self.rng.random(n) < rep.underreport_share
        self.salience = np.zeros(n)
        self.salience_k = np.zeros(n)
        self.filed: dict[int, np.ndarray] = {}  # report year -> loop day filed (-1: not yet)
        self.reports: list[dict] = []
        self.follow_ups: list[dict] = []
        self.compliance: list[dict] = []
        self.public_list: list[dict] = []
        self.decisions: list[dict] = []

    # ------------------------------------------------------------------ salience
    def _salience_now(self, k: int) -> np.ndarray:
        half = self.cfg.salience_half_life_days
        return self.salience * np.exp(-math.log(2) * (k - self.salience_k) / half)

    def contact(self, units_pos, kind: str, k: int) -> None:
        """An event the unit notices: its propensity rises by the event's effect, then decays."""
        units_pos = np.atleast_1d(np.asarray(units_pos, dtype=np.int64))
        now = self._salience_now(k)
        self.salience[units_pos] = now[units_pos] + self.cfg.effects.get(kind, 0.0)
        self.salience_k[units_pos] = k

    def contact_agency(self, agency: int, kind: str, k: int) -> None:
        self.contact(self.pos[self.unit_of[agency]], kind, k)

    def propensity(self, k: int) -> np.ndarray:
        return sigmoid(self.z + self.cfg.habit * self.filed_last + self._salience_now(k))

    def has_filed(self, agency: int, year: int) -> bool:
        f = self.filed.get(year)
        return f is not None and f[self.pos[self.unit_of[agency]]] >= 0

    # ------------------------------------------------------------------ processes
    def bulletin(self):
        """Process: DOJ's bulletin reaches every unit on its date."""
        d = self.fu.bulletin_date
        if d is None:
            return
        k = self.m.clock.k_of(d)
        if not 0 <= k < self.m.n_days:
            return
        if k > self.m.env.now:
            yield self.m.env.timeout(k - self.m.env.now)
        self.contact(np.arange(self.n_units), "bulletin", k)

    def seasons(self):
        """Process: each year's filing season, from the form for the year before the first
        reported one (it sets the history) to the last reported year."""
        m = self.m
        first = m.start.year
        for year in range(first - 1, first + m.cfg.years):
            opens = m.clock.k_of(date(year + 1, 1, 1))
            if opens < 0:
                continue
            if opens > m.env.now:
                yield m.env.timeout(opens - m.env.now)
            yield from self._season(year, opens)

    def _season(self, year: int, opens: int):
        m, fu, env = self.m, self.fu, self.m.env
        deadline = m.clock.k_of(date(year + 1, 2, 1))
        if year - 1 in self.filed:
            self.filed_last = self.filed[year - 1] >= 0
        filed = self.filed[year] = np.full(self.n_units, -1, dtype=np.int64)
        can = ~m.removed[self.units]
        self._decide(year, "season_opens", opens, can, opens, deadline - opens)
        points = []
        if fu.regime == "proactive":
            points.append(("reminder", deadline - fu.reminder_days_before, fu.reminder_days_before))
            points += [("call", deadline + c * fu.call_interval_days, 7)
                       for c in range(fu.calls_after_deadline)]
        for kind, k, spread in points:
            if k > env.now:
                yield env.timeout(k - env.now)
            left = can & (filed < 0) & ~m.removed[self.units]
            self._log_follow_up(year, "reminder" if kind == "reminder" else "outreach_call", k, left)
            self.contact(np.flatnonzero(left), kind, k)
            self._decide(year, kind, k, left, k + (kind == "call"), spread)
        outreach_end = max([deadline] + [k for _, k, _ in points])
        env.process(self._refer_non_reporters(year, outreach_end + 1))
        env.process(self._census(year, deadline + self.cfg.census_days_after_deadline, deadline))

    def _decide(self, year: int, point: str, k: int, eligible: np.ndarray, first: int, spread: int):
        """Each eligible unit files with its current propensity, on a day in [first, first+spread)."""
        u = self.rng.random(self.n_units)  # a full array: one unit's draw never depends on others
        t = self.timing.integers(0, max(spread, 1), self.n_units)
        p = self.propensity(k)
        go = eligible & (u < p)
        filed = self.filed[year]
        filed[go] = first + t[go]
        for j in np.flatnonzero(eligible).tolist():
            self.decisions.append(dict(report_year=year, point=point, day=self.m.clock.abs(k),
                                       agency=int(self.units[j]), propensity=float(p[j]),
                                       filed=bool(go[j])))
        for j in np.flatnonzero(go).tolist():
            self.m.env.process(self._submit(year, j, int(filed[j])))

    def _log_follow_up(self, year, kind, k, mask) -> None:
        for j in np.flatnonzero(mask).tolist():
            self.follow_ups.append(dict(report_year=year, kind=kind, day=self.m.clock.abs(k),
                                        agency=int(self.units[j])))

    def _submit(self, year: int, j: int, k: int):
        m = self.m
        if k > m.env.now:
            yield m.env.timeout(k - m.env.now)
        unit = int(self.units[j])
        if m.removed[unit]:
            self.filed[year][j] = -1
            return
        self.reports.append(self._form(year, j, k))

    def _form(self, year: int, j: int, k: int) -> dict:
        """What the unit writes on HDC 0010 for `year`: its cases closed that year, its audit
        findings, actions taken (some units leave cases out)."""
        m, rep = self.m, self.cfg
        members = set(self.members[j].tolist())
        lo, hi = day_number(date(year, 1, 1)), day_number(date(year + 1, 1, 1))
        mine = [c for c in m.cases.cases if c["agency"] in members and c["closed_day"] is not None
                and lo <= c["closed_day"] < hi]
        if self.underreports[j] and mine:
            # a stream of its own per form: how many cases a unit has (which audits change)
            # must not shift the filing-decision draws of every other unit
            rng = m.streams.fresh(f"oversight.reporting.underreport.{year}.{self.units[j]}")
            keep = rng.random(len(mine)) >= rep.underreport_fraction
            mine = [c for c, kk in zip(mine, keep) if kk]
        found = [c for c in mine if c["confirmed"]]
        oris = m.world.oris["ori"][m.world.oris["agency"].isin(members)]
        audited = [a for a in m.audits.rows if a["agency"] in members and lo <= a["day"] < hi]
        form = dict(report_year=year, agency=int(self.units[j]), submitted_day=m.clock.abs(k),
                    oris=",".join(oris), investigations=len(mine),
                    complaints=sum(c["agency"] in members and lo <= c["arrival_day"] < hi
                                   for c in m.complaints.rows),
                    misuse_found=len(found), violations=int(sum(c["violations"] for c in found)),
                    audit_findings=int(sum(a["unjustified"] for a in audited)))
        for o in OUTCOMES:
            form[f"action_{o}"] = sum(c["outcome"] == o for c in found)
        form["criminal_referrals"] = sum(c["referral"] is not None for c in found)
        if rep.eff_fields:
            form["individuals"] = len({c["operator"] for c in found})
            for cat in CATEGORY_NAMES:
                form[f"category_{cat}"] = int(sum(c["violations"] for c in found if c["category"] == cat))
        return form

    def _refer_non_reporters(self, year: int, k: int):
        """After the outreach period: non-reporters are posted and referred to the CAC."""
        m, fu = self.m, self.fu
        if k > m.env.now:
            yield m.env.timeout(k - m.env.now)
        if not (fu.public_listing or fu.refer_to_cac):
            return
        if fu.bulletin_date is not None and m.clock.date_of(k) < fu.bulletin_date:
            return  # listing and referral came with the bulletin
        missing = np.flatnonzero((self.filed[year] < 0) | (self.filed[year] > k))
        for j in missing.tolist():
            unit = int(self.units[j])
            if fu.public_listing:
                self.public_list.append(dict(report_year=year, agency=unit, listed_day=m.clock.abs(k)))
                self.contact(j, "listing", k)
            if fu.refer_to_cac:
                before = self.filed.get(year - 1)
                persistent = before is not None and before[j] < 0
                m.cac.refer(unit, "persistent_non_reporting" if persistent else "non_reporting", k,
                            f"no form for {year}", report_year=year)

    def _census(self, year: int, census: int, deadline: int):
        m = self.m
        if census > m.env.now:
            yield m.env.timeout(census - m.env.now)
        f = self.filed[year]
        got = (f >= 0) & (f < census)
        on_time = (f >= 0) & (f < deadline)
        self.compliance.append(dict(report_year=year, agencies=self.n_units, reported=int(got.sum()),
                                    reported_share=float(got.mean()),
                                    on_time_share=float(on_time.mean())))
