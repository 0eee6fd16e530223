"""What the case viewer needs, recorded during an oversight run (answer-key side).

The run directory does not hold the synthetic world, and the oversight loop keeps only the
misuse rows of the journal. For each incident the viewer needs more, so the loop hands
this recorder every journal day:

* ``incident_journal``: every journal row (lawful and misuse) of an operator on a day on
  which that operator has a potential misuse row: the operator's working day around each
  lookup, not the statewide journal (bounded by the number of misuse rows, and capped);
* shadow detection (only with ``outputs.case_viewer``): each rule the scenario did not
  enable runs over the same rows with its own state, and nothing acts on its alerts.
  ``shadow_rules``: per rule, the alerts it would have raised over the journal, how many of
  them would be new (no enabled rule flagged the row) and how many fall on misuse rows;
  ``shadow_hits``: its alerts on the incident journal's rows;
* ``incident_people`` (at the end, `sim.caseviewer.roster`): per incident, its operators
  (role, agency, training and certification dates, shift) and the subjects of its rows
  (synthetic name, sex, age, address, relation to the operator from the world's relation
  table, or "media figure", "self", "stranger").

Detection stays blind: the shadow detector is an ordinary `Detector` handed journal rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sim.caseviewer.roster import incident_people
from sim.config.oversight import RULES
from sim.detection import RULE_BIT, Detector
from sim.traffic import DAY

MAX_INCIDENT_ROWS = 2_000_000  # a statewide run keeps ~100,000; beyond this, stop keeping rows


class CaseRecorder:
    def __init__(self, model):
        self.m = model
        w = model.world
        rows = model.gen.misuse.rows
        self.n_ops = n_ops = np.int64(max(len(w.operators), 1))
        day = (rows["time"] // DAY).astype(np.int64)
        # (day, operator) of every potential misuse row: those operator-days are kept
        self.keys = np.unique(day * n_ops + rows["operator"].astype(np.int64))
        self.watched = np.zeros(int(n_ops) + 1, dtype=bool)  # the last slot: no operator
        self.parts: list[pa.Table] = []
        self.n_rows = 0
        self.truncated = False
        self.shadow: Detector | None = None
        self.shadow_rules: list[str] = []
        cfg = model.cfg.detection
        if model.scenario.outputs.case_viewer:
            self.shadow_rules = [r for r in RULES if r not in set(cfg.rules.enabled)]
        if self.shadow_rules:
            shadow_cfg = cfg.model_copy(update={
                "rules": cfg.rules.model_copy(update={"enabled": self.shadow_rules}),
                "random_audit_rate": 0.0,
                "anomaly": cfg.anomaly.model_copy(update={"enabled": False})})
            self.shadow = Detector(shadow_cfg, model.registry, model.streams.fresh("detection.shadow"))
        self.counts = {r: np.zeros(3, dtype=np.int64) for r in self.shadow_rules}
        self.hits: list[pd.DataFrame] = []
        self.journal_days = 0

    # ------------------------------------------------------------------ each journal day
    def on_day(self, k: int, day: int, chunk, rows, alerts: pd.DataFrame) -> None:
        lo, hi = np.searchsorted(self.keys, [day * self.n_ops, (day + 1) * self.n_ops])
        ops_today = (self.keys[lo:hi] - day * self.n_ops).astype(np.int32)
        kept_q = np.zeros(0, dtype=np.int64)
        if len(ops_today) and not self.truncated:
            journal = chunk.journal
            # a flag per operator, looked up by each row's operator (automated rows: the last
            # slot, never set); ~100,000 rows a statewide day, so no hashing, no bounds checks
            self.watched[ops_today] = True
            col = journal.column("operator")
            if col.null_count:
                col = pc.fill_null(col, len(self.watched) - 1)
            row_op = (col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()).to_numpy()
            take = np.flatnonzero(self.watched.take(row_op, mode="clip"))
            self.watched[ops_today] = False
            kept = journal.take(take)
            if self.n_rows + kept.num_rows > MAX_INCIDENT_ROWS:
                self.truncated = True
            else:
                self.parts.append(kept)
                self.n_rows += kept.num_rows
                kept_q = kept.column("query_id").to_numpy()
        self.journal_days += 1
        if self.shadow is None:
            return
        sa = self.shadow.run_rows(rows, day)
        if sa.empty:
            return
        q = sa["query_id"].to_numpy(dtype=np.float64, na_value=np.nan)
        mask = sa["rules"].to_numpy()
        is_rule = (alerts["kind"] == "rule").to_numpy() if len(alerts) else np.zeros(0, bool)
        real_q = alerts["query_id"].to_numpy(dtype=np.float64, na_value=np.nan)[is_rule]
        new = ~np.isin(q, real_q[~np.isnan(real_q)])
        misuse_q = chunk.truth.column("query_id").to_numpy() if chunk.truth.num_rows else []
        on_misuse = np.isin(q, np.asarray(misuse_q, dtype=np.float64))
        for rule in self.shadow_rules:
            fired = (mask & RULE_BIT[rule]) > 0
            c = self.counts[rule]
            c[0] += int(fired.sum())
            c[1] += int((fired & new).sum())
            c[2] += int((fired & on_misuse).sum())
        op = sa["operator"].to_numpy()
        hit = np.isin(q, kept_q.astype(np.float64)) | (np.isnan(q) & np.isin(op, ops_today))
        if hit.any():
            self.hits.append(pd.DataFrame({
                "day": np.full(int(hit.sum()), day, dtype=np.int32),
                "query_id": pd.Series(q[hit]).astype("Int64").to_numpy(),
                "operator": op[hit].astype(np.int32), "rules": mask[hit].astype(np.int64)}))

    # ------------------------------------------------------------------ at the end
    def tables(self, incidents: pd.DataFrame, truth: pd.DataFrame,
               misuse_journal: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """incident_journal, incident_people, shadow_rules and shadow_hits as DataFrames."""
        journal = (pa.concat_tables(self.parts).to_pandas() if self.parts
                   else misuse_journal.iloc[:0].copy())
        shadow = pd.DataFrame(
            [dict(rule=r, alerts=int(c[0]), new_alerts=int(c[1]), misuse_rows=int(c[2]),
                  journal_days=self.journal_days, incident_rows_truncated=self.truncated)
             for r, c in self.counts.items()],
            columns=["rule", "alerts", "new_alerts", "misuse_rows", "journal_days",
                     "incident_rows_truncated"])
        hits = (pd.concat(self.hits, ignore_index=True) if self.hits else pd.DataFrame({
            "day": pd.Series(dtype=np.int32), "query_id": pd.Series(dtype="Int64"),
            "operator": pd.Series(dtype=np.int32), "rules": pd.Series(dtype=np.int64)}))
        people = incident_people(self.m.world, incidents, truth, misuse_journal, journal)
        return dict(incident_journal=journal, incident_people=people, shadow_rules=shadow,
                    shadow_hits=hits)
