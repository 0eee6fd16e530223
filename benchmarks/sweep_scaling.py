"""The same sweep on 1 and 2 workers, local processes and Dask: speed-up (goal >= 1.8x on 2 cores).

Runs are independent (the sweep is embarrassingly parallel), so the speed-up is bounded
only by the number of cores, the cost of starting workers and whatever else the workers'
processes do while they simulate. Each configuration writes to a fresh directory, so nothing
is reused between them.

The machine is shared and noisy, so the three configurations run alternately, ``--rounds``
times (default 3), and each speed-up is the ratio of the medians: a burst of outside load
then slows one reading of each configuration rather than one configuration's only reading.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from sim.config import load_scenario
from sim.experiment import plan, run_all

SWEEP = {
    "name": "scaling", "seed": 5, "model": "oversight",
    "topology": {"counties": ["Orange", "San Diego"]},
    "journal": {"start_date": "2018-01-01"},
    "oversight": {"years": 1, "warmup_days": 30},
    "sweep": {"grid": {"oversight.detection.random_audit_rate": [0.0, 0.001, 0.01, 0.05]},
              "replications": 2},
}
CONFIGS = {"1 worker": {}, "2 local processes": {"workers": 2},
           "2 Dask workers": {"workers": 2, "dask_local": True}}


def timed(tmp: Path, name: str, **executor) -> float:
    path = tmp / "s.yaml"
    specs, _ = plan(load_scenario(path), yaml.safe_load(path.read_text()), tmp / name, str(path))
    t0 = time.perf_counter()
    records = run_all(specs, **executor)
    assert all(r["status"] == "complete" for r in records), [r.get("error") for r in records]
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    rounds = ap.parse_args().rounds
    walls: dict[str, list[float]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "s.yaml").write_text(yaml.safe_dump(SWEEP))
        for r in range(rounds):
            for i, (name, executor) in enumerate(CONFIGS.items()):
                walls[name].append(timed(tmp, f"r{r}c{i}", **executor))
            print(f"round {r + 1}: " + "; ".join(f"{n} {w[-1]:.1f} s" for n, w in walls.items()),
                  flush=True)
    one = statistics.median(walls["1 worker"])
    parts = [f"1 worker {one:.1f} s"]
    for name in list(CONFIGS)[1:]:
        m = statistics.median(walls[name])
        parts.append(f"{name} {m:.1f} s (speed-up {one / m:.2f}x, goal >= 1.8x)")
    print(f"sweep of 8 runs of {one / 8:.1f} s each, medians of {rounds} alternating rounds: "
          + "; ".join(parts))


if __name__ == "__main__":
    main()
