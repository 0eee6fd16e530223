"""Read a finished run back as pandas DataFrames: the small public API for notebooks.

    from sim.results import load
    r = load("results/passive_2017/<run-id>")
    r.manifest["seed"], r["yearly"], r.tables()

Only complete runs load (their manifest says ``status: complete``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sim.errors import ScenarioError


class RunResults:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        manifest = self.directory / "manifest.json"
        if not manifest.exists():
            raise ScenarioError(f"{self.directory}: not a complete run (no manifest.json)")
        self.manifest = json.loads(manifest.read_text())
        if self.manifest.get("status") != "complete":
            raise ScenarioError(f"{self.directory}: run is not complete")
        self._cache: dict[str, pd.DataFrame] = {}

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "")

    def tables(self) -> list[str]:
        names = {p.stem for p in self.directory.glob("*.parquet")}
        names |= {p.stem for p in self.directory.glob("*.csv")}
        return sorted(names)

    def __contains__(self, name: str) -> bool:
        return name in self.tables()

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            parquet, csv = self.directory / f"{name}.parquet", self.directory / f"{name}.csv"
            if parquet.exists():
                self._cache[name] = pd.read_parquet(parquet)
            elif csv.exists():
                self._cache[name] = pd.read_csv(csv)
            else:
                raise KeyError(f"{name!r} is not a table of {self.directory} (have: {', '.join(self.tables())})")
        return self._cache[name]


def load(run_dir: str | Path) -> RunResults:
    return RunResults(Path(run_dir))
