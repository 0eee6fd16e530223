"""Fan-out and resends: which databases an inquiry asks, and its transaction plan.

With ``network.fan_out`` each inquiry carries a message key (drawn from the key mix, or the
journal row's key when replaying) and fans out at the hub to every database of the key in
`sim.catalogue.FAN_OUT`, plus Nlets for an out-of-state subject (``out_of_state_share``,
drawn from its own ``fanout`` stream so arrivals are those of the run without fan-out). A
transaction's *plan* is what `QueueNet._send` walks: the hops to and through the hub, one
leg per database (database, hub, MSC, agency, device) and the route id of each leg's message.
Plans are shared by every transaction of the same agency, device kind and database set.
"""

from __future__ import annotations

import numpy as np

from sim.catalogue import DATABASES, FAN_OUT, KEY_NAMES, OPERATOR_TRAFFIC_SHARE
from sim.config import Scenario

NLETS = DATABASES.index("Nlets")


def key_weights(scenario: Scenario) -> np.ndarray:
    """Weight of each message key (order of MESSAGE_KEYS) in device inquiries.

    ``network.key_mix`` when given; otherwise the journal's automated mix and its
    full-access operators' mix, each normalised, weighted 96.4% / 3.6% (automated checks and
    operator queries of the ~2.8 million transactions a day, docs/journal.md)."""
    given = scenario.network.key_mix
    if given is not None:
        return np.array([given.get(k, 0.0) for k in KEY_NAMES], dtype=float)
    mixes = scenario.journal.queries.key_mix

    def norm(group: str) -> np.ndarray:
        w = np.array([mixes.get(group, {}).get(k, 0.0) for k in KEY_NAMES], dtype=float)
        return w / w.sum() if w.sum() > 0 else w

    return (1 - OPERATOR_TRAFFIC_SHARE) * norm("automated") + OPERATOR_TRAFFIC_SHARE * norm("full_access")


def fan_sets() -> list[tuple[int, ...]]:
    """Database indices per fan set ``2 * key + out_of_state`` (first = the key's database)."""
    sets = []
    for f in FAN_OUT:
        dbs = tuple(DATABASES.index(d) for d in f.databases)
        sets.append(dbs)
        sets.append(dbs + (NLETS,) if f.out_of_state and NLETS not in dbs else dbs)
    return sets


def mean_fan_out(scenario: Scenario) -> float:
    """Expected databases per inquiry under the key mix and out-of-state share."""
    w = key_weights(scenario)
    w = w / w.sum()
    p = scenario.network.out_of_state_share
    sets = fan_sets()
    return float(sum(wk * ((1 - p) * len(sets[2 * k]) + p * len(sets[2 * k + 1]))
                     for k, wk in enumerate(w)))


class TransactionPlanner:
    """Registers arrival batches as transactions of `model.tx` with their plans."""

    def __init__(self, model, scenario: Scenario, rng: np.random.Generator):
        self.model = model
        self.fan_out = scenario.network.fan_out
        self.oos = scenario.network.out_of_state_share
        self.rng = rng
        self.sets = fan_sets()
        self.plans: dict[tuple, tuple] = {}
        self.hub_hop: dict[int, int] = {}  # agency index -> hops up to and through the hub

    def _split(self, agency: int, route: tuple) -> int:
        n = self.hub_hop.get(agency)
        if n is None:
            hub = self.model.hub
            n = next(i for i, h in enumerate(route) if h[2] is hub) + 1
            self.hub_hop[agency] = n
        return n

    def plan(self, agency: int, kind: int, fan_set: int, db: int, dest: int) -> tuple:
        key = (agency, kind, fan_set, db, dest)
        p = self.plans.get(key)
        if p is not None:
            return p
        m = self.model
        if db < 0:  # administrative: one message along its route
            rid = m.admin_route_id(agency, kind, dest)
            p = ((), ((1, m.routes[rid]),), (rid,))
        else:
            dbs = self.sets[fan_set] if fan_set >= 0 else (db,)
            a, k = np.array([agency]), np.array([kind])
            rids = tuple(int(m.inquiry_route_id(a, k, np.array([d]))[0]) for d in dbs)
            if len(rids) == 1:  # nothing to split: the whole route is one leg
                p = ((), ((1, m.routes[rids[0]]),), rids)
            else:
                n = self._split(agency, m.routes[rids[0]])
                legs = tuple((1 << j, m.routes[r][n:]) for j, r in enumerate(rids))
                p = (m.routes[rids[0]][:n], legs, rids)
        self.plans[key] = p
        return p

    def register(self, batch) -> int:
        """Record the batch's transactions; returns the id of the first."""
        m = self.model
        tx = m.tx
        n = len(batch)
        first = len(tx.created)
        agency = m.device_agency[batch.device].tolist()
        kind = m.device_kind[batch.device].tolist()
        db = batch.database.tolist()
        dest = batch.dest_agency.tolist()
        if self.fan_out and batch.key is not None:
            key = batch.key.astype(np.int64)
            oos = self.rng.random(n) < self.oos
            fan = np.where(key >= 0, 2 * key + oos, -1).tolist()
            keys = batch.key.tolist()
        else:
            fan = [-1] * n
            keys = batch.key.tolist() if batch.key is not None else [-1] * n
        plan = self.plan
        plans = [plan(a, k, f, d, t) for a, k, f, d, t in zip(agency, kind, fan, db, dest)]
        tx.created.extend(batch.time.tolist())
        tx.route.extend(p[2][0] for p in plans)
        tx.origin.extend(batch.device.tolist())
        tx.key.extend(keys)
        tx.plan.extend(plans)
        tx.full.extend((1 << len(p[1])) - 1 for p in plans)
        tx.got.extend([0] * n)
        tx.attempts.extend([0] * n)
        tx.last_send.extend([np.nan] * n)
        tx.first.extend([np.nan] * n)
        tx.complete.extend([np.nan] * n)
        return first
