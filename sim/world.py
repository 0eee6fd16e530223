"""The synthetic world: agencies and their ORIs, operators, subjects, relations, media figures.

Everything is a column (numpy arrays, struct-of-arrays), built vectorized: Faker
supplies the *pools* (weighted first and last names, street names), seeded from the
``world`` stream, and numpy combines pool indices into millions of people. A
statewide world (5 million subjects, ~86,000 CLETS personnel) builds in seconds.

Agencies and devices come from the topology graph in the graph's order, which is
also the network model's order: device index i here is device i there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import networkx as nx
import numpy as np
import pandas as pd

from sim.config.world import World
from sim.rng import Streams

FULL_ACCESS, LESS_THAN_FULL, PRACTITIONER, ADMINISTRATOR = range(4)
QUERY_ROLES = (FULL_ACCESS, LESS_THAN_FULL)
RELATION_KINDS = ("household", "family", "ex_partner", "friend", "neighbour")
HOUSEHOLD, FAMILY, EX_PARTNER, FRIEND, NEIGHBOUR = range(len(RELATION_KINDS))
EPOCH = date(1970, 1, 1)
SHIFT_STARTS = np.array([6, 7, 14, 15, 22], dtype=np.int8)
SHIFT_WEIGHTS = np.array([0.30, 0.15, 0.25, 0.10, 0.20])
SHIFT_HOURS = 10


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the journal's day unit)."""
    return (d - EPOCH).days


@dataclass
class Subjects:
    """People who can be looked up; sorted by county (county_start gives the ranges)."""

    county: np.ndarray  # int16 index into World.counties
    first: np.ndarray  # int32 index into first-name pool
    last: np.ndarray  # int32 index into last-name pool
    sex: np.ndarray  # int8: 0 female, 1 male
    birth_day: np.ndarray  # int32 days since 1970 (negative before)
    household: np.ndarray  # int32
    street: np.ndarray  # int32 index into street pool
    house_number: np.ndarray  # int32
    dl_number: np.ndarray  # int32 (7 digits; the letter is derived)
    vehicles: np.ndarray  # int8
    firearms: np.ndarray  # int8
    criminal_history: np.ndarray  # bool
    restraining_order: np.ndarray  # bool
    high_profile: np.ndarray  # bool
    county_start: np.ndarray  # int64, len(counties) + 1

    def __len__(self) -> int:
        return len(self.county)


