"""Injected misuse: archetypes that start incidents over the horizon and the rows they log.

The whole horizon's misuse is generated up front (it is small: thousands to a few
hundred thousand rows a year) as journal rows plus answer-key columns
(`category`, `archetype`, `incident_id`), and an incidents table (actors, victims,
category, start, end). `sim.journal` merges the rows into each day's lawful traffic
and keeps the answer key in a separate table.

Archetypes (catalogue in `sim.catalogue`): the Minnesota-style background of
occasional questionable lookups by many users (a few make many), the lone serial
snooper (Glendale), a misunderstood rule spread over a unit (Chula Vista) and its
very large version (the 2023 sheriff's office), the serious case (Carlsbad), the
agency-level purpose misuse (DHS/ICE), credential sharing, curiosity bursts after a
news event, and data for hire.

Misuse rows also carry ``right_to_know`` (what the operator entered as right to know on
an ACHS row, -1 none), drawn from a stream of its own so the other columns' draws do
not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.catalogue import ARCHETYPES, CATEGORY_NAMES, KEY_NAMES, PURPOSES, RIGHT_TO_KNOW
from sim.config.journal import Incidents, Misuse
from sim.errors import ScenarioError
from sim.traffic import (
    ACHS_KEY_IDX,
    DAY,
    ROW_DTYPES,
    LawfulTraffic,
    categorical,
    concat_rows,
    cum,
    shift_times,
)
from sim.world import (
    EX_PARTNER,
    FAMILY,
    FRIEND,
    HOUSEHOLD,
    NEIGHBOUR,
    PRACTITIONER,
    QUERY_ROLES,
    WorldModel,
    day_number,
)

K = {k: i for i, k in enumerate(KEY_NAMES)}
P = {p: i for i, p in enumerate(PURPOSES)}
C = {c: i for i, c in enumerate(CATEGORY_NAMES)}
A = {a: i for i, a in enumerate(ARCHETYPES)}

# message keys each category tends to use (weights)
CATEGORY_KEYS = {
    "self_lookup": {"DL": 4, "QW": 3, "QH": 2, "RV": 1},
    "family_lookup": {"DL": 4, "QW": 2, "QH": 3, "RV": 2},
    "friend_lookup": {"DL": 4, "QW": 2, "QH": 2, "RV": 2},
    "ex_partner_lookup": {"DL": 5, "RV": 3, "QH": 2, "RO": 1},
    "giving_data_to_others": {"DL": 5, "RV": 4, "QH": 1},
    "sharing_credentials": {"DL": 4, "RV": 3, "QW": 2, "QH": 1},
    "allowing_login_use": {"DL": 4, "RV": 3, "QW": 2, "QH": 1},
    "achs_licensing": {"QH": 8, "QR": 2},
    "firearm_prepurchase": {"QG": 1},
    "dmv_personal_lookup": {"RV": 5, "DL": 5},
    "high_profile_lookup": {"DL": 4, "QH": 3, "RV": 2, "QW": 1},
    "immigration_enforcement": {"DL": 6, "RV": 4},
    "personal_gain": {"DL": 6, "RV": 4},
    "colleague_request_unverified": {"DL": 4, "RV": 3, "QH": 2},
    "out_of_county_no_action": {"DL": 4, "RV": 3, "QW": 2, "QH": 1},
    "screen_viewing_by_nonusers": {"DL": 3, "RV": 3, "QW": 3, "QH": 1},
}
KEY_CUM = {c: cum(w, KEY_NAMES) for c, w in CATEGORY_KEYS.items()}
# case number entered on misuse rows (cover stories are rare) except where noted
COVER_CASE = {"screen_viewing_by_nonusers": 0.55, "immigration_enforcement": 0.5,
              "sharing_credentials": 0.3, "allowing_login_use": 0.3}


@dataclass
class MisuseSet:
    rows: dict[str, np.ndarray]  # journal columns + category, archetype, incident_id; sorted by time
    incidents: pd.DataFrame


class MisuseGenerator:
    def __init__(self, world: WorldModel, cfg: Misuse, lawful: LawfulTraffic, rng: np.random.Generator,
                 rtk_rng: np.random.Generator | None = None):
        self.world = world
        self.cfg = cfg
        self.lawful = lawful
        self.rng = rng
        # right-to-know draws: a separate stream (spawning does not advance `rng`)
        self.rtk_rng = rtk_rng if rtk_rng is not None else rng.spawn(1)[0]
        ops = world.operators
        self.query_ops = np.flatnonzero(np.isin(ops.role, QUERY_ROLES)).astype(np.int32)
        # misuse.agencies: only these agencies' operators misuse (agency_purpose keeps DHS)
        self.allowed = np.ones(len(world.agencies), dtype=bool)
        if cfg.agencies:
            names = world.agencies["name"].tolist()
            unknown = [a for a in cfg.agencies if a not in names]
            if unknown:
                raise ScenarioError(f"misuse.agencies: unknown agency {unknown[0]!r} in this topology "
                                    f"(e.g. {', '.join(names[:3])})")
            self.allowed = world.agencies["name"].isin(cfg.agencies).to_numpy()
            self.query_ops = self.query_ops[self.allowed[ops.agency[self.query_ops]]]
            if not len(self.query_ops):
                raise ScenarioError(f"misuse.agencies: {', '.join(cfg.agencies)} have no operators "
                                    "who can query")
        self.parts: list[dict[str, np.ndarray]] = []
        self.incidents: list[dict] = []
        self.used: set[int] = set()  # operators picked so far (misuse.distinct_actors)

    # ------------------------------------------------------------------ plumbing
    def _incident(self, archetype: str, category: str, actors, victims, start_day, end_day, n,
                  external_investigation_day: int = -1) -> int:
        iid = len(self.incidents)
        ag = int(self.world.operators.agency[actors[0]]) if len(actors) else -1
        self.incidents.append(dict(
            incident_id=iid, archetype=archetype, category=category,
            agency_ori=self.world.agencies["ori"].iat[ag] if ag >= 0 else "",
            actors=[int(a) for a in actors], victims=[int(v) for v in np.unique(victims)],
            start_day=int(start_day), end_day=int(end_day), n_queries=int(n),
            external_investigation_day=int(external_investigation_day)))
        return iid

    def _right_to_know(self, archetype: str, keys: np.ndarray, purposes: np.ndarray) -> np.ndarray:
        """Right to know entered on ACHS rows (-1 none): the licensing authority when the stated
        purpose is licensing (the misunderstood CCW rule), else the criminal-justice one."""
        section = getattr(self.cfg, archetype, None)
        p = getattr(section, "right_to_know_probability", None)
        p = self.cfg.right_to_know_probability if p is None else p
        entered = np.isin(keys, ACHS_KEY_IDX) & (self.rtk_rng.random(len(keys)) < p)
        code = np.where(purposes == P["licensing"], RIGHT_TO_KNOW.index("PC 26150"),
                        RIGHT_TO_KNOW.index("PC 11105"))
        return np.where(entered, code, -1).astype(np.int8)

    def _emit(self, ops, days, subjects, categories, archetype: str, incident_ids, off_share: float,
              keys=None, purposes=None, requestor=None, device=None, case_p=None) -> None:
        """Append misuse rows (one per element) with times on or off the actor's shift."""
        rng, lawful = self.rng, self.lawful
        n = len(ops)
        if n == 0:
            return
        ops = np.asarray(ops, dtype=np.int32)
        categories = np.broadcast_to(np.asarray(categories), n).astype(np.int16)
        off = rng.random(n) < off_share
        time = shift_times(self.world, ops, np.asarray(days), ~off, rng.random(n))
        if keys is None:
            keys = np.empty(n, dtype=np.int8)
            for c in np.unique(categories):
                m = categories == c
                keys[m] = categorical(KEY_CUM[CATEGORY_NAMES[c]], rng.random(int(m.sum())))
        keys = np.broadcast_to(np.asarray(keys), n).astype(np.int8)
        agency = self.world.operators.agency[ops]
        if purposes is None:
            purposes = lawful.purposes(agency, keys, rng.random(n))
        if device is None:
            home = self.world.operators.device[ops]
            device = np.where(home >= 0, home, lawful.agency_device(agency, rng.random(n)))
        if case_p is None:
            case_p = np.array([COVER_CASE.get(CATEGORY_NAMES[c], 0.12) for c in categories])
        day_arr = np.asarray(days, dtype=np.int64)
        case = np.where(rng.random(n) < case_p,
                        (1970 + day_arr // 365) * 10_000_000 + rng.integers(1, 9_999_999, n), 0)
        purposes = np.broadcast_to(np.asarray(purposes), n).astype(np.int8)
        self.parts.append({
            "time": time,
            "operator": ops,
            "requestor": (np.full(n, -1) if requestor is None else np.asarray(requestor)).astype(np.int32),
            "device": np.broadcast_to(np.asarray(device), n).astype(np.int32),
            "ori": self.world.operators.ori[ops],
            "key": keys,
            "subject": np.asarray(subjects, dtype=np.int32),
            "purpose": purposes,
            "case_number": case.astype(np.int64),
            "right_to_know": self._right_to_know(archetype, keys, purposes),
            "category": categories,
            "archetype": np.full(n, A[archetype], dtype=np.int8),
            "incident_id": np.broadcast_to(np.asarray(incident_ids), n).astype(np.int32),
        })

    def _count(self, inc: Incidents, years: float) -> int:
        """How many incidents: exactly `inc.incidents` when given, else a Poisson count."""
        if inc.incidents is not None:
            return inc.incidents
        return int(self.rng.poisson(inc.incidents_per_year * years * self.cfg.prevalence_scale))

    def _start(self, inc: Incidents, first: int, last: int, after: int = 0) -> int:
        """An incident's first day: uniform over the horizon; with an exact count, placed so the
        incident (and `after` more days, e.g. an inquiry it triggers) ends inside it."""
        if inc.incidents is None:
            return int(self.rng.integers(first, last))
        latest = last - int(np.ceil(inc.duration_days)) - after
        return int(self.rng.integers(first, max(first, latest) + 1))

    def _pick_ops(self, k: int, pool: np.ndarray | None = None) -> np.ndarray:
        pool = self.query_ops if pool is None else pool
        if self.cfg.distinct_actors:  # operators no earlier incident used, while enough remain
            fresh = pool[~np.isin(pool, list(self.used))]
            pool = fresh if len(fresh) >= min(k, len(pool)) else pool
        picked = self.rng.choice(pool, size=min(k, len(pool)), replace=False).astype(np.int32)
        self.used.update(picked.tolist())
        return picked

    def _days_in(self, start: int, length: float, n: int, first: int, last: int) -> np.ndarray:
        d = start + (self.rng.random(n) * length).astype(np.int64)
        return np.clip(d, first, last - 1)

    # ------------------------------------------------------------------ archetypes
    def generate(self, first_day: int, days: int) -> MisuseSet:
        last = first_day + days
        years = days / 365.0
        cfg = self.cfg
        self._occasional(first_day, last, years)
        self._simple(cfg.lone_snooper, "lone_snooper", first_day, last, years)
        self._rule(cfg.misunderstood_rule, "misunderstood_rule", first_day, last, years)
        self._rule(cfg.mass_rule, "mass_rule", first_day, last, years, sheriff_only=True)
        self._serious_case(first_day, last, years)
        self._agency_purpose(first_day, last)
        self._credential_sharing(first_day, last, years)
        self._curiosity(first_day, last, years)
        self._simple(cfg.data_for_hire, "data_for_hire", first_day, last, years)
        rows = concat_rows(self.parts) if self.parts else _empty_misuse()
        rows = {f: v for f, v in rows.items()}
        keep = (rows["time"] >= first_day * DAY) & (rows["time"] < last * DAY)
        order = np.argsort(rows["time"][keep], kind="stable")
        rows = {f: v[keep][order] for f, v in rows.items()}
        incidents = pd.DataFrame(self.incidents, columns=[
            "incident_id", "archetype", "category", "agency_ori", "actors", "victims", "start_day",
            "end_day", "n_queries", "external_investigation_day"])
        if len(incidents):
            counts = np.bincount(rows["incident_id"], minlength=len(incidents))
            incidents["n_queries"] = counts
            incidents = incidents[incidents["n_queries"] > 0].reset_index(drop=True)
        return MisuseSet(rows, incidents)

    def _occasional(self, first: int, last: int, years: float) -> None:
        o = self.cfg.occasional
        rng, w = self.rng, self.world
        if o.incidents is not None:  # exactly this many users, each at least one lookup
            users = np.sort(self._pick_ops(o.incidents))
        else:
            users = self.query_ops[rng.random(len(self.query_ops)) < o.user_share]
        sigma = o.heavy_tail_sigma
        rate = o.lookups_per_year * rng.lognormal(-sigma**2 / 2, sigma, len(users))
        n = rng.poisson(rate * years * self.cfg.prevalence_scale) + (o.incidents is not None)
        users, n = users[n > 0], n[n > 0]
        ops = np.repeat(users, n)
        m = len(ops)
        if m == 0:
            return
        cat_cum = cum(o.category_mix, CATEGORY_NAMES)
        cats = categorical(cat_cum, rng.random(m)).astype(np.int16)
        subjects, requestor = self._subjects_for(ops, cats)
        first_iid = len(self.incidents)
        for j, (op, k) in enumerate(zip(users.tolist(), n.tolist())):
            self.incidents.append(dict(
                incident_id=first_iid + j, archetype="occasional", category="mixed",
                agency_ori=w.agencies["ori"].iat[int(w.operators.agency[op])], actors=[op],
                victims=[], start_day=first, end_day=last, n_queries=k,
                external_investigation_day=-1))
        iids = np.repeat(np.arange(first_iid, first_iid + len(users), dtype=np.int32), n)
        days = self._days_in(first, last - first, m, first, last)
        self._emit(ops, days, subjects, cats, "occasional", iids, o.off_shift_share,
                   requestor=requestor)

    def _subjects_for(self, ops: np.ndarray, cats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Victim of each occasional lookup, by category; requestor for colleague requests."""
        rng, w, pop = self.rng, self.world, self.lawful.pop
        m = len(ops)
        county = pop.op_county[ops]
        subj = pop.local(county, rng.random(m))
        requestor = np.full(m, -1, dtype=np.int32)

        def rel(cat: str, kinds: tuple[int, ...]) -> None:
            sel = np.flatnonzero(cats == C[cat])
            if len(sel):
                r = pop.relation(ops[sel], rng.random(len(sel)), kinds)
                subj[sel] = np.where(r >= 0, r, subj[sel])

        sel = cats == C["self_lookup"]
        subj[sel] = w.operators.subject[ops[sel]]
        rel("family_lookup", (HOUSEHOLD, FAMILY))
        rel("friend_lookup", (FRIEND,))
        rel("ex_partner_lookup", (EX_PARTNER,))
        rel("dmv_personal_lookup", (NEIGHBOUR,))
        sel = cats == C["high_profile_lookup"]
        hp = w.high_profile_ids
        if sel.any() and len(hp):
            subj[sel] = hp[(rng.random(int(sel.sum())) * len(hp)).astype(np.int64)]
        for cat in ("out_of_county_no_action", "giving_data_to_others", "colleague_request_unverified"):
            sel = cats == C[cat]
            subj[sel] = pop.anywhere(rng.random(int(sel.sum())))
        if (cats == C["out_of_county_no_action"]).any():  # make sure it is out of county
            sel = np.flatnonzero(cats == C["out_of_county_no_action"])
            for _ in range(3):
                same = w.subjects.county[subj[sel]] == county[sel]
                subj[sel[same]] = pop.anywhere(rng.random(int(same.sum())))
        sel = cats == C["colleague_request_unverified"]
        requestor[sel] = self.lawful.colleague(ops[sel], rng.random(int(sel.sum())))
        return subj, requestor

    def _simple(self, inc: Incidents, archetype: str, first: int, last: int, years: float) -> None:
        """One actor, a few victims, lookups spread over the incident's duration."""
        rng, w, pop = self.rng, self.world, self.lawful.pop
        for _ in range(self._count(inc, years)):
            start = self._start(inc, first, last)
            actor = self._pick_ops(1)
            if archetype == "lone_snooper":  # a man looking up women he found attractive
                self.used.discard(int(actor[0]))  # drawn, then replaced by a man
                men = self.query_ops[w.subjects.sex[w.operators.subject[self.query_ops]] == 1]
                actor = self._pick_ops(1, men if len(men) else None)
            n = int(rng.integers(inc.lookups.min, inc.lookups.max + 1))
            op = np.repeat(actor, n)
            county = pop.op_county[op]
            if archetype == "lone_snooper":
                cands = pop.local(county[:1].repeat(60), rng.random(60))
                women = cands[w.subjects.sex[cands] == 0][: max(3, n // 3)]
                victims = women[rng.integers(0, len(women), n)] if len(women) else cands[:n]
                cats = C["dmv_personal_lookup"]
            else:  # data_for_hire: addresses for a third party, statewide
                victims = pop.anywhere(rng.random(n))
                cats = np.where(rng.random(n) < 0.7, C["personal_gain"], C["giving_data_to_others"])
            category = CATEGORY_NAMES[int(np.atleast_1d(cats)[0])] if archetype != "data_for_hire" \
                else "personal_gain"
            iid = self._incident(archetype, category, actor, victims, start, start + inc.duration_days, n)
            days = self._days_in(start, inc.duration_days, n, first, last)
            self._emit(op, days, victims, cats, archetype, iid, inc.off_shift_share)

    def _serious_case(self, first: int, last: int, years: float) -> None:
        """Carlsbad (seed 004): an officer is charged with stalking an ex-partner; the
        internal-affairs investigation that follows (external_investigation_day) finds a few
        CLETS lookups made days before, unrelated to the ex-partner. The lookups are the misuse
        rows; the stalking itself is not in the journal."""
        inc = self.cfg.serious_case
        rng, w, pop = self.rng, self.world, self.lawful.pop
        for _ in range(self._count(inc, years)):
            start = self._start(inc, first, last, inc.investigation_delay_days.max)
            actor = self._pick_ops(1)
            n = int(rng.integers(inc.lookups.min, inc.lookups.max + 1))
            subj, kinds = w.relations.of(int(actor[0]))
            exes = subj[kinds == EX_PARTNER]
            friend = pop.relation(actor, rng.random(1), (FRIEND,))[0]
            if friend >= 0 and friend not in exes and rng.random() < inc.friend_share:
                victim, category = friend, "friend_lookup"
            else:  # a personal DMV lookup of a local resident, never the ex-partner
                county = pop.op_county[actor]
                victim = pop.local(county, rng.random(1))[0]
                while victim in exes:
                    victim = pop.local(county, rng.random(1))[0]
                category = "dmv_personal_lookup"
            days = self._days_in(start, inc.duration_days, n, first, last)
            delay = int(rng.integers(inc.investigation_delay_days.min,
                                     inc.investigation_delay_days.max + 1))
            iid = self._incident("serious_case", category, actor, [victim], start,
                                 start + inc.duration_days, n,
                                 external_investigation_day=int(days.max(initial=start)) + delay)
            self._emit(np.repeat(actor, n), days, np.full(n, victim), C[category], "serious_case",
                       iid, inc.off_shift_share)

    def _rule(self, inc: Incidents, archetype: str, first: int, last: int, years: float,
              sheriff_only: bool = False) -> None:
        """A unit runs CCW/licensing applicants through ACHS, believing it is allowed."""
        rng, w, pop = self.rng, self.world, self.lawful.pop
        types = w.agencies["agency_type"].to_numpy()
        eligible = np.isin(types, ["sheriff"] if sheriff_only else ["sheriff", "police"]) & self.allowed
        for _ in range(self._count(inc, years)):
            sizes = w.agencies["devices"].to_numpy() * eligible
            if sizes.sum() == 0:
                return
            agency = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
            lo, hi = self.lawful.op_ptr[agency], self.lawful.op_ptr[agency + 1]
            pool = np.arange(lo, hi)[np.isin(w.operators.role[lo:hi], QUERY_ROLES)].astype(np.int32)
            if len(pool) == 0:
                continue
            k = int(rng.integers(inc.actors.min, inc.actors.max + 1))
            actors = self._pick_ops(k, pool)
            n = int(rng.integers(inc.lookups.min, inc.lookups.max + 1))
            op = actors[rng.integers(0, len(actors), n)]
            victims = pop.local(np.full(n, w.agencies["county_idx"].iat[agency]), rng.random(n))
            start = self._start(inc, first, last)
            iid = self._incident(archetype, "achs_licensing", actors, victims, start,
                                 start + inc.duration_days, n)
            stated = np.array([P["licensing"], P["employment"], P["investigation"]])
            purposes = stated[categorical(np.array([0.6, 0.7, 1.0]), rng.random(n))]
            days = self._days_in(start, inc.duration_days, n, first, last)
            self._emit(op, days, victims, C["achs_licensing"], archetype, iid, inc.off_shift_share,
                       purposes=purposes)

    def _agency_purpose(self, first: int, last: int) -> None:
        """DHS immigration-enforcement components run DMV lookups for immigration purposes."""
        ap = self.cfg.agency_purpose
        if ap.agencies == "none":
            return
        # before the PPP rule (February 2019) these lookups were not misuse: none generated
        first = max(first, day_number(ap.rule_effective))
        if first >= last:
            return
        rng, w, pop = self.rng, self.world, self.lawful.pop
        ag = w.agencies
        targets = np.flatnonzero(ag["dhs"].to_numpy() & ag["name"].str.contains("ICE").to_numpy())
        for agency in targets.tolist():
            lo, hi = self.lawful.op_ptr[agency], self.lawful.op_ptr[agency + 1]
            pool = np.arange(lo, hi)[np.isin(w.operators.role[lo:hi], QUERY_ROLES)].astype(np.int32)
            n = int(rng.poisson(ap.lookups_per_agency_day * (last - first) * self.cfg.prevalence_scale))
            if len(pool) == 0 or n == 0:
                continue
            actors = self._pick_ops(ap.actors_per_agency, pool)
            op = actors[rng.integers(0, len(actors), n)]
            victims = pop.anywhere(rng.random(n))
            iid = self._incident("agency_purpose", "immigration_enforcement", actors, victims, first,
                                 last, n)
            days = self._days_in(first, last - first, n, first, last)
            self._emit(op, days, victims, C["immigration_enforcement"], "agency_purpose", iid, 0.05,
                       purposes=P["investigation"])

    def _credential_sharing(self, first: int, last: int, years: float) -> None:
        """An operator lends a login: rows carry the owner's id but another person's device/shift."""
        inc = self.cfg.credential_sharing
        rng, w, pop = self.rng, self.world, self.lawful.pop
        for _ in range(self._count(inc, years)):
            owner = self._pick_ops(1)
            agency = int(w.operators.agency[owner[0]])
            lo, hi = self.lawful.op_ptr[agency], self.lawful.op_ptr[agency + 1]
            others = np.arange(lo, hi)
            others = others[others != owner[0]]
            # the borrower: preferably someone without a login (practitioner) or uncertified
            weak = others[(w.operators.role[others] == PRACTITIONER)
                          | ~w.operators.certified_on(w.reference_day, others)]
            pool = weak if len(weak) else others
            if self.cfg.distinct_actors and len(pool):  # someone no earlier incident involved
                fresh = pool[~np.isin(pool, list(self.used))]
                pool = fresh if len(fresh) else pool
            borrower = int(rng.choice(pool)) if len(pool) else int(owner[0])
            self.used.add(borrower)
            n = int(rng.integers(inc.lookups.min, inc.lookups.max + 1))
            lends_session = rng.random() < 0.5
            category = "allowing_login_use" if lends_session else "sharing_credentials"
            start = self._start(inc, first, last)
            victims = pop.local(np.full(n, pop.op_county[owner[0]]), rng.random(n))
            iid = self._incident("credential_sharing", category, [owner[0], borrower], victims, start,
                                 start + inc.duration_days, n)
            days = self._days_in(start, inc.duration_days, n, first, last)
            # times follow the borrower's shift; the device is the borrower's unless a session is lent
            dev_b = w.operators.device[borrower]
            device = w.operators.device[owner[0]] if lends_session or dev_b < 0 else dev_b
            n_rows_before = len(self.parts)
            self._emit(np.full(n, borrower, dtype=np.int32), days, victims, C[category],
                       "credential_sharing", iid, inc.off_shift_share, device=device)
            if len(self.parts) > n_rows_before:  # logged under the owner's credentials
                part = self.parts[-1]
                part["operator"][:] = owner[0]
                part["ori"][:] = w.operators.ori[owner[0]]

    def _curiosity(self, first: int, last: int, years: float) -> None:
        inc = self.cfg.curiosity_burst
        rng, w = self.rng, self.world
        if not len(w.high_profile_ids):
            return
        for _ in range(self._count(inc, years)):
            star = int(rng.choice(w.high_profile_ids))
            k = int(rng.integers(inc.lookups.min, inc.lookups.max + 1))
            actors = self._pick_ops(k)
            start = self._start(inc, first, last)
            iid = self._incident("curiosity_burst", "high_profile_lookup", actors, [star], start,
                                 start + inc.duration_days, len(actors))
            # interest decays after the news: exponential delay, mean a third of the window
            delay = np.minimum(rng.exponential(inc.duration_days / 3, len(actors)), inc.duration_days)
            days = np.clip(start + delay.astype(np.int64), first, last - 1)
            self._emit(actors, days, np.full(len(actors), star), C["high_profile_lookup"],
                       "curiosity_burst", iid, inc.off_shift_share)


def _empty_misuse() -> dict[str, np.ndarray]:
    rows = {f: np.zeros(0, dtype=dt) for f, dt in ROW_DTYPES.items()}
    rows.update(right_to_know=np.zeros(0, np.int8), category=np.zeros(0, np.int16),
                archetype=np.zeros(0, np.int8), incident_id=np.zeros(0, np.int32))
    return rows
