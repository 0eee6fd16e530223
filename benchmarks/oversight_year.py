"""A statewide year of journal (automated checks included, ~10^9 rows) through detection and
the oversight loop, recording nothing (`none`): goal under 5 minutes wall and under 4 GB peak
memory. Prints rows/s of detection and its ratio against journal generation alone, measured
in the same process on the first days.

Detection runs every rule, the monthly anomaly score and a 0.1% random audit, so the alert
queues and investigator budgets are exercised at full volume.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=None, help="stop after this many days (quick look)")
    args = ap.parse_args()
    scenario = parse_scenario({
        "name": "bench", "seed": 1, "model": "oversight", "journal": {"start_date": "2018-01-01"},
        "oversight": {"years": 1, "warmup_days": 0, "automated_rows": True,
                      "detection": {"rules": {"enabled": list(RULES)}, "anomaly": {"enabled": True},
                                    "random_audit_rate": 0.001},
                      "follow_up": {"regime": "proactive"}},
    })
    t0 = time.perf_counter()
    model = OversightModel(scenario, Streams(1))
    if args.days:
        model.n_days = args.days
    setup = time.perf_counter() - t0
    # instrument detection: time spent in it, rows it read
    det = model.detector
    spent = {"detect": 0.0, "rows": 0, "journal_rows": 0, "gen": 0.0}
    run_rows, day_fn = det.run_rows, model.gen.day

    def timed_rows(rows: HumanRows, day):
        t = time.perf_counter()
        out = run_rows(rows, day)
        spent["detect"] += time.perf_counter() - t
        spent["rows"] += len(rows.query_id)
        return out

    def timed_day(day, k):
        t = time.perf_counter()
        chunk = day_fn(day, k)
        spent["gen"] += time.perf_counter() - t
        spent["journal_rows"] += chunk.journal.num_rows
        return chunk

    det.run_rows, model.gen.day = timed_rows, timed_day
    t1 = time.perf_counter()
    result = model.run()
    loop = time.perf_counter() - t1
    total = time.perf_counter() - t0
    y = result.yearly.iloc[0]
    print(f"statewide oversight year: {spent['journal_rows']:,} journal rows over {model.n_days} days; "
          f"wall {total:.1f} s (setup {setup:.1f} s, loop {loop:.1f} s: journal {spent['gen']:.1f} s, "
          f"detection {spent['detect']:.1f} s, oversight {loop - spent['gen'] - spent['detect']:.1f} s); "
          f"wall/goal = {total / 300:.2f} (goal 300 s); peak RSS {peak_rss_gb():.2f} GB (goal 4 GB)")
    print(f"detection: {spent['journal_rows'] / max(spent['detect'], 1e-9):,.0f} journal rows/s "
          f"({spent['rows']:,} operator rows checked); journal generation "
          f"{spent['journal_rows'] / max(spent['gen'], 1e-9):,.0f} rows/s; "
          f"detection/generation throughput ratio {spent['gen'] / max(spent['detect'], 1e-9):.2f}")
    print(f"alerts {int(y['alerts']):,} (reviewed {int(y['alerts_reviewed']):,}), investigations closed "
          f"{int(y['investigations_closed']):,}, agencies reporting {y['reported_share']:.1%}")


if __name__ == "__main__":
    main()
