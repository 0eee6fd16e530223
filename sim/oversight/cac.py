"""The CLETS Advisory Committee: referred items taken up "for consideration and action".

DOJ refers items (a unit without a form after the outreach period, a persistent
non-reporter, agency-level misuse, an audit finding). At each meeting the CAC discusses
every open item; an item whose agency has meanwhile filed the missing form is closed.
After ``deliberation_meetings`` discussions the CAC acts on the item with
``act_probability[kind]`` (``cac`` stream, one draw per item and meeting in item order)
or closes it without action. The first action on an agency is ``first_step[kind]``
(censure by default); an action on a later item of the same agency climbs one step:
censure -> suspension -> removal of service. A suspended unit's traffic stops for
``suspension_days``; a removed one's for good.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from sim.config.oversight import SANCTION_STEPS


class Cac:
    def __init__(self, model):
        self.m = model
        self.cfg = model.cfg.cac
        self.rng = model.rngs["cac"]
        self.level = np.zeros(model.n_ag, dtype=np.int8)  # 0 none, 1 censure, 2 suspension, 3 removal
        self.items: list[dict] = []
        self.meetings: list[dict] = []
        self.sanctions: list[dict] = []

    def refer(self, agency: int, kind: str, k: int, detail: str, report_year: int | None = None) -> None:
        """An item for the committee. Its `conduct_year` is the year of the conduct it answers
        (the report year for a missing form, else the year of the finding), so an action
        taken after that year is still counted against it."""
        conduct = report_year if report_year is not None else self.m.clock.date_of(k).year
        self.items.append(dict(item_id=len(self.items), agency=int(agency), kind=kind,
                               referred_day=self.m.clock.abs(k), report_year=report_year,
                               conduct_year=conduct, detail=detail, discussed=0, status="open",
                               closed_day=None, action=None))

    def process(self):
        m, env, cac = self.m, self.m.env, self.cfg
        start = m.start.year
        meetings = sorted(m.clock.k_of(date(y, 1, 1)) + d - 1
                          for y in range(start - 1, start + m.cfg.years + 2)
                          for d in cac.meeting_days_of_year)
        for k in meetings:
            if k < 0:
                continue
            if k >= m.n_days:
                break
            if k > env.now:
                yield env.timeout(k - env.now)
            self._meet(k)

    def _meet(self, k: int) -> None:
        m, cac = self.m, self.cfg
        day = m.clock.abs(k)
        open_items = [it for it in self.items if it["status"] == "open" and it["referred_day"] < day]
        draws = self.rng.random(len(open_items))
        actions = 0
        for it, u in zip(open_items, draws.tolist()):
            it["discussed"] += 1
            if it["report_year"] is not None and m.reporting.has_filed(it["agency"], it["report_year"]):
                it.update(status="closed", closed_day=day, action="filed meanwhile")
                continue
            if m.removed[it["agency"]]:
                it.update(status="closed", closed_day=day, action="already removed")
                continue
            if it["discussed"] < cac.deliberation_meetings:
                continue
            if cac.enforce and u < cac.act_probability.get(it["kind"], 0.0):
                step = self._step(it)
                it.update(status="acted", closed_day=day, action=step)
                self._sanction(k, it["agency"], step, f"{it['kind']}: {it['detail']}", it)
                actions += 1
            else:
                it.update(status="closed", closed_day=day, action="discussed, no action")
        self.meetings.append(dict(day=day, items_discussed=len(open_items),
                                  referrals=sum(it["discussed"] == 1 for it in open_items),
                                  sanctions=actions))

    def _step(self, item: dict) -> str:
        level = int(self.level[item["agency"]])
        if level == 0:
            return self.cfg.first_step.get(item["kind"], "censure")
        return SANCTION_STEPS[min(level, len(SANCTION_STEPS) - 1)]

    def _sanction(self, k: int, agency: int, step: str, why: str, item: dict) -> None:
        m = self.m
        day = m.clock.abs(k)
        self.level[agency] = max(self.level[agency], SANCTION_STEPS.index(step) + 1)
        self.sanctions.append(dict(day=day, agency=agency, step=step, reason=why,
                                   item_id=item["item_id"], conduct_year=item["conduct_year"]))
        members = m.reporting.members[m.reporting.pos[m.reporting.unit_of[agency]]]
        m.behaviour.on_sanction(k, agency)
        if step == "censure":
            m.reporting.contact_agency(agency, "censure", k)
        elif step == "suspension":
            m.reporting.contact_agency(agency, "censure", k)
            m.lawful.agency_active[members] = False
            m.env.process(self._restore(agency, members, day))
        elif step == "removal":
            m.lawful.agency_active[members] = False
            m.removed[members] = True
            for a in members.tolist():
                m.cases.clear(a)

    def _restore(self, agency, members, since):
        yield self.m.env.timeout(self.cfg.suspension_days)
        if not self.m.removed[agency]:
            self.m.lawful.agency_active[members] = True
            self.sanctions.append(dict(day=since + self.cfg.suspension_days, agency=agency,
                                       step="service_restored", reason="suspension ended",
                                       item_id=None, conduct_year=None))
