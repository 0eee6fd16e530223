"""The journal rows an incident shows in the case viewer: every row of its operators on the
days of its misuse rows (lawful ones too, from `incident_journal`), its misuse rows always,
in time order; past `MAX_ROWS`, the flagged and misuse rows first (the page shows them a
page at a time)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.caseviewer.tables import ByIncident, RunTables
from sim.formatting import count

MAX_ROWS = 1500  # journal rows kept per incident (flagged and misuse rows first)


class JournalRows:
    def __init__(self, t: RunTables, truth: pd.DataFrame, flagged):
        self.flagged = flagged  # query ids -> which carry an alert
        self.misuse_journal = mj = t["misuse_journal"]
        self.incident_journal = ij = t["incident_journal"]
        self.has_context = len(ij) > 0
        if len(ij):
            j_day = ij["time"].to_numpy().astype("datetime64[D]").astype(np.int64)
            j_op = ij["operator"].to_numpy(dtype=np.float64, na_value=-1).astype(np.int64)
            self.ij_key = j_op * (1 << 20) + j_day
        else:
            self.ij_key = np.zeros(0, dtype=np.int64)
        self.misuse_q = (np.unique(truth["query_id"].to_numpy(dtype=np.int64)) if len(truth)
                         else np.zeros(0, dtype=np.int64))
        # the misuse rows of each incident: those whose query id its truth rows hold
        if len(mj) and len(truth):
            pairs = truth[["query_id", "incident_id"]].astype(np.int64).drop_duplicates()
            at = pd.DataFrame({"query_id": mj["query_id"].to_numpy(dtype=np.int64),
                               "row": np.arange(len(mj))}).merge(pairs, on="query_id")
            self.misuse = ByIncident(mj, at["incident_id"].to_numpy(), at["row"].to_numpy())
        else:
            self.misuse = ByIncident(mj, np.zeros(0, dtype=np.int64))

    def misuse_rows(self, iid: int) -> pd.DataFrame:
        """The incident's rows of `misuse_journal`, in table order."""
        return self.misuse.of(iid)

    def rows(self, mrows: pd.DataFrame) -> tuple[pd.DataFrame, int, str]:
        """The operators' journal rows on the incident's days (lawful too), misuse rows always:
        (the rows shown, how many there are, a note when not all or only misuse rows are shown)."""
        note = ""
        rows = mrows
        if self.has_context and len(mrows):
            day = mrows["time"].to_numpy().astype("datetime64[D]").astype(np.int64)
            keys = np.unique(mrows["operator"].to_numpy(dtype=np.int64) * (1 << 20) + day)
            ctx = self.incident_journal[np.isin(self.ij_key, keys)]
            rows = pd.concat([ctx, mrows[~mrows["query_id"].isin(ctx["query_id"])]], ignore_index=True)
        rows = rows.sort_values(["time", "query_id"]).reset_index(drop=True)
        total = len(rows)
        if len(rows) > MAX_ROWS:
            misuse = np.isin(rows["query_id"].to_numpy(dtype=np.int64), self.misuse_q)
            flagged = self.flagged(rows["query_id"])
            order = np.argsort(~(misuse | flagged), kind="stable")[:MAX_ROWS]
            rows = rows.iloc[np.sort(order)].reset_index(drop=True)
            note = (f"showing {count(MAX_ROWS)} of {count(total)} rows: "
                    "every flagged and misuse row first")
        elif not self.has_context:
            note = "misuse rows only: this run did not keep the operators' other rows"
        return rows, total, note
