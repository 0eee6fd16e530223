"""Journal generation throughput: rows/s (goal >= 5M rows/s on one core) and a statewide
month and year in `none` mode (goal: a year, ~10^9 rows, in under 5 minutes with < 4 GB).

The hardware baseline, run in the same process, is numpy drawing the same number of
uniform random numbers as the journal has columns (9 per row): the ratio says how close
the generator is to the cost of its raw randomness.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from sim.config import Scenario
from sim.journal import JournalGenerator
from sim.rng import Streams


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def baseline_rows_per_s(rows: int) -> float:
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    done = 0
    while done < rows:
        n = min(2_800_000, rows - done)
        for _ in range(9):
            rng.random(n)
        done += n
    return rows / (time.perf_counter() - t0)


def run(days: int, label: str, goal_s: float | None) -> None:
    t0 = time.perf_counter()
    gen = JournalGenerator(Scenario(name="bench", seed=1), Streams(1), days=days)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    rows = misuse = 0
    for chunk in gen.days():
        rows += chunk.journal.num_rows
        misuse += chunk.misuse_rows
    gen_s = time.perf_counter() - t1
    total = time.perf_counter() - t0
    base = baseline_rows_per_s(min(rows, 30_000_000))
    line = (f"{label}: {rows:,} rows ({misuse:,} misuse) in {total:.1f} s "
            f"(world + misuse setup {setup:.1f} s, generation {gen_s:.1f} s): "
            f"{rows / gen_s:,.0f} rows/s (goal 5,000,000: ratio {rows / gen_s / 5e6:.2f}); "
            f"numpy baseline {base:,.0f} rows/s, generator/baseline = {rows / gen_s / base:.2f}; "
            f"peak RSS {peak_rss_gb():.2f} GB")
    if goal_s:
        line += f"; wall/goal = {total / goal_s:.2f} (goal {goal_s:g} s)"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--year", action="store_true", help="also generate a statewide year (~10^9 rows)")
    args = ap.parse_args()
    run(30, "statewide month", None)
    if args.year:
        run(365, "statewide year", 300.0)


if __name__ == "__main__":
    main()
