"""The same sweep on 1 and 2 workers, local processes and Dask: speed-up (goal >= 1.8x on 2 cores).

Runs are independent (the sweep is embarrassingly parallel), so the speed-up is bounded
only by the number of cores and the cost of starting workers. Each configuration writes
to a fresh directory, so nothing is reused between them.
"""

from __future__ import annotations

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


def timed(tmp: Path, name: str, **executor) -> float:
    path = tmp / "s.yaml"
    specs, _ = plan(load_scenario(path), yaml.safe_load(path.read_text()), tmp / name, str(path))
    t0 = time.perf_counter()
    records = run_all(specs, **executor)
    assert all(r["status"] == "complete" for r in records), [r.get("error") for r in records]
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "s.yaml").write_text(yaml.safe_dump(SWEEP))
        one = timed(tmp, "one")
        two = timed(tmp, "two", workers=2)
        dask2 = timed(tmp, "dask", workers=2, dask_local=True)
        print(f"sweep of 8 runs of {one / 8:.1f} s each: 1 worker {one:.1f} s; 2 local processes {two:.1f} s "
              f"(speed-up {one / two:.2f}x, goal >= 1.8x); 2 Dask workers {dask2:.1f} s "
              f"(speed-up {one / dask2:.2f}x)")


if __name__ == "__main__":
    main()