@dataclass
class Operators:
    """CLETS personnel (all four roles); only full and less-than-full access operators query."""

    agency: np.ndarray  # int32 index into World.agencies
    ori: np.ndarray  # int32 index into World.oris
    role: np.ndarray  # int8, see ROLES
    subject: np.ndarray  # int32: the operator as a person in the subject population
    device: np.ndarray  # int32 home terminal/MDT (-1 when the agency has none)
    shift_start: np.ndarray  # int8 hour
    workdays: np.ndarray  # uint8 bitmask, bit 0 = Monday
    hire_day: np.ndarray  # int32
    training_day: np.ndarray  # int32 (may be after the reference date: not yet trained)
    test_day: np.ndarray  # int32 last proficiency test before the reference date
    test_score: np.ndarray  # int8 percent
    renews_test: np.ndarray  # bool: retakes the biennial test on time
    confidentiality_day: np.ndarray  # int32 last annual DMV confidentiality statement
    renews_confidentiality: np.ndarray  # bool
    background_check: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.agency)

    def user_ids(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Credentials: 'U' + 6 digits for operators who can query, '' otherwise."""
        idx = np.arange(len(self.agency)) if idx is None else np.asarray(idx)
        can = np.isin(self.role[idx], QUERY_ROLES)
        return np.where(can, np.char.add("U", np.char.zfill((idx + 100000).astype(str), 6)), "")

    def certified_on(self, day: np.ndarray | int, idx: np.ndarray | None = None) -> np.ndarray:
        """Training done, biennial test current and passed, DMV statement current, on `day`."""
        idx = slice(None) if idx is None else idx
        day = np.asarray(day)
        trained = self.training_day[idx] <= day
        test_age = day - self.test_day[idx]
        test_ok = (test_age <= 730) | self.renews_test[idx]
        passed = self.test_score[idx] >= 70
        conf_ok = (day - self.confidentiality_day[idx] <= 365) | self.renews_confidentiality[idx]
        return trained & test_ok & passed & conf_ok & self.background_check[idx]


@dataclass
class RelationTable:
    """Operator -> subject relations in CSR form (rows sorted by operator)."""

    operator: np.ndarray  # int32
    subject: np.ndarray  # int32
    kind: np.ndarray  # int8, see RELATION_KINDS
    ptr: np.ndarray  # int64, len(operators) + 1

    def of(self, op: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.ptr[op], self.ptr[op + 1]
        return self.subject[a:b], self.kind[a:b]


@dataclass
class WorldModel:
    counties: list[str]
    agencies: pd.DataFrame  # node, name, ori, agency_type, county, county_idx, direct, dhs, device_start/end
    oris: pd.DataFrame  # ori, agency
    device_agency: np.ndarray  # int32 per device
    device_kind: np.ndarray  # int8 per device (0 terminal, 1 mdt)
    device_names: list[str]
    first_names: np.ndarray
    last_names: np.ndarray
    streets: np.ndarray
    subjects: Subjects
    operators: Operators
    relations: RelationTable
    high_profile_ids: np.ndarray
    reference_day: int
    excluded_oris: list[str] = field(default_factory=list)  # service removed: no traffic

    def subject_names(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        s = self.subjects
        return np.char.add(np.char.add(self.first_names[s.first[ids]], " "), self.last_names[s.last[ids]])

    def subject_frame(self, ids: np.ndarray) -> pd.DataFrame:
        """Readable records of some subjects (for trainers and case books)."""
        ids = np.asarray(ids)
        s = self.subjects
        letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return pd.DataFrame({
            "subject": ids,
            "name": self.subject_names(ids),
            "sex": np.where(s.sex[ids] == 1, "M", "F"),
            "birth_date": pd.to_datetime(s.birth_day[ids], unit="D"),
            "address": [f"{n} {st}" for n, st in zip(s.house_number[ids], self.streets[s.street[ids]])],
            "county": np.asarray(self.counties, dtype=object)[s.county[ids]],
            "driver_licence": np.char.add(letters[ids % 26], np.char.zfill(s.dl_number[ids].astype(str), 7)),
            "vehicles": s.vehicles[ids],
            "firearms": s.firearms[ids],
            "criminal_history": s.criminal_history[ids],
            "restraining_order": s.restraining_order[ids],
            "high_profile": s.high_profile[ids],
        })


# ---------------------------------------------------------------------- building


def _pools(cfg: World, rng: np.random.Generator):
    """Weighted name pools and street names from Faker (seeded from the world stream)."""
    from faker import Faker
    from faker.providers.address.en_US import Provider as Address
    from faker.providers.person.en_US import Provider as Person

    def weighted(d) -> tuple[np.ndarray, np.ndarray]:
        names = np.array(list(d.keys()))
        w = np.array(list(d.values()), dtype=float)
        return names, np.cumsum(w) / w.sum()

    female, female_cum = weighted(Person.first_names_female)
    male, male_cum = weighted(Person.first_names_male)
    last, last_cum = weighted(Person.last_names)
    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(2**31)))
    roots = np.array([fake.last_name() if i % 2 else fake.first_name() for i in range(cfg.name_pool_streets)])
    suffixes = np.array(Address.street_suffixes)
    streets = np.char.add(np.char.add(roots, " "), suffixes[rng.integers(0, len(suffixes), len(roots))])
    return (female, female_cum), (male, male_cum), (last, last_cum), streets


def _draw(cum: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1).astype(np.int32)


def build_world(graph: nx.DiGraph, cfg: World, streams: Streams, reference: date) -> WorldModel:
    """The world for a topology (deterministic in config, seed and reference date)."""
    rng = streams.fresh("world")
    ref = day_number(reference)

    # agencies and devices, in graph order (the network model's order)
    agency_nodes = [n for n, d in graph.nodes(data=True) if d["kind"] == "agency"]
    agency_index = {a: i for i, a in enumerate(agency_nodes)}
    dev_agency, dev_kind, dev_names = [], [], []
    for n, d in graph.nodes(data=True):
        if d["kind"] in ("terminal", "mdt"):
            dev_agency.append(agency_index[d["agency"]])
            dev_kind.append(0 if d["kind"] == "terminal" else 1)
            dev_names.append(n)
    device_agency = np.asarray(dev_agency, dtype=np.int32)
    device_kind = np.asarray(dev_kind, dtype=np.int8)
    counties = sorted({graph.nodes[n]["county"] for n in graph if graph.nodes[n]["kind"] == "msc"})
    county_index = {c: i for i, c in enumerate(counties)}
    populations = np.array([graph.nodes[f"msc:{c}"]["population"] for c in counties], dtype=np.int64)
    n_dev = np.bincount(device_agency, minlength=len(agency_nodes))
    first_dev = np.full(len(agency_nodes), -1, dtype=np.int64)
    seen = np.unique(device_agency, return_index=True)
    first_dev[seen[0]] = seen[1]
    agencies = pd.DataFrame({
        "node": agency_nodes,
        "name": [graph.nodes[a]["name"] for a in agency_nodes],
        "ori": [graph.nodes[a]["ori"] for a in agency_nodes],
        "agency_type": [graph.nodes[a]["agency_type"] for a in agency_nodes],
        "county": [graph.nodes[a]["county"] for a in agency_nodes],
        "county_idx": [county_index.get(graph.nodes[a]["county"], -1) for a in agency_nodes],
        "direct": [bool(graph.nodes[a]["direct_connect"]) for a in agency_nodes],
        "dhs": [bool(graph.nodes[a].get("dhs", False)) for a in agency_nodes],
        "devices": n_dev,
        "device_start": first_dev,
    })

    # ORIs: the agency's own plus one per `ori_per_devices` devices (stations, bureaus)
    extra = n_dev // cfg.ori_per_devices
    ori_agency = np.repeat(np.arange(len(agency_nodes)), 1 + extra)
    ori_k = np.concatenate([np.arange(1 + e) for e in extra]) if len(extra) else np.zeros(0, int)
    base = agencies["ori"].tolist()  # 9 characters ending in "00"; extra ORIs end 01, 02, ...
    oris = pd.DataFrame({
        "ori": [base[a][:7] + f"{k:02d}" for a, k in zip(ori_agency.tolist(), ori_k.tolist())],
        "agency": ori_agency,
    })
    ori_start = np.concatenate([[0], np.cumsum(1 + extra)])

    (fem, fem_cum), (mal, mal_cum), (last, last_cum), streets = _pools(cfg, rng)
    first_names = np.concatenate([fem, mal])

    subjects = _build_subjects(cfg, rng, populations, fem_cum, mal_cum, last_cum, len(fem), len(streets),
                               ref)
    operators = _build_operators(cfg, rng, agencies, device_agency, n_dev, ori_start, subjects, ref)
    relations = _build_relations(cfg, rng, operators, subjects)

    # media figures, weighted by county population (subjects are, already)
    n_hp = min(len(subjects), max(1, round(cfg.high_profile_per_million * len(subjects) / 1e6)))
    hp = rng.choice(len(subjects), size=n_hp, replace=False) if n_hp else np.zeros(0, dtype=np.int64)
    subjects.high_profile[hp] = True

    return WorldModel(
        counties=counties, agencies=agencies, oris=oris, device_agency=device_agency,
        device_kind=device_kind, device_names=dev_names, first_names=first_names, last_names=last,
        streets=streets, subjects=subjects, operators=operators, relations=relations,
        high_profile_ids=np.sort(hp).astype(np.int32), reference_day=ref,
    )


def _build_subjects(cfg: World, rng, populations, fem_cum, mal_cum, last_cum, n_fem, n_streets,
                    ref: int) -> Subjects:
    per_county = np.maximum(cfg.min_subjects_per_county,
                            np.round(populations * cfg.subjects_per_resident)).astype(np.int64)
    n = int(per_county.sum())
    county = np.repeat(np.arange(len(populations), dtype=np.int16), per_county)
    county_start = np.concatenate([[0], np.cumsum(per_county)])
    # households: sizes 1 + Poisson(mean - 1), laid end to end; a household never spans counties
    sizes = 1 + rng.poisson(cfg.household_mean - 1, size=int(n / cfg.household_mean * 1.2) + 10)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    is_start = np.zeros(n, dtype=bool)
    is_start[starts[starts < n]] = True
    is_start[county_start[:-1][per_county > 0]] = True
    household = (np.cumsum(is_start) - 1).astype(np.int32)
    n_house = int(household[-1]) + 1 if n else 0
    # shared per household: last name, street, house number
    h_last = _draw(last_cum, rng, n_house)
    h_street = rng.integers(0, n_streets, n_house).astype(np.int32)
    h_number = rng.integers(100, 20000, n_house).astype(np.int32)
    last = h_last[household]
    other = rng.random(n) < 0.12  # partners and housemates with their own surname
    last[other] = _draw(last_cum, rng, int(other.sum()))
    sex = (rng.random(n) < 0.5).astype(np.int8)
    first = np.where(sex == 0, _draw(fem_cum, rng, n), n_fem + _draw(mal_cum, rng, n)).astype(np.int32)
    age_days = rng.integers(16 * 365, 90 * 365, n)
    birth_day = (ref - age_days).astype(np.int32)
    vehicles = np.where(rng.random(n) < cfg.vehicle_owner_share, 1 + rng.poisson(0.6, n), 0).astype(np.int8)
    firearms = np.where(rng.random(n) < cfg.firearm_owner_share, 1 + rng.poisson(1.0, n), 0).astype(np.int8)
    return Subjects(
        county=county, first=first, last=last, sex=sex, birth_day=birth_day, household=household,
        street=h_street[household], house_number=h_number[household],
        dl_number=rng.integers(0, 10_000_000, n).astype(np.int32), vehicles=vehicles, firearms=firearms,
        criminal_history=rng.random(n) < cfg.criminal_history_share,
        restraining_order=rng.random(n) < cfg.restraining_order_share,
        high_profile=np.zeros(n, dtype=bool), county_start=county_start,
    )


def _build_operators(cfg: World, rng, agencies: pd.DataFrame, device_agency, n_dev, ori_start,
                     subjects: Subjects, ref: int) -> Operators:
    n_ag = len(agencies)
    # an agency without a terminal or MDT has no CLETS operator (nothing to query from)
    per_agency = np.where(n_dev > 0, np.maximum(1, np.round(n_dev * cfg.operators_per_device)),
                          0).astype(np.int64)
    agency = np.repeat(np.arange(n_ag, dtype=np.int32), per_agency)
    n = len(agency)
    role = _draw(np.cumsum(cfg.roles.as_array()), rng, n).astype(np.int8)
    n_ori = np.diff(ori_start)
    ori = (ori_start[agency] + (rng.random(n) * n_ori[agency]).astype(np.int64)).astype(np.int32)
    # home device: any device of the agency
    dev_start = agencies["device_start"].to_numpy()
    device = np.where(n_dev[agency] > 0,
                      dev_start[agency] + (rng.random(n) * n_dev[agency]).astype(np.int64), -1)
    # the operator as a person: a distinct subject of the agency's county (any county if direct)
    county = agencies["county_idx"].to_numpy()[agency]
    subject = np.empty(n, dtype=np.int64)
    cs = subjects.county_start
    for c in np.unique(county):
        mine = np.flatnonzero(county == c)
        lo, hi = (cs[c], cs[c + 1]) if c >= 0 else (0, len(subjects))
        k = min(len(mine), hi - lo)
        pick = lo + rng.choice(hi - lo, size=len(mine), replace=len(mine) > k)
        subject[mine] = pick
    # training and certification relative to the reference day
    comp = cfg.compliance
    hire = ref - rng.integers(30, 25 * 365, n)
    late = rng.random(n) < comp.late_training
    training = hire + np.where(late, rng.integers(181, 540, n), rng.integers(0, 181, n))
    test_lapsed = rng.random(n) < comp.proficiency_lapsed
    test_day = np.where(test_lapsed, ref - rng.integers(731, 1500, n), ref - rng.integers(0, 731, n))
    test_day = np.maximum(test_day, np.minimum(training, ref))
    failed = rng.random(n) < comp.proficiency_failed
    score = np.where(failed, rng.integers(40, 70, n), np.clip(np.round(rng.normal(86, 7, n)), 70, 100))
    conf_lapsed = rng.random(n) < comp.confidentiality_lapsed
    conf_day = np.where(conf_lapsed, ref - rng.integers(366, 900, n), ref - rng.integers(0, 366, n))
    first_dow = rng.integers(0, 7, n)
    workdays = np.zeros(n, dtype=np.uint8)
    for k in range(4):  # four ten-hour days a week
        workdays |= (1 << ((first_dow + k) % 7)).astype(np.uint8)
    return Operators(
        agency=agency, ori=ori, role=role, subject=subject.astype(np.int32), device=device.astype(np.int32),
        shift_start=SHIFT_STARTS[_draw(np.cumsum(SHIFT_WEIGHTS), rng, n)], workdays=workdays,
        hire_day=hire.astype(np.int32), training_day=training.astype(np.int32),
        test_day=test_day.astype(np.int32), test_score=score.astype(np.int8),
        renews_test=~test_lapsed, confidentiality_day=conf_day.astype(np.int32),
        renews_confidentiality=~conf_lapsed,
        background_check=rng.random(n) >= comp.no_background_check,
    )


def _pick_in_blocks(block_of: np.ndarray, order: np.ndarray, ptr: np.ndarray, rng) -> np.ndarray:
    """For each query row, a random member of its block (blocks given by a CSR over `order`)."""
    lo, hi = ptr[block_of], ptr[block_of + 1]
    return order[lo + (rng.random(len(block_of)) * (hi - lo)).astype(np.int64)]


def _build_relations(cfg: World, rng, ops: Operators, subj: Subjects) -> RelationTable:
    n_ops = len(ops)
    me = ops.subject.astype(np.int64)
    parts_op, parts_subj, parts_kind = [], [], []

    def add(op_idx, subjects, kind):
        keep = subjects != me[op_idx]
        parts_op.append(op_idx[keep])
        parts_subj.append(subjects[keep])
        parts_kind.append(np.full(int(keep.sum()), kind, dtype=np.int8))

    # household members (subjects are laid out by household: neighbours in the array)
    for off in (-7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7):
        cand = np.clip(me + off, 0, len(subj) - 1)
        same = subj.household[cand] == subj.household[me]
        add(np.flatnonzero(same), cand[same], HOUSEHOLD)
    # relatives elsewhere: same surname, anywhere in the state
    by_last = np.argsort(subj.last, kind="stable")
    last_ptr = np.searchsorted(subj.last[by_last], np.arange(subj.last.max() + 2))
    k = rng.poisson(cfg.relations.family, n_ops)
    op_idx = np.repeat(np.arange(n_ops), k)
    add(op_idx, _pick_in_blocks(subj.last[me[op_idx]], by_last, last_ptr, rng), FAMILY)
    # friends and ex-partners: same county; ex-partners of the other sex where one is found
    cs = subj.county_start
    for kind, mean in ((FRIEND, cfg.relations.friends), (EX_PARTNER, cfg.relations.ex_partners)):
        k = rng.poisson(mean, n_ops)
        op_idx = np.repeat(np.arange(n_ops), k)
        c = subj.county[me[op_idx]].astype(np.int64)
        lo, hi = cs[c], cs[c + 1]
        pick = lo + (rng.random(len(op_idx)) * (hi - lo)).astype(np.int64)
        if kind == EX_PARTNER:
            for _ in range(4):  # resample same-sex picks a few times
                same = subj.sex[pick] == subj.sex[me[op_idx]]
                pick[same] = lo[same] + (rng.random(int(same.sum())) * (hi - lo)[same]).astype(np.int64)
        add(op_idx, pick, kind)
    # neighbours: same street in the same county
    key = subj.county.astype(np.int64) * (subj.street.max() + 1) + subj.street
    by_street = np.argsort(key, kind="stable")
    sorted_key = key[by_street]
    k = rng.poisson(cfg.relations.neighbours, n_ops)
    op_idx = np.repeat(np.arange(n_ops), k)
    want = key[me[op_idx]]
    lo = np.searchsorted(sorted_key, want, side="left")
    hi = np.searchsorted(sorted_key, want, side="right")
    add(op_idx, by_street[lo + (rng.random(len(op_idx)) * (hi - lo)).astype(np.int64)], NEIGHBOUR)

    op = np.concatenate(parts_op).astype(np.int32)
    sj = np.concatenate(parts_subj).astype(np.int32)
    kd = np.concatenate(parts_kind)
    order = np.argsort(op, kind="stable")
    op, sj, kd = op[order], sj[order], kd[order]
    ptr = np.searchsorted(op, np.arange(n_ops + 1)).astype(np.int64)
    return RelationTable(op, sj, kd, ptr)

