"""Capacity analysis: sweep the load factor, find the knee and the bottleneck node.

Every load point reuses the same seed (common random numbers), so differences
between points come from the load, not from sampling noise. The knee is the first
load factor whose end-to-end p95 response time exceeds the scenario's target; the
bottleneck is the node with the highest utilisation at the knee (or at the highest
load when there is no knee).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from sim.config import Scenario
from sim.netstats import sender_response_times
from sim.runner import simulate_network


@dataclass
class CapacityResult:
    """Response times per load point are the sender's: timed-out messages count at the timeout."""

    points: pd.DataFrame  # one row per load factor: end-to-end figures
    nodes: pd.DataFrame  # one row per (load factor, node)
    knee: float | None
    bottleneck: str
    target_p95_s: float
    focus_county: str | None


def _point(args) -> tuple[dict, pd.DataFrame]:
    scenario, seed, lf, county = args
    run = simulate_network(scenario, seed=seed, load_factor=lf, focus_county=county)
    msgs = run.messages.select(["created_s", "county", "state", "response_s"]).to_pandas()
    msgs = msgs[msgs["created_s"] >= run.warmup_s]
    if county is not None:
        msgs = msgs[msgs["county"] == county]
    rt = sender_response_times(msgs, scenario.network.response_timeout_s)
    n = max(len(msgs), 1)
    row = {
        "load_factor": lf,
        "messages": len(msgs),
        "answered_share": float((msgs["state"] == "answered").sum()) / n,
        "rejected_share": float((msgs["state"] == "rejected").sum()) / n,
        "timed_out_share": float((msgs["state"] == "timed_out").sum()) / n,
        "mean_s": float(rt.mean()) if len(rt) else float("nan"),
        "p50_s": float(rt.quantile(0.5)) if len(rt) else float("nan"),
        "p95_s": float(rt.quantile(0.95)) if len(rt) else float("nan"),
        "p99_s": float(rt.quantile(0.99)) if len(rt) else float("nan"),
        "seed": run.seed,
    }
    nodes = run.nodes.assign(load_factor=lf)
    return row, nodes


def sweep_capacity(
    scenario: Scenario,
    load_factors: list[float],
    seed: int,
    focus_county: str | None = None,
    workers: int = 1,
    on_point: Callable[[dict], None] | None = None,
) -> CapacityResult:
    tasks = [(scenario, seed, lf, focus_county) for lf in load_factors]
    results: dict[float, tuple[dict, pd.DataFrame]] = {}
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for lf, res in zip(load_factors, pool.map(_point, tasks)):
                results[lf] = res
                if on_point:
                    on_point(res[0])
    else:
        for task in tasks:
            res = _point(task)
            results[task[2]] = res
            if on_point:
                on_point(res[0])
    points = pd.DataFrame([results[lf][0] for lf in load_factors])
    nodes = pd.concat([results[lf][1] for lf in load_factors], ignore_index=True)
    if focus_county is not None:
        keep = (nodes["county"] == focus_county) | nodes["kind"].isin(["hub", "database"])
        nodes = nodes[keep].reset_index(drop=True)
    target = scenario.capacity.target_p95_s
    over = points[(points["p95_s"] > target) | points["p95_s"].isna()]
    knee = float(over["load_factor"].iloc[0]) if len(over) else None
    at = knee if knee is not None else float(points["load_factor"].max())
    at_nodes = nodes[nodes["load_factor"] == at]
    bottleneck = str(at_nodes.sort_values("utilization", ascending=False)["node"].iloc[0])
    return CapacityResult(points, nodes, knee, bottleneck, target, focus_county)


def plot_capacity(result: CapacityResult, path: Path, top: int = 5) -> Path:
    """PNG: p95 sojourn vs load of the most utilised nodes, and end-to-end p95 vs target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = result.nodes
    peak = nodes.groupby("node")["utilization"].max().sort_values(ascending=False)
    chosen = list(peak.index[:top])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for node in chosen:
        d = nodes[nodes["node"] == node].sort_values("load_factor")
        ax1.plot(d["load_factor"], d["p95_s"], marker="o", label=node)
    ax1.set_xlabel("load factor")
    ax1.set_ylabel("p95 time in node (s)")
    ax1.set_yscale("log")
    ax1.set_title("Busiest nodes")
    ax1.legend(fontsize=8)
    p = result.points
    ax2.plot(p["load_factor"], p["p95_s"], marker="o", color="black", label="end-to-end p95")
    ax2.axhline(result.target_p95_s, color="red", ls="--", label=f"target {result.target_p95_s:g} s")
    if result.knee is not None:
        ax2.axvline(result.knee, color="grey", ls=":", label=f"knee x{result.knee:g}")
    ax2.set_xlabel("load factor")
    ax2.set_ylabel("response time (s)")
    scope = f"{result.focus_county} County" if result.focus_county else "statewide"
    ax2.set_title(f"End-to-end response ({scope}); bottleneck: {result.bottleneck}")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
