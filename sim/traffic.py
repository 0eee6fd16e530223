"""Lawful query traffic for the journal, one day at a time, fully vectorized.

Two kinds of rows:

* **operator queries** (~100,000 a day statewide): full and less-than-full access
  operators on their shift (four ten-hour days a week), a few off shift; the rate
  depends on role and agency type, the day of the week, and whether the operator
  is still active; keys, databases, purposes, case numbers and requestors follow
  the scenario's mixes; subjects are mostly local, sometimes out of county, and at
  a small natural base rate one of the operator's relations or a media figure (so
  detection rules have realistic false positives).
* **automated checks** (~2.7 million a day): CAD, licence-plate readers and MDT
  auto-queries attributed to a device and its agency, with no operator. They carry
  most of the volume and matter for capacity, not for oversight.

Automated rows are drawn already sorted in time (order statistics of the day's
arrival-time distribution, O(n)); operator and misuse rows are few and merged in by
position, so a day costs no O(n log n) sort of its millions of rows.
"""

from __future__ import annotations

import numpy as np

from sim.arrivals import hourly_profile
from sim.catalogue import ACHS_KEYS, KEY_DATABASE, KEY_NAMES, MESSAGE_KEYS, PURPOSES
from sim.config import Diurnal
from sim.config.journal import Queries
from sim.world import FULL_ACCESS, LESS_THAN_FULL, SHIFT_HOURS, WorldModel

DAY = 86400
# columns of a block of journal rows (plain numpy arrays; -1 = none)
ROW_FIELDS = ("time", "operator", "requestor", "device", "ori", "key", "subject", "purpose",
              "case_number")
ROW_DTYPES = dict(time=np.int64, operator=np.int32, requestor=np.int32, device=np.int32,
                  ori=np.int32, key=np.int8, subject=np.int32, purpose=np.int8,
                  case_number=np.int64)
ACHS_KEY_IDX = np.array([KEY_NAMES.index(k) for k in ACHS_KEYS])
IS_ACHS_KEY = np.isin(np.arange(len(KEY_NAMES)), ACHS_KEY_IDX)  # by key index
UPDATE_KEY = np.array([k.update for k in MESSAGE_KEYS])
KEY_DB = np.array(KEY_DATABASE, dtype=np.int8)
P = {p: i for i, p in enumerate(PURPOSES)}

# stated purposes of lawful queries by agency type (weights)
PURPOSE_MIX = {
    "patrol": {"investigation": 30, "traffic_stop": 40, "warrant_service": 10, "case_followup": 15,
               "booking": 5},
    "probation": {"probation_supervision": 70, "investigation": 20, "case_followup": 10},
    "legal": {"court_proceeding": 60, "case_followup": 40},
    "other": {"investigation": 60, "case_followup": 40},
}
PURPOSE_GROUP = {"sheriff": "patrol", "police": "patrol", "chp_area": "patrol", "chp_hq": "patrol",
                 "probation": "probation", "district_attorney": "legal", "court": "legal",
                 "other_local": "other", "state": "other", "federal": "other"}
GROUPS = tuple(PURPOSE_MIX)


def empty_rows() -> dict[str, np.ndarray]:
    return {f: np.zeros(0, dtype=ROW_DTYPES[f]) for f in ROW_FIELDS}


def concat_rows(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if len(p["time"])]
    if not parts:
        return empty_rows()
    return {f: np.concatenate([p[f] for p in parts]).astype(ROW_DTYPES.get(f, parts[0][f].dtype),
                                                            copy=False)
            for f in parts[0]}


