"""A statewide year of oversight with every rule on: goal under 60 s wall on 2 cores and under
4 GB peak memory (issue 9, item 13).

The journal's operator and misuse rows (~100,000 a day) go through detection and the
oversight loop; automated checks (~2.7 million a day: no operator, never misuse, no rule
reads them) are counted, not generated (`oversight.automated_rows: count`), and still make
the volume figure. Detection runs every rule, the monthly anomaly score and a 0.1% random
audit, so the alert queues and investigator budgets are exercised at full volume.

Baselines measured in the same process: detection's throughput against journal generation's,
and, on the first day, counting the automated checks against generating them row by row
(`rows` mode, the earlier way; the stream is put back afterwards, so the run is unchanged).
"""

from __future__ import annotations

import argparse
import resource
import time

from sim.config import parse_scenario
from sim.config.oversight import RULES
from sim.detection import HumanRows
from sim.oversight import OversightModel
from sim.rng import Streams


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def cpu_s() -> tuple[float, float]:
    """User and system CPU seconds of this process, all threads (not slowed by other load)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def thread_cpu() -> float:
    """CPU seconds of the calling thread (the phases of the loop run on the main thread)."""
    r = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return r.ru_utime + r.ru_stime


GOAL_S, GOAL_GB = 60.0, 4.0


def automated_baseline(model) -> tuple[float, float]:
    """Seconds to count the first day's automated checks and to generate them row by row.

    Both draw from the traffic stream; its state is saved and put back, so the run that
    follows is the one it would have been.
    """
    lawful, day = model.lawful, model.gen.first_day
    state = lawful.rng.bit_generator.state
    count_s = float("inf")
    for _ in range(2):  # the first call also allocates its scratch space
        t = time.perf_counter()
        n_count = lawful.automated_count(day)
        lawful.rng  # noqa: B018  waits for the draws it runs in the background: their cost counts
        count_s = min(count_s, time.perf_counter() - t)
        lawful.rng.bit_generator.state = state
    t = time.perf_counter()
    n_rows = len(lawful.automated_rows(day)["time"])
    rows_s = time.perf_counter() - t
    lawful.rng.bit_generator.state = state
    assert n_count == n_rows, (n_count, n_rows)  # the same draw
    return count_s, rows_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=None, help="stop after this many days (quick look)")
    args = ap.parse_args()
    scenario = parse_scenario({
        "name": "bench", "seed": 1, "model": "oversight", "journal": {"start_date": "2018-01-01"},
        "oversight": {"years": 1, "warmup_days": 0, "automated_rows": "count",
                      "detection": {"rules": {"enabled": list(RULES)}, "anomaly": {"enabled": True},
                                    "random_audit_rate": 0.001},
                      "follow_up": {"regime": "proactive"}},
    })
    t0, cpu0 = time.perf_counter(), cpu_s()
    model = OversightModel(scenario, Streams(1))
    if args.days:
        model.n_days = args.days
    setup = time.perf_counter() - t0
    wall_b, cpu_b = time.perf_counter(), cpu_s()
    count_s, rows_s = automated_baseline(model)
    # the baseline's wall and CPU time are not part of the run
    wall_b, cpu_b = time.perf_counter() - wall_b, [b - a for a, b in zip(cpu_b, cpu_s())]
    # instrument detection: time spent in it, rows it read
    det = model.detector
    spent = {"detect": 0.0, "rows": 0, "journal_rows": 0, "gen": 0.0, "automated": 0,
             "detect_cpu": 0.0, "gen_cpu": 0.0}
    run_rows, day_fn = det.run_rows, model.gen.day

    def timed_rows(rows: HumanRows, day):
        t, c = time.perf_counter(), thread_cpu()
        out = run_rows(rows, day)
        spent["detect"] += time.perf_counter() - t
        spent["detect_cpu"] += thread_cpu() - c
        spent["rows"] += len(rows.query_id)
        return out

    def timed_day(day, k):
        t, c = time.perf_counter(), thread_cpu()
        chunk = day_fn(day, k)
        spent["gen"] += time.perf_counter() - t
        spent["gen_cpu"] += thread_cpu() - c
        spent["journal_rows"] += chunk.journal.num_rows
        spent["automated"] += chunk.automated_rows
        return chunk

    det.run_rows, model.gen.day = timed_rows, timed_day
    t1, c1 = time.perf_counter(), thread_cpu()
    result = model.run()
    loop, loop_cpu = time.perf_counter() - t1, thread_cpu() - c1
    total = time.perf_counter() - t0 - wall_b
    user, system = (b - a - c for a, b, c in zip(cpu0, cpu_s(), cpu_b))
    y = result.yearly.iloc[0]
    rss = peak_rss_gb()
    other = loop_cpu - spent["gen_cpu"] - spent["detect_cpu"]
    print(f"statewide oversight year: {spent['journal_rows']:,} journal rows and "
          f"{spent['automated']:,} automated checks (counted) over {model.n_days} days")
    print(f"wall {total:.1f} s (setup {setup:.1f} s, loop {loop:.1f} s: journal {spent['gen']:.1f} s, "
          f"detection {spent['detect']:.1f} s, oversight {loop - spent['gen'] - spent['detect']:.1f} s): "
          f"wall/goal = {total / GOAL_S:.2f} (goal {GOAL_S:g} s); "
          f"peak RSS {rss:.2f} GB: RSS/goal = {rss / GOAL_GB:.2f} (goal {GOAL_GB:g} GB)")
    print(f"CPU {user + system:.1f} s (user {user:.1f}, system {system:.1f}); the loop's main thread "
          f"{loop_cpu:.1f} s: journal {spent['gen_cpu']:.1f}, detection {spent['detect_cpu']:.1f}, "
          f"oversight {other:.1f} (wall exceeds CPU when other work shares the cores)")
    print(f"automated checks of the first day: counting {count_s * 1000:.1f} ms, generating them "
          f"row by row {rows_s * 1000:.0f} ms: rows/count time ratio {rows_s / max(count_s, 1e-9):.0f}")
    print(f"detection: {spent['journal_rows'] / max(spent['detect'], 1e-9):,.0f} journal rows/s "
          f"({spent['rows']:,} operator rows checked); journal generation "
          f"{spent['journal_rows'] / max(spent['gen'], 1e-9):,.0f} rows/s; "
          f"detection/generation throughput ratio {spent['gen'] / max(spent['detect'], 1e-9):.2f}")
    shown = [n for n in ("alerts", "alerts_reviewed", "investigations_closed", "reported_share",
                         "automated_checks") if n in y.index]
    print(", ".join(f"{n} {y[n]:.1%}" if n.endswith("share") else f"{n} {int(y[n]):,}" for n in shown))


if __name__ == "__main__":
    main()
