"""Victims' complaints (world side: a victim knows what was done to them).

Each potential misuse row gets its "the victim learns of it" uniform and its delay up
front from the ``complaints`` stream, so a row that happens under two policies draws the
same complaint fate in both (common random numbers). Unfounded complaints about lawful
queries arrive at a rate per million operator queries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.catalogue import CATEGORY_NAMES
from sim.detection import kinds


class Complaints:
    def __init__(self, model):
        self.m = model
        cfg = model.cfg.detection
        self.enabled = cfg.enabled_complaints
        self.cc = cc = cfg.complaints
        self.rng = model.rngs["complaints"]
        n_pot = len(model.gen.misuse.rows["time"])
        self.u_learn = self.rng.random(n_pot)
        self.delay = 1 + self.rng.exponential(cc.mean_delay_days, n_pot).astype(np.int64)
        self.p_learn = np.minimum(1.0, cc.scale * np.array([cc.learn_probability.get(c, 0.0)
                                                            for c in CATEGORY_NAMES]))
        self.due: dict[int, list[dict]] = {}
        self.rows: list[dict] = []

    def on_day(self, k: int, rows, misuse: dict | None, misuse_index: np.ndarray | None) -> None:
        """Schedule the complaints about day k's queries (misuse rows and unfounded ones)."""
        if not self.enabled:
            return
        if misuse is not None and len(misuse["qid"]):
            learn = self.u_learn[misuse_index] < self.p_learn[misuse["category"]]
            for j in np.flatnonzero(learn).tolist():
                self._schedule(k, int(misuse["qid"][j]), int(misuse["op"][j]), True,
                               int(self.delay[misuse_index[j]]))
        n_rows = len(rows.query_id)
        if n_rows:
            n = self.rng.poisson(self.cc.unfounded_per_million * n_rows / 1e6)
            picks = self.rng.integers(0, n_rows, n)
            delays = 1 + self.rng.exponential(self.cc.mean_delay_days, n).astype(np.int64)
            for j, d in zip(picks.tolist(), delays.tolist()):
                if int(rows.query_id[j]) not in self.m.ledger.truth_by_qid:
                    self._schedule(k, int(rows.query_id[j]), int(rows.operator[j]), False, d)

    def _schedule(self, k: int, qid: int, op: int, founded: bool, delay: int) -> None:
        arrival = k + delay
        m = self.m
        self.due.setdefault(arrival, []).append(dict(
            query_id=qid, operator=op, agency=int(m.world.operators.agency[op]),
            lookup_day=m.clock.abs(k), arrival_k=arrival, arrival_day=m.clock.abs(arrival),
            founded=founded))

    def arriving(self, k: int) -> pd.DataFrame | None:
        """Complaints arriving on day k, as alerts to the operator's agency."""
        due = self.due.pop(k, [])
        self.rows.extend(due)
        if not due:
            return None
        return pd.DataFrame({
            "day": np.full(len(due), self.m.clock.abs(k), dtype=np.int32),
            "kind": kinds("complaint", len(due)),
            "query_id": pd.array([c["query_id"] for c in due], dtype="Int64"),
            "operator": np.array([c["operator"] for c in due], dtype=np.int32),
            "agency": np.array([c["agency"] for c in due], dtype=np.int32),
            "rules": np.zeros(len(due), dtype=np.int64), "score": np.ones(len(due)),
        })