def take_rows(rows: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {f: v[idx] for f, v in rows.items()}


def cum(weights: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    w = np.array([weights.get(n, 0.0) for n in names], dtype=float)
    return np.cumsum(w) / w.sum()


def categorical(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1)


class CategoricalTable:
    """`categorical(cumulative, u)` for a fixed `cumulative`, by table lookup.

    u's bucket of width 1/4096 (u * 4096 is exact) holds the answer unless one of the
    cumulative weights falls strictly inside the bucket; those few rows (and the edge
    buckets) take the binary search. Same results, a fraction of the time.
    """

    BUCKETS = 1 << 12

    def __init__(self, cumulative: np.ndarray):
        self.cum = np.asarray(cumulative, dtype=float)
        edges = np.arange(self.BUCKETS + 1) / self.BUCKETS
        below = np.searchsorted(self.cum, edges[:-1], side="right")  # weights <= bucket start
        inside = np.searchsorted(self.cum, edges[1:], side="left") != below  # weights in the bucket
        self.answer = np.minimum(below, len(self.cum) - 1)
        self.exact = ~inside
        self.exact[[0, -1]] = False  # u < 0 or u >= 1 would land here: search

    def __call__(self, u: np.ndarray) -> np.ndarray:
        b = np.clip((u * self.BUCKETS).astype(np.int64), 0, self.BUCKETS - 1)
        out = self.answer[b]
        unsure = np.flatnonzero(~self.exact[b])
        if len(unsure):
            out[unsure] = categorical(self.cum, u[unsure])
        return out


def weekday(day: int) -> int:
    """Monday = 0 (1970-01-01, day 0, was a Thursday)."""
    return (day + 3) % 7


class Population:
    """Fast subject picks: local (county range), statewide, relations, media figures."""

    def __init__(self, world: WorldModel):
        self.world = world
        s = world.subjects
        self.county_start = s.county_start
        self.n = len(s)
        self.agency_county = world.agencies["county_idx"].to_numpy()
        self.op_county = self.agency_county[world.operators.agency]
        self._kind_index: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # relation kinds -> CSR

    def local(self, county: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A uniform subject of each row's county (statewide where county is -1)."""
        c = np.maximum(county, 0)
        lo = np.where(county >= 0, self.county_start[c], 0)
        hi = np.where(county >= 0, self.county_start[c + 1], self.n)
        return (lo + (u * (hi - lo)).astype(np.int64)).astype(np.int32)

    def anywhere(self, u: np.ndarray) -> np.ndarray:
        return (u * self.n).astype(np.int32)

    def relation(self, ops: np.ndarray, u: np.ndarray, kinds: tuple[int, ...] | None = None
                 ) -> np.ndarray:
        """A random relation of each operator (of the given kinds), -1 where it has none."""
        rel = self.world.relations
        if kinds is None:
            lo, hi = rel.ptr[ops], rel.ptr[ops + 1]
            has = hi > lo
            idx = lo + (u * (hi - lo)).astype(np.int64)
            return np.where(has, rel.subject[np.minimum(idx, len(rel.subject) - 1)], -1).astype(np.int32)
        # the int(u * k)-th of the operator's k relations of those kinds (in table order)
        key = tuple(sorted(kinds))
        if key not in self._kind_index:
            ok = np.isin(rel.kind, kinds)  # matching relations before each table row, and where
            self._kind_index[key] = (np.concatenate([[0], np.cumsum(ok)]), np.flatnonzero(ok))
        before, matching = self._kind_index[key]
        first, k = before[rel.ptr[ops]], before[rel.ptr[ops + 1]] - before[rel.ptr[ops]]
        j = np.minimum((u * k).astype(np.int64), np.maximum(k - 1, 0))
        pick = matching[np.minimum(first + j, max(len(matching) - 1, 0))] if len(matching) else first
        return np.where(k > 0, rel.subject[pick] if len(matching) else -1, -1).astype(np.int32)


def shift_times(world: WorldModel, ops: np.ndarray, day: np.ndarray, on_shift: np.ndarray,
                u: np.ndarray) -> np.ndarray:
    """Seconds since 1970 of a query by each operator on `day`: in the shift or outside it."""
    start = world.operators.shift_start[ops].astype(np.int64) * 3600
    inside = start + (u * SHIFT_HOURS * 3600).astype(np.int64)
    outside = start + SHIFT_HOURS * 3600 + (u * (24 - SHIFT_HOURS) * 3600).astype(np.int64)
    return day.astype(np.int64) * DAY + np.where(on_shift, inside, outside) % DAY


class LawfulTraffic:
    """Generates each day's lawful rows for a world and a `Queries` configuration."""

    def __init__(self, world: WorldModel, cfg: Queries, diurnal: Diurnal, rng: np.random.Generator,
                 automated_seed: np.random.SeedSequence):
        self.world = world
        self.cfg = cfg
        self.rng = rng  # operator queries
        # automated checks draw from a stream of their own, one child per day, so generating
        # them, only counting them or leaving them out never changes the operator rows, and a
        # day's count is the same whether its rows are generated or not
        self.automated_seed = automated_seed
        self.pop = Population(world)
        ops = world.operators
        ag = world.agencies
        types = ag["agency_type"].to_numpy()
        factor = np.array([cfg.agency_factor.get(t, 1.0) for t in types])
        role_rate = np.zeros(len(ops))
        role_rate[ops.role == FULL_ACCESS] = cfg.per_shift.get("full_access", 0.0)
        role_rate[ops.role == LESS_THAN_FULL] = cfg.per_shift.get("less_than_full_access", 0.0)
        self.shift_rate = role_rate * factor[ops.agency]  # per shift, before weekday
        self.active = np.ones(len(ops), dtype=bool)  # oversight switches operators off
        self.agency_active = np.ones(len(ag), dtype=bool)
        excluded = set(world.excluded_oris)
        if excluded:
            self.agency_active[ag["ori"].isin(excluded).to_numpy()] = False
        self.weekly = np.asarray(cfg.weekly) / np.mean(cfg.weekly)
        self.key_cum = {who: cum(mix, KEY_NAMES) for who, mix in cfg.key_mix.items()}
        self.key_table = {who: CategoricalTable(c) for who, c in self.key_cum.items()}
        group = np.array([GROUPS.index(PURPOSE_GROUP.get(t, "other")) for t in types])
        self.agency_group = group
        self.purpose_cum = np.stack([cum(PURPOSE_MIX[g], PURPOSES) for g in GROUPS])
        self.purpose_table = [CategoricalTable(c) for c in self.purpose_cum]
        # operators sorted by agency: CSR for "another operator of the same agency"
        self.op_ptr = np.searchsorted(ops.agency, np.arange(len(ag) + 1)).astype(np.int64)
        self.dev_start = ag["device_start"].to_numpy()
        self.dev_count = ag["devices"].to_numpy()
        self.primary_ori = np.searchsorted(world.oris["agency"].to_numpy(), np.arange(len(ag)))
        hours = hourly_profile(diurnal)
        self.hour_cdf = np.concatenate([[0.0], np.cumsum(hours) / hours.sum()])

    # ------------------------------------------------------------------ helpers
    def colleague(self, ops: np.ndarray, u: np.ndarray) -> np.ndarray:
        ag = self.world.operators.agency[ops]
        lo, hi = self.op_ptr[ag], self.op_ptr[ag + 1]
        return (lo + (u * (hi - lo)).astype(np.int64)).astype(np.int32)

    def agency_device(self, agency: np.ndarray, u: np.ndarray) -> np.ndarray:
        return (self.dev_start[agency] + (u * self.dev_count[agency]).astype(np.int64)).astype(np.int32)

    def case_numbers(self, day: np.ndarray, keys: np.ndarray, u: np.ndarray, p_other: float,
                     p_achs: float) -> np.ndarray:
        """Case/call number or 0 (missing); the probability is higher for ACHS keys."""
        p = np.where(IS_ACHS_KEY[keys], p_achs, p_other)
        year = 1970 + (day // 365.25).astype(np.int64)
        number = year * 10_000_000 + (u * 9_999_999).astype(np.int64) + 1
        return np.where(self.rng.random(len(keys)) < p, number, 0)

    def purposes(self, agency: np.ndarray, keys: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Stated purpose by the agency's group (the number of cumulative weights <= u)."""
        group = self.agency_group[agency]
        purpose = np.empty(len(u), dtype=np.int64)
        for g in range(len(GROUPS)):  # four groups: one table lookup each, no n x P matrix
            sel = group == g
            purpose[sel] = self.purpose_table[g](u[sel])  # (capped at the last purpose)
        return np.where(UPDATE_KEY[keys], P["record_update"], purpose).astype(np.int8)

    # ------------------------------------------------------------------ a day
    def operator_rows(self, day: int) -> dict[str, np.ndarray]:
        rng, cfg, ops, world = self.rng, self.cfg, self.world.operators, self.world
        dow = weekday(day)
        working = ((ops.workdays >> dow) & 1).astype(bool)
        rate = self.shift_rate * self.weekly[dow] * self.active * self.agency_active[ops.agency]
        on = rng.poisson(np.where(working, rate * (1 - cfg.off_shift_share), 0.0))
        off = rng.poisson(rate * cfg.off_shift_share * (4 / 7))
        n_on = int(on.sum())
        op = np.concatenate([np.repeat(np.arange(len(ops), dtype=np.int32), on),
                             np.repeat(np.arange(len(ops), dtype=np.int32), off)])
        n = len(op)
        on_shift = np.arange(n) < n_on
        u = rng.random((8, n))
        time = shift_times(world, op, np.int64(day), on_shift, u[0])  # one day: a scalar broadcasts
        agency = ops.agency[op]
        role = ops.role[op]
        full = role == FULL_ACCESS
        key = np.empty(n, dtype=np.int8)
        key[full] = self.key_table["full_access"](u[1][full])
        key[~full] = self.key_table["less_than_full_access"](u[1][~full])
        own = rng.random(n) >= cfg.other_device_share
        device = ops.device[op]  # the home terminal, or another of the agency's devices:
        other = ~(own & (device >= 0))
        device[other] = self.agency_device(agency[other], u[2][other])
        county = self.pop.op_county[op]
        out = u[3] < cfg.out_of_county_share
        subject = np.where(out, self.pop.anywhere(u[4]), self.pop.local(county, u[4]))
        hit_rel = u[5] < cfg.relation_base_rate
        if hit_rel.any():
            rel = self.pop.relation(op[hit_rel], rng.random(int(hit_rel.sum())))
            subject[hit_rel] = np.where(rel >= 0, rel, subject[hit_rel])
        hit_hp = u[5] > 1 - cfg.high_profile_base_rate
        if hit_hp.any() and len(world.high_profile_ids):
            hp = world.high_profile_ids
            subject[hit_hp] = hp[(rng.random(int(hit_hp.sum())) * len(hp)).astype(np.int64)]
        requestor = np.full(n, -1, dtype=np.int32)
        asked = u[6] < cfg.requestor_share
        requestor[asked] = self.colleague(op[asked], u[7][asked])
        return {
            "time": time,
            "operator": op,
            "requestor": requestor.astype(np.int32),
            "device": device.astype(np.int32),
            "ori": ops.ori[op],
            "key": key,
            "subject": subject.astype(np.int32),
            "purpose": self.purposes(agency, key, rng.random(n)),
            "case_number": self.case_numbers(np.int64(day), key, rng.random(n),
                                             cfg.case_number_probability,
                                             cfg.achs_case_number_probability),
        }

    def automated_mean(self, day: int) -> tuple[np.ndarray, float]:
        """The devices of active agencies (suspended, removed and excluded ones have none)
        and the day's expected number of automated checks."""
        active_dev = np.flatnonzero(self.agency_active[self.world.device_agency])
        mean = self.cfg.automated_per_device_day * self.weekly[weekday(day)] * len(active_dev)
        return active_dev, mean

    def automated_count(self, day: int) -> int:
        """The number of automated checks `automated_rows(day)` would generate, without the rows
        (the first draw of the day's own generator)."""
        return int(self._automated_day_rng(day).poisson(self.automated_mean(day)[1]))

    def _automated_day_rng(self, day: int) -> np.random.Generator:
        seq = self.automated_seed
        return np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, int(day)))))

    def automated_rows(self, day: int) -> dict[str, np.ndarray]:
        """System checks, drawn in time order: sorted uniforms mapped through the hour CDF."""
        rng = self._automated_day_rng(day)
        active_dev, mean = self.automated_mean(day)
        n = int(rng.poisson(mean))
        gaps = rng.exponential(size=n + 1)
        sorted_u = np.cumsum(gaps[:-1]) / gaps.sum()
        hour = np.searchsorted(self.hour_cdf, sorted_u, side="right") - 1
        lo = self.hour_cdf[hour]
        frac = (sorted_u - lo) / (self.hour_cdf[hour + 1] - lo)
        time = day * DAY + ((hour + frac) * 3600).astype(np.int64)
        device = active_dev[(rng.random(n) * len(active_dev)).astype(np.int64)].astype(np.int32)
        agency = self.world.device_agency[device]
        key = self.key_table["automated"](rng.random(n)).astype(np.int8)
        return {
            "time": time,
            "operator": np.full(n, -1, dtype=np.int32),
            "requestor": np.full(n, -1, dtype=np.int32),
            "device": device,
            "ori": self.primary_ori[agency].astype(np.int32),
            "key": key,
            "subject": self.pop.local(self.pop.agency_county[agency], rng.random(n)),
            "purpose": np.full(n, P["automated"], dtype=np.int8),
            "case_number": np.zeros(n, dtype=np.int64),
        }


def merge_sorted(big: dict[str, np.ndarray], small: dict[str, np.ndarray]
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Merge a few rows into a time-sorted block in O(n).

    Returns the merged rows, the positions of the small rows in it (in time order) and the
    order in which the small rows were taken (small row order[j] sits at pos[j]).
    """
    order = stable_time_order(small["time"])
    small = take_rows(small, order)
    pos = np.searchsorted(big["time"], small["time"], side="right") + np.arange(len(order))
    n = len(big["time"]) + len(order)
    if len(big["time"]) == 0:  # nothing to merge into (automated checks counted, not generated)
        return {f: small[f].astype(ROW_DTYPES[f], copy=False) for f in big}, pos, order
    is_small = np.zeros(n, dtype=bool)
    is_small[pos] = True
    out = {}
    for f in big:
        col = np.empty(n, dtype=ROW_DTYPES[f])
        col[is_small] = small[f]
        col[~is_small] = big[f]
        out[f] = col
    return out, pos, order


def stable_time_order(time: np.ndarray) -> np.ndarray:
    """`np.argsort(time, kind="stable")`, faster: one unstable sort of (time, index) packed
    in an int64 (unique keys, so the order is the stable one)."""
    n = len(time)
    if n < 2:
        return np.arange(n, dtype=np.intp)
    lo = int(time.min())
    span = int(time.max()) - lo + 1
    if span > (2**62) // n:  # would not fit: plain stable sort
        return np.argsort(time, kind="stable")
    packed = (time - lo).astype(np.int64) * n + np.arange(n, dtype=np.int64)
    return (np.sort(packed) % n).astype(np.intp)


def key_database(keys: np.ndarray) -> np.ndarray:
    return KEY_DB[keys]
