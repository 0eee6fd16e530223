"""Statewide message-level runs: peak hour (goal < 30 s wall) and a full day (goal < 5 min).

Prints wall time, simulated messages per second, peak resident memory, and each
wall time as a ratio of its goal (< 1.00 means the goal is met). Run with --day to
include the 24-hour run (~2.8 million messages).
"""

from __future__ import annotations

import argparse
import resource
import time

from sim.config import load_scenario
from sim.runner import simulate_network


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label: str, scenario, goal_s: float) -> None:
    t0 = time.perf_counter()
    run = simulate_network(scenario)
    wall = time.perf_counter() - t0
    s = run.summary
    print(f"{label}: {s['generated']:,} messages, wall {wall:.1f} s "
          f"(simulation {s['sim_wall_s']:.1f} s), {s['generated'] / s['sim_wall_s']:,.0f} messages/s, "
          f"peak RSS {peak_rss_mb():,.0f} MB; wall/goal = {wall / goal_s:.2f} (goal {goal_s:g} s); "
          f"p95 {s['p95_s']:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/baseline_peak_hour.yaml")
    ap.add_argument("--day", action="store_true", help="also run a statewide 24-hour day")
    args = ap.parse_args()
    base = load_scenario(args.scenario)
    measure("statewide peak hour", base, 30.0)
    if args.day:
        day = base.model_copy(update={"horizon": base.horizon.model_copy(
            update={"start_hour": 0.0, "duration_s": 86400.0, "warmup_s": 0.0})})
        measure("statewide day", day, 300.0)


if __name__ == "__main__":
    main()
