"""World side: what really happened, for the processes that need the answer key.

Victims know what was done to them, investigators find out, auditors sample real rows:
these need the truth, so they read this ledger. Detection never does (it sees journal
tables only). The ledger keeps the realised misuse rows and, per operator and month, how
many transactions they logged (an audit samples from those).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.catalogue import KEY_NAMES


class Ledger:
    def __init__(self, n_ops: int, n_days: int):
        self.n_ops = n_ops
        self.truth_by_qid: dict[int, tuple[int, int, int]] = {}
        self.op_misuse_rows = np.zeros(n_ops, dtype=np.int64)
        self.op_last_misuse = np.full(n_ops, -10_000, dtype=np.int64)
        self.op_last_category = np.full(n_ops, -1, dtype=np.int16)
        self.op_last_archetype = np.full(n_ops, -1, dtype=np.int8)
        self.month_rows = np.zeros((n_days // 30 + 2, n_ops), dtype=np.int32)  # 30-day blocks
        self._parts: list[dict[str, np.ndarray]] = []
        self._rows: dict[str, np.ndarray] | None = None
        self.truth_parts: list[pd.DataFrame] = []
        self.misuse_journal_parts: list[pa.Table] = []

    def log_day(self, k: int, day_abs: int, operators: np.ndarray) -> None:
        """Count the day's operator transactions (what an audit can sample)."""
        self.month_rows[k // 30] += np.bincount(operators, minlength=self.n_ops).astype(np.int32)

    def log_misuse(self, k: int, day_abs: int, chunk, op: np.ndarray) -> dict[str, np.ndarray]:
        """Record the day's realised misuse rows; returns them as arrays."""
        t = chunk.truth
        qid = t.column("query_id").to_numpy()
        cat = t.column("category").combine_chunks().indices.to_numpy().astype(np.int16)
        arch = t.column("archetype").combine_chunks().indices.to_numpy().astype(np.int8)
        inc = t.column("incident_id").to_numpy()
        first_qid = chunk.journal.column("query_id")[0].as_py()
        rows = chunk.journal.take(pa.array(qid - first_qid))
        self.misuse_journal_parts.append(rows)
        key = rows.column("key").combine_chunks().indices.to_numpy().astype(np.int8)
        # what the agency can show an auditor: a case number, or the right to know entered
        has_case = rows.column("case_number").is_valid().to_numpy(zero_copy_only=False)
        if "right_to_know" in rows.column_names:
            has_case = has_case | rows.column("right_to_know").is_valid().to_numpy(zero_copy_only=False)
        self.truth_parts.append(pd.DataFrame({"query_id": qid, "category": cat, "archetype": arch,
                                              "incident_id": inc, "day": day_abs}))
        np.add.at(self.op_misuse_rows, op, 1)
        self.op_last_misuse[op] = k
        self.op_last_category[op] = cat
        self.op_last_archetype[op] = arch
        for q, c, a, i in zip(qid.tolist(), cat.tolist(), arch.tolist(), inc.tolist()):
            self.truth_by_qid[q] = (c, a, i)
        part = dict(qid=qid, op=op.astype(np.int32), k=np.full(len(qid), k, dtype=np.int32),
                    category=cat, archetype=arch, incident=inc.astype(np.int32), key=key,
                    has_case=has_case)
        self._parts.append(part)
        self._rows = None
        return part

    def rows(self) -> dict[str, np.ndarray]:
        """Every realised misuse row so far, in time order."""
        if self._rows is None:
            if self._parts:
                self._rows = {f: np.concatenate([p[f] for p in self._parts]) for f in self._parts[0]}
                self._parts = [self._rows]
            else:
                self._rows = {f: np.zeros(0, dtype=np.int32) for f in
                              ("qid", "op", "k", "category", "archetype", "incident", "key", "has_case")}
        return self._rows

    def operator_keys(self, op: int) -> list[str]:
        """Message keys of an operator's misuse rows (what data the case touched)."""
        r = self.rows()
        return sorted({KEY_NAMES[int(x)] for x in r["key"][r["op"] == op]})

    def rows_in_window(self, ops: np.ndarray, k_from: int, k_to: int) -> np.ndarray:
        """Logged transactions of each operator in [k_from, k_to) at 30-day resolution."""
        m0, m1 = max(k_from, 0) // 30, max(k_to, 0) // 30 + 1
        return self.month_rows[m0:m1, ops].sum(axis=0)
