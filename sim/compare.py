"""Two scenarios side by side under common random numbers: paired differences and verdicts.

`clets compare BASELINE ALTERNATIVE` runs replication r of both scenarios with the same
seed (a child of the root seed), so both see the same world, lawful traffic and misuse
draws wherever their settings agree; each measure's difference (alternative minus
baseline) is paired replication by replication and summarised with a 95% CI and a verdict
in plain words (`sim.experiment.verdict`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.config import Scenario
from sim.errors import ScenarioError
from sim.experiment import RunSpec, replication_seed, run_key
from sim.measures import label as measure_label

# measures shown first (when the runs have them); the CSV has every measure
PREFERRED = ["true_misuse_rows", "misuse_rows_flagged", "investigations_confirmed", "reported_share",
             "reported_misuse_found", "sanctions", "alerts_reviewed", "p95_s", "p95_censored_s",
             "answered_share", "timed_out_share", "max_utilization"]


def plan_pair(baseline: Scenario, alternative: Scenario, out: Path, replications: int,
              root: int) -> list[RunSpec]:
    """The 2 x `replications` runs; replication r of both scenarios shares its seed."""
    if baseline.model != alternative.model:
        raise ScenarioError(f"compare: the scenarios run different models ({baseline.name}: "
                            f"{baseline.model}, {alternative.name}: {alternative.model})")
    if replications < 1:
        raise ScenarioError(f"--replications: must be >= 1 (got {replications})")
    specs = []
    for point, scen in enumerate((baseline, alternative)):
        resolved = scen.model_copy(update={"sweep": None}).model_dump(mode="json")
        for r in range(replications):
            seed = replication_seed(root, r)
            key = run_key(resolved, seed)
            specs.append(RunSpec(key, point, scen.name, r, seed, resolved, str(out / "runs" / key)))
    return specs


def shown_measures(differences: pd.DataFrame, limit: int = 10) -> list[str]:
    """The measures worth printing: preferred ones present, then the rest, up to `limit`."""
    have = list(differences["measure"].unique())

    def base(m: str) -> str:
        return m.split(".", 1)[-1]

    first = [m for p in PREFERRED for m in have if base(m) == p]
    return (first + [m for m in have if m not in first])[:limit]


def plot_differences(differences: pd.DataFrame, measures: list[str], path: Path) -> None:
    """A forest plot: each measure's paired difference and 95% CI, scaled by the baseline
    mean (so counts and seconds share one axis), with the zero line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = differences.set_index("measure").loc[measures].reset_index()
    scale = d["baseline_mean"].abs().where(d["baseline_mean"].abs() > 0, 1.0)
    mid, lo, hi = d["difference"] / scale, d["ci_low"] / scale, d["ci_high"] / scale
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(d) + 1.2))
    colors = ["tab:green" if v == "higher" else "tab:red" if v == "lower" else "grey" for v in d["verdict"]]
    for i, c in enumerate(colors):
        ax.errorbar(mid.iloc[i], i, xerr=[[mid.iloc[i] - lo.iloc[i]], [hi.iloc[i] - mid.iloc[i]]],
                    fmt="o", color=c, capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(d)))
    ax.set_yticklabels([measure_label(m) for m in d["measure"]], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("difference / baseline mean (95% CI, paired)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
