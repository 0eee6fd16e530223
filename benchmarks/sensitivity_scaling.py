"""Sensitivity analysis on Dask: scaling from 1 to 2 workers, and the Orange Sobol analysis.

Two cases (issue 13 item 5):

- ``scaling`` (default): a Morris analysis of 48 model evaluations (5 parameters x 8
  trajectories) of Orange County's peak (scenarios/orange_knee_sensitivity.yaml, output: p95
  at x1.0), on a Dask LocalCluster of 1 worker, then of 2 workers, each from a fresh folder
  (nothing reused). Timed from the call to the end of the analysis, so each side pays for
  starting its cluster once (the command starts one cluster for all its runs). Goal: speed-up
  >= 1.8x. The machine is shared and noisy, so the two sides run in ``--rounds`` rounds
  (default 3), alternating which goes first, and the speed-up is the ratio of their medians.
  Every analysis must give identical indices (a run depends only on its config and seed, not
  on the executor).
- ``sobol``: the Orange capacity question ("can its MSC carry the peak hour if MDTs double?":
  p95 of the response at MDTs x2) by Sobol with the 5 parameters and N=64 (64 x 7 = 448
  runs, no tornado) on 2 Dask workers. Goal: under 15 minutes on this 2-core machine.

Usage: python benchmarks/sensitivity_scaling.py [--case scaling|sobol|both] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from sim import sensitivity as sa
from sim.config import load_scenario
from sim.config.reader import load_yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "orange_knee_sensitivity.yaml"
PARAMS = ("network.msc.service.mean,network.msc.population_per_server,traffic.diurnal.amplitude,"
          "traffic.mdt_rate_per_hour,topology.devices.mdts_per_10k")
OUTPUTS = ["p95_censored_s", "max_utilization"]


def analysis(out: Path, method: str, samples: int, workers: int) -> tuple[float, sa.Analysis]:
    """One analysis on a local Dask cluster of `workers`, timed end to end."""
    scenario = load_scenario(SCENARIO)
    t0 = time.perf_counter()
    design = sa.make_design(method, sa.choose_factors(scenario, PARAMS), samples, scenario.seed)
    planned = sa.plan_runs(scenario, load_yaml(SCENARIO), design, out, 1, "measures", False,
                           str(SCENARIO))
    res = sa.run_analysis(planned, design, OUTPUTS, workers=workers, dask=True)
    wall = time.perf_counter() - t0
    assert not len(res.failed), res.failed["error"].tolist()[:3]
    return wall, res


def scaling(tmp: Path, rounds: int) -> None:
    walls: dict[int, list[float]] = {1: [], 2: []}
    first = None
    for r in range(rounds):
        for workers in ((1, 2) if r % 2 == 0 else (2, 1)):  # alternate which side goes first
            wall, res = analysis(tmp / f"r{r}w{workers}", "morris", 8, workers)
            walls[workers].append(wall)
            if first is None:
                first = res
            else:
                pd.testing.assert_frame_equal(first.indices, res.indices)
        print(f"round {r + 1}: 1 Dask worker {walls[1][-1]:.1f} s, 2 Dask workers "
              f"{walls[2][-1]:.1f} s", flush=True)
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    print(f"Morris, {len(first.records)} model evaluations (Orange peak, 5 parameters x 8 "
          f"trajectories), medians of {rounds} alternating rounds: 1 Dask worker {one:.1f} s, "
          f"2 Dask workers {two:.1f} s: speed-up {one / two:.2f}x "
          f"(goal >= 1.8x: {'met' if one / two >= 1.8 else 'NOT met'}); identical indices")


def sobol(tmp: Path) -> None:
    wall, res = analysis(tmp / "sobol", "sobol", 64, 2)
    d = res.indices[res.indices["output"] == OUTPUTS[0]].sort_values("rank")
    print(f"Sobol N=64, 5 parameters: {len(res.records)} runs on 2 Dask workers in {wall / 60:.1f} "
          f"min (goal < 15 min: {'met' if wall < 900 else 'NOT met'})")
    print(d[["parameter", "S1", "S1_conf", "ST", "ST_conf"]].to_string(index=False))
    print(sa.headline_answer(res.indices, res.spread, OUTPUTS[0]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["scaling", "sobol", "both"], default="scaling")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of the scaling case")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        if args.case in ("scaling", "both"):
            scaling(Path(d), args.rounds)
        if args.case in ("sobol", "both"):
            sobol(Path(d))


if __name__ == "__main__":
    main()
