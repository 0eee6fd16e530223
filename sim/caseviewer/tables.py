"""Reading a finished run for the case viewer: its tables (missing ones empty), each
incident's rows of a table found once (not by filtering the whole table per incident), and
rows as named tuples."""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import ScenarioError


class RunTables:
    """The tables of a run directory (or a `sim.results.RunResults`), missing ones empty."""

    def __init__(self, run):
        if isinstance(run, (str, Path)):
            from sim.results import load

            directory = Path(run)
            if not directory.exists():
                raise ScenarioError(f"run directory not found: {directory}")
            if not directory.is_dir():
                raise ScenarioError(f"{directory}: not a directory (pass a run directory)")
            if not (directory / "manifest.json").exists():
                raise ScenarioError(f"{directory}: not a run directory (no manifest.json)")
            run = load(directory)
        self.run = run
        self.manifest = run.manifest
        self.kind = run.manifest.get("kind", "")
        self.scenario = self.manifest.get("scenario") or {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            if name in self.run:
                return self.run[name]
        except (KeyError, ScenarioError):
            pass
        return pd.DataFrame()

    def has(self, name: str) -> bool:
        try:
            return name in self.run
        except (KeyError, ScenarioError):
            return False


class ByIncident:
    """The rows of a table per incident, in table order: ``of(iid)`` is what
    ``df[df["incident_id"] == iid]`` would be (or, given `incident_ids` and `rows`, the rows
    ``rows[incident_ids == iid]`` of `df`)."""

    def __init__(self, df: pd.DataFrame, incident_ids: np.ndarray | None = None,
                 rows: np.ndarray | None = None):
        self.df = df
        if incident_ids is None:
            incident_ids = (df["incident_id"].to_numpy(dtype=np.int64) if len(df)
                            else np.zeros(0, dtype=np.int64))
        rows = np.arange(len(incident_ids)) if rows is None else np.asarray(rows)
        order = np.lexsort((rows, incident_ids))
        self.ids = np.asarray(incident_ids, dtype=np.int64)[order]
        self.rows = rows[order]

    def of(self, iid: int) -> pd.DataFrame:
        lo, hi = np.searchsorted(self.ids, [iid, iid + 1])
        return self.df.iloc[self.rows[lo:hi]]


def records(df: pd.DataFrame) -> list:
    """The rows of `df` as named tuples, like ``df.itertuples(index=False)`` (the same values)
    without its cost per column and call, which dominates for the few rows of an incident."""
    row = _row_type(tuple(df.columns))
    return [row._make(v) for v in zip(*(df[c].tolist() for c in df.columns))]


@lru_cache(maxsize=64)
def _row_type(columns: tuple[str, ...]):
    return namedtuple("Row", columns, rename=True)
