"""Statewide message-level runs against issue 12's speed targets.

Three cases (fan-out and resends off for the first two, on for the third):

- ``peak``: statewide peak hour (scenarios/baseline_peak_hour.yaml), goal <= 5 s wall;
- ``day``: the same traffic over a full 24-hour day (~2.8 million messages), goal <= 60 s;
- ``fanout``: the peak hour with fan-out and resends (scenarios/fanout_resend_peak_hour.yaml),
  goal <= 15 s.

For each case: wall and CPU time (`time.process_time`, steadier on a shared machine),
transactions (and messages) per second of CPU, peak resident memory, wall/goal and CPU/goal
(< 1.00 means the goal is met) and, as the project's benchmarks do, a ratio against a baseline
run in the same process: the CPU time per message of the case over that of a bare SimPy chain
of the same shape (7 switches, a link before each and after the last: benchmarks/network_overhead.py).

Each case runs in a fresh interpreter (so its peak memory is its own) unless --in-process.
By default the peak hour and the fan-out peak hour run; --day adds the day; --case picks.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {  # name: (label, scenario, whole day?, goal s)
    "peak": ("statewide peak hour", "scenarios/baseline_peak_hour.yaml", False, 5.0),
    "day": ("statewide day", "scenarios/baseline_peak_hour.yaml", True, 60.0),
    "fanout": ("statewide peak hour, fan-out + resends", "scenarios/fanout_resend_peak_hour.yaml",
               False, 15.0),
}
BASELINE_MESSAGES = 20_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_cpu_per_message() -> float:
    """CPU seconds per message of the bare SimPy chain (median of 3 runs, this process)."""
    spec = importlib.util.spec_from_file_location("network_overhead", HERE / "network_overhead.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    cpus = []
    for _ in range(3):
        gc.collect()
        c0 = time.process_time()
        mod.bare_side(mod.PATH, BASELINE_MESSAGES, 1)
        cpus.append(time.process_time() - c0)
    return sorted(cpus)[1] / BASELINE_MESSAGES


def run_case(name: str, scenario_path: str | None) -> None:
    from sim.config import load_scenario
    from sim.runner import simulate_network

    label, default_path, whole_day, goal = CASES[name]
    sc = load_scenario(scenario_path or default_path)
    if whole_day:
        sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(
            update={"start_hour": 0.0, "duration_s": 86400.0, "warmup_s": 0.0})})
    base = bare_cpu_per_message()
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    run = simulate_network(sc)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    s = run.summary
    n = s["generated"]
    msgs = int(run.messages.column("messages").to_numpy().sum()) if "messages" in \
        run.messages.column_names else n
    what = f"{n:,} transactions ({msgs:,} messages)" if msgs != n else f"{n:,} messages"
    print(f"{label}: {what}, p95 {s['p95_s']:.2f} s")
    print(f"  wall {wall:.1f} s (simulation {s['sim_wall_s']:.1f} s), CPU {cpu:.1f} s; "
          f"{n / cpu:,.0f} transactions/s and {msgs / cpu:,.0f} messages/s of CPU "
          f"({n / wall:,.0f}/s of wall); peak RSS {peak_rss_mb():,.0f} MB")
    print(f"  goal {goal:g} s: wall/goal {wall / goal:.2f}, CPU/goal {cpu / goal:.2f}; "
          f"CPU per message / bare SimPy chain's {base * 1e6:.1f} us = {cpu / msgs / base:.2f}x")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=list(CASES),
                    help="run only this case (repeatable); default: peak and fanout")
    ap.add_argument("--day", action="store_true", help="also run the statewide 24-hour day")
    ap.add_argument("--scenario", help="scenario file for the chosen case(s) instead of the default")
    ap.add_argument("--in-process", action="store_true",
                    help="run the cases in this process (peak RSS then accumulates)")
    args = ap.parse_args()
    cases = args.case or (["peak", "fanout"] + (["day"] if args.day else []))
    if args.day and args.case and "day" not in cases:
        cases.append("day")
    for name in cases:
        if args.in_process or len(cases) == 1:
            run_case(name, args.scenario)
        else:
            cmd = [sys.executable, __file__, "--case", name, "--in-process"]
            if args.scenario:
                cmd += ["--scenario", args.scenario]
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
