"""Calibration of the oversight loop against the public record (`clets calibrate`).

Each target names a scenario, a yearly output and a public figure with its source. The
scenario is run for several replications (seed r of a scenario is ``seed * 1000 + r``,
so results do not depend on the number of worker processes); the target passes when
the replication mean lies within the tolerance (point targets) or inside the range.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from sim.config import load_scenario
from sim.metrics import mean_ci


@dataclass(frozen=True)
class Target:
    scenario: str
    measure: str  # a column of the yearly summary (first reported year)
    value: float | None  # point target, with tolerance
    tolerance: float | None
    low: float | None  # or a range
    high: float | None
    source: str

    def passes(self, mean: float) -> bool:
        if self.value is not None:
            return abs(mean - self.value) <= self.tolerance
        return self.low <= mean <= self.high

    def describe(self) -> str:
        if self.value is not None:
            if self.measure.endswith("share"):
                return f"{self.value:.0%} ± {self.tolerance * 100:.0f} pp"
            return f"{self.value:g} ± {self.tolerance:g}"
        return f"{self.low:g}-{self.high:g}"


TARGETS = (
    Target("passive_2017", "reported_share", 0.58, 0.03, None, None,
           "2017 passive follow-up: 58% of agencies reported (EFF letter to the CAC, 2019)"),
    Target("proactive_2018", "reported_share", 0.98, 0.03, None, None,
           "2018 proactive outreach: 98% reported (EFF letter to the CAC, 2019)"),
    Target("passive_2017", "reported_investigations", None, None, 100, 200,
           "143 investigations reported for 2017, 159 for 2016 (EFF 2017, 2018)"),
    Target("passive_2017", "reported_misuse_found", None, None, 70, 200,
           "389 confirmed in 2010-2014 (~78 a year, EFF 2015); order of 100-200 a year before 2019"),
)


def _run_one(args) -> dict:
    path, seed = args
    from sim.oversight import simulate_oversight

    scenario = load_scenario(path)
    result = simulate_oversight(scenario, seed=seed)
    first = result.yearly.iloc[0].to_dict()
    first["seed"] = seed
    first["scenario"] = scenario.name
    return first


def calibrate(scenarios_dir: Path, replications: int, workers: int = 1,
              on_run: Callable[[], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table of targets with mean, CI, pass; table of every replication's yearly figures)."""
    names = sorted({t.scenario for t in TARGETS})
    tasks = []
    for name in names:
        path = Path(scenarios_dir) / f"{name}.yaml"
        base = load_scenario(path).seed or 0
        tasks += [(path, base * 1000 + r) for r in range(replications)]
    runs: list[dict] = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_run_one, tasks):
                runs.append(row)
                if on_run:
                    on_run()
    else:
        for task in tasks:
            runs.append(_run_one(task))
            if on_run:
                on_run()
    runs_df = pd.DataFrame(runs)
    rows = []
    for t in TARGETS:
        values = runs_df.loc[runs_df["scenario"] == t.scenario, t.measure]
        mean, lo, hi = mean_ci(values)
        rows.append(dict(scenario=t.scenario, measure=t.measure, target=t.describe(), mean=mean,
                         ci_low=lo, ci_high=hi, replications=len(values), passed=t.passes(mean),
                         source=t.source))
    return pd.DataFrame(rows), runs_df
