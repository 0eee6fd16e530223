"""Replications and sweeps: expand, run on an executor, resume, summarise with CIs.

A sweep is data: the scenario's ``sweep:`` block lists dotted config keys and values
(a grid, and/or explicit points). Every point is validated before anything runs (an
unknown key stops with the key's name). Replication *r* of every point uses the same
seed (common random numbers), so policies are compared on the same world, the same
lawful traffic and the same misuse; summaries give each point's mean and 95% CI and the
paired difference against the baseline point.

Each run is keyed by a hash of its fully resolved config and seed and writes
``runs/<key>/result.json`` when it finishes (``status`` complete or failed, with the
exception); rerunning a sweep skips finished runs, so an interrupted sweep resumes. A
failed run is recorded and does not stop the others. Executors: serial, local processes
(``workers``) and Dask distributed (a scheduler address, or a LocalCluster); results are
identical whatever the executor, because a run depends only on its config and seed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import traceback
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from sim.config import Scenario, parse_scenario
from sim.errors import ScenarioError
from sim.metrics import mean_ci
from sim.processes import worker_pool

RESULT_VERSION = 1
MAX_POINTS = 10_000  # documented limit on a sweep's points


def replication_seed(root: int, r: int) -> int:
    """The r-th replication's seed: independent child of the root (SeedSequence spawn key)."""
    state = np.random.SeedSequence(int(root), spawn_key=(0x5EED, r)).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def set_dotted(d: dict, key: str, value) -> None:
    parts = key.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
        if not isinstance(nxt, dict):
            raise ScenarioError(f"sweep: {key!r}: {p!r} is not a section")
        cur = nxt
    cur[parts[-1]] = value


def point_label(overrides: dict) -> str:
    """Short label of a point: the last part of each key and its value."""
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in overrides.items()) or "scenario as written"


def expand_points(scenario: Scenario) -> list[dict]:
    """Override sets of the sweep: the grid's combinations, then the listed points."""
    sw = scenario.sweep
    if "seed" in (sw.grid or {}) or any("seed" in p for p in sw.points):
        raise ScenarioError("sweep: 'seed' cannot be swept (replication r of every point shares its "
                            "seed); use sweep.replications for more seeds")
    grid = 1
    for values in (sw.grid or {}).values():
        grid *= max(len(values), 1)
        if grid > MAX_POINTS:
            break
    total = (grid if sw.grid else 0) + len(sw.points)
    if total > MAX_POINTS:
        raise ScenarioError(f"sweep: {'more than ' if grid > MAX_POINTS else ''}{total:,} points; at most "
                            f"{MAX_POINTS:,} (split the question into smaller sweeps)")
    points = []
    if sw.grid:
        keys = list(sw.grid)
        for combo in itertools.product(*(sw.grid[k] for k in keys)):
            points.append(dict(zip(keys, combo)))
    points.extend(dict(p) for p in sw.points)
    return points


def resolve(base: dict, overrides: dict, source: str) -> Scenario:
    """The scenario with one point's overrides applied; bad keys and values name themselves."""
    d = copy.deepcopy(base)
    d.pop("sweep", None)
    for key, value in overrides.items():
        set_dotted(d, key, value)
    try:
        return parse_scenario(d, source)
    except ScenarioError as e:
        raise ScenarioError(f"sweep point ({point_label(overrides)}): {e}") from None


@dataclass(frozen=True)
class RunSpec:
    key: str
    point: int
    label: str
    replication: int
    seed: int
    scenario: dict  # fully resolved (defaults included)
    directory: str
    task: str = "measures"  # what the run computes: a TASKS name, with ":argument" for some


def run_key(resolved: dict, seed: int, task: str = "measures") -> str:
    payload = {"scenario": resolved, "seed": seed, "v": RESULT_VERSION}
    if task != "measures":  # (a sweep's keys stay what they were before tasks existed)
        payload["task"] = task
    blob = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sweep_points(scenario: Scenario, raw: dict, source: str = "<scenario>") -> tuple[list[dict], list[Scenario]]:
    """The sweep's points (overrides) and each point's scenario, validated (one point, no
    overrides, without a sweep)."""
    points = [{}] if scenario.sweep is None else expand_points(scenario)
    return points, [resolve(raw, overrides, source) for overrides in points]


def plan(scenario: Scenario, raw: dict, out: Path, source: str = "<scenario>",
         replications: int | None = None,
         resolved: tuple[list[dict], list[Scenario]] | None = None) -> tuple[list[RunSpec], list[dict]]:
    """Every (point, replication) run of a sweep, validated; nothing runs yet. `resolved`: the
    `sweep_points` already computed (e.g. to size the sweep), not computed again."""
    points, scenarios = resolved or sweep_points(scenario, raw, source)
    reps = replications or (1 if scenario.sweep is None else scenario.sweep.replications)
    if reps < 1:
        raise ScenarioError(f"replications: must be >= 1 (got {reps})")
    root = scenario.seed if scenario.seed is not None else 0
    specs = []
    for i, (overrides, point) in enumerate(zip(points, scenarios)):
        resolved_dict = point.model_dump(mode="json")
        for r in range(reps):
            seed = replication_seed(root, r)
            key = run_key(resolved_dict, seed)
            specs.append(RunSpec(key, i, point_label(overrides), r, seed, resolved_dict,
                                 str(out / "runs" / key)))
    return specs, points


# ---------------------------------------------------------------------- one run


def measures_of(scenario: Scenario, seed: int, directory: Path) -> dict:
    """Run one scenario and return its comparable measures (and write its tables)."""
    if scenario.model == "both":
        out = {}
        for part in ("network", "oversight"):
            sub = directory / part
            sub.mkdir(parents=True, exist_ok=True)
            single = scenario.model_copy(update={"model": part})
            out |= {f"{part}.{k}": v for k, v in measures_of(single, seed, sub).items()}
        return out
    if scenario.model == "oversight":
        from sim.outputs import write_oversight_run
        from sim.oversight import simulate_oversight

        result = simulate_oversight(scenario, seed=seed)
        write_oversight_run(result, directory)
        y = result.yearly
        out = {c: float(y[c].mean()) for c in y.columns if c != "year"}
        reviewed = int((result.alerts["status"] == "reviewed").sum()) if len(result.alerts) else 0
        out["alerts_reviewed_total"] = float(reviewed)
        return out
    from sim.outputs import write_network_run
    from sim.runner import simulate_network

    run = simulate_network(scenario, seed=seed)
    write_network_run(run, directory)
    s = run.summary
    # shares and percentiles over messages created after the warm-up (the registry's window);
    # p95 both ways: answered only, and timed-out counted at the timeout
    return {name: s[name] for name in NETWORK_MEASURES[:-1]} | {
        "max_utilization": float(run.nodes["utilization"].max())}


# what `measures_of` returns for one network run (registered in sim.measures)
NETWORK_MEASURES = ("answered_share", "rejected_share", "timed_out_share", "mean_s", "p95_s",
                    "p95_censored_s", "waited_timed_out_share", "p99_s", "max_utilization")


def _knee_task(scenario: Scenario, seed: int, directory: Path, county: str) -> dict:
    from sim.knee import knee_outputs

    return knee_outputs(scenario, seed, county)


def _difference_task(scenario: Scenario, seed: int, directory: Path, change: str) -> dict:
    """The scenario as written and with `change` ({"dotted.key": value}, JSON), on the same seed:
    each measure of both arms and their paired difference (changed - as written)."""
    changed = changed_scenario(scenario, json.loads(change))
    arms = {}
    for arm, sc in (("as_written", scenario), ("changed", changed)):
        (directory / arm).mkdir(parents=True, exist_ok=True)
        arms[arm] = TASKS["measures"](sc, seed, directory / arm, "")  # (a test's stub too)
    out = {f"{arm}.{m}": v for arm, ms in arms.items() for m, v in ms.items()}
    for m, v in arms["as_written"].items():
        w = arms["changed"].get(m)
        out[f"difference.{m}"] = (w - v) if v is not None and w is not None else None
    return out


def difference_task(scenario: Scenario, spec: str, flag: str = "--difference") -> str:
    """`KEY=VALUE` (a scalar in YAML) as a "difference:" task; the changed scenario is
    validated now, so a bad key or value stops before any run, naming `flag`."""
    import yaml

    key, eq, text = spec.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ScenarioError(f"{flag}: {spec[:100]!r}: write it KEY=VALUE, e.g. "
                            "oversight.audits.cycle_years=1")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    if isinstance(value, (dict, list)) or value is None:
        raise ScenarioError(f"{flag}: {spec[:100]!r}: the value must be one number, word or "
                            "true/false")
    changed_scenario(scenario, {key: value}, flag)
    return "difference:" + json.dumps({key: value})


def changed_scenario(scenario: Scenario, change: dict, what: str = "--difference") -> Scenario:
    """`scenario` with dotted keys set; a bad key or value names `what`."""
    d = scenario.model_dump(mode="json")
    try:
        for key, value in change.items():
            set_dotted(d, key, value)
        return parse_scenario(d, "the changed scenario")
    except ScenarioError as e:
        raise ScenarioError(f"{what}: {str(e)[:500]}") from None


# what one run computes: name -> f(scenario, seed, run directory, argument) -> {measure: value}.
# "measures": the run's comparable measures (and its tables); "knee:<county>": that county's
# knee by bisection on the load (sim.knee); "difference:<json change>": both arms of a paired
# comparison and their difference. Tests add stub models here.
TASKS: dict[str, Callable[[Scenario, int, Path, str], dict]] = {
    "measures": lambda scenario, seed, directory, _arg: measures_of(scenario, seed, directory),
    "knee": _knee_task,
    "difference": _difference_task,
}


def task_outputs(scenario: Scenario, task: str = "measures") -> list[str]:
    """The measures a run of `task` on `scenario` produces, known before it runs."""
    name = task.partition(":")[0]
    if name == "knee":
        from sim.knee import KNEE_OUTPUTS

        return list(KNEE_OUTPUTS)
    if name == "difference":
        own = task_outputs(scenario)
        return [f"{arm}.{m}" for arm in ("difference", "as_written", "changed") for m in own]
    if name != "measures":
        return []  # a stub's: unknown in advance
    from sim.measures import MEASURES

    if scenario.model == "both":
        return [f"{part}.{m}" for part in ("network", "oversight")
                for m in task_outputs(scenario.model_copy(update={"model": part}))]
    if scenario.model == "network":
        return list(NETWORK_MEASURES)
    return [m.name for m in MEASURES.values() if m.model == "oversight"] + ["alerts_reviewed_total"]


def execute(spec: RunSpec) -> dict:
    """Run one spec in its own directory; always returns a result record (never raises)."""
    directory = Path(spec.directory)
    done = directory / "result.json"
    redone = None
    if done.exists():
        try:
            prior = json.loads(done.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            prior, redone = {}, f"{done} was unreadable (corrupt); the run was redone"
        if not isinstance(prior, dict):
            prior, redone = {}, f"{done} was not a result record; the run was redone"
        if prior.get("status") == "complete" and prior.get("version") == RESULT_VERSION:
            return prior | {"resumed": True}
    directory.mkdir(parents=True, exist_ok=True)
    record = {"version": RESULT_VERSION, "key": spec.key, "point": spec.point, "label": spec.label,
              "replication": spec.replication, "seed": spec.seed}
    try:
        scenario = parse_scenario(spec.scenario)
        name, _, argument = spec.task.partition(":")
        measures = TASKS[name](scenario, spec.seed, directory, argument)
        record |= {"status": "complete", "measures": measures}
    except Exception as e:  # noqa: BLE001 - a failed run is recorded, the sweep goes on
        record |= {"status": "failed", "error": f"{type(e).__name__}: {e}",
                   "traceback": traceback.format_exc()}
    if redone:
        record["redone"] = redone
    tmp = directory / f".result.json.{os.getpid()}"
    tmp.write_text(json.dumps(record, default=float))
    os.replace(tmp, done)
    return record | {"resumed": False}


# ---------------------------------------------------------------------- executors


def run_all(specs: list[RunSpec], workers: int = 1, scheduler: str | None = None,
            dask_local: bool = False, on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Run every spec on the chosen executor; results in spec order."""
    results: dict[str, dict] = {}

    def done(rec: dict) -> None:
        results[rec["key"]] = rec
        if on_done:
            on_done(rec)

    if scheduler or dask_local:
        _run_dask(specs, workers, scheduler, done)
    elif workers > 1 and len(specs) > 1:
        with worker_pool(workers) as pool:
            futures = [pool.submit(execute, s) for s in specs]
            for f in as_completed(futures):
                done(f.result())
    else:
        for s in specs:
            done(execute(s))
    return [results[s.key] for s in specs]


# A local cluster's workers run one CPU-bound simulation each on all the cores there are, so
# every background cycle of the cluster's processes is taken from a simulation: the profiler's
# stack walk every 10 ms (for a dashboard these clusters do not have), every server's 20 ms
# event-loop watchdog, the scheduler's work stealing every 100 ms (pointless when tasks wait at
# the scheduler until a worker is free). Off or slowed, benchmarks/sweep_scaling.py's sweep took
# ~8% less wall time (docs/experiments.md).
# fork: workers start with the simulator already imported, as a process pool's do.
LOCAL_DASK_CONFIG = {
    "distributed.worker.multiprocessing-method": "fork",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "2s",
    "distributed.admin.tick.interval": "500ms",  # every server's event-loop watchdog (20 ms)
    # one task per worker at a time, the rest queued at the scheduler for whichever worker is
    # free first (1.1 would hand each single-threaded worker a second one to hold)
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.scheduler.work-stealing": False,  # nothing held by a worker to steal
}


def _run_dask(specs, workers, scheduler, done) -> None:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ScenarioError("--scheduler: dask.distributed is not installed") from None
    client = cluster = None
    try:
        try:
            if scheduler:
                client = Client(scheduler, timeout="5s")
            else:
                import signal

                import dask

                # workers start ignoring Ctrl-C: this process answers it and closes them
                ctrl_c = signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    with dask.config.set(LOCAL_DASK_CONFIG):
                        cluster = LocalCluster(
                            n_workers=workers, threads_per_worker=1, processes=True,
                            dashboard_address=None,  # no dashboard, no fixed port
                            scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"})
                finally:
                    signal.signal(signal.SIGINT, ctrl_c)
                client = Client(cluster)
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            raise ScenarioError(f"--scheduler: cannot reach {scheduler!r} ({str(e)[:200]})") from None
        futures = client.map(execute, specs, pure=False)
        for f in dask_completed(futures):
            done(f.result())
    except KeyboardInterrupt:
        _close_dask_quietly(client)  # Ctrl-C: the command prints one line, Dask nothing
        raise
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def _silence_dask_logs() -> None:
    import logging

    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _close_dask_quietly(client) -> None:
    """Close the client and every local cluster of this process with Dask's shutdown chatter
    (worker tracebacks, 'Exception ignored in atexit') silenced: after Ctrl-C, the user sees
    the command's one line saying what was kept."""
    import contextlib
    import io

    from distributed.deploy.spec import SpecCluster

    _silence_dask_logs()
    with contextlib.redirect_stderr(io.StringIO()):
        if client is not None:
            try:  # the workers too: they log every task cancelled by the shutdown
                client.run(_silence_dask_logs, wait=True)
            except BaseException:  # noqa: BLE001
                pass
        for thing in [client, *list(SpecCluster._instances)]:
            if thing is None:
                continue
            try:
                thing.close(timeout=10)
            except BaseException:  # noqa: BLE001 - a second Ctrl-C or a half-started cluster
                pass
    SpecCluster._instances.clear()  # nothing left for the atexit hook to close again


# ---------------------------------------------------------------------- summaries


def verdict(ci_low: float, ci_high: float, pairs: int) -> str:
    """Plain words for a paired difference's 95% CI: higher, lower, or no detectable difference."""
    if pairs < 2 or np.isnan(ci_low) or np.isnan(ci_high):
        return "too few replications to tell"
    if ci_low == ci_high == 0:
        return "same in every replication"
    if ci_low > 0:
        return "higher"
    if ci_high < 0:
        return "lower"
    return "no detectable difference"


def clip_to_range(measure: str, lo: float, hi: float) -> tuple[float, float]:
    """A mean's t-interval cut to the values the measure can take: counts, days and seconds
    are never negative, shares lie in [0, 1] (differences are not clipped)."""
    from sim.measures import get

    try:
        kind = get(measure).kind
    except KeyError:
        return lo, hi
    top = 1.0 if kind == "share" else np.inf
    if kind in ("count", "days", "seconds", "share"):
        return float(np.clip(lo, 0.0, top)), float(np.clip(hi, 0.0, top))
    return lo, hi


DIFFERENCE_COLUMNS = ["point", "label", "measure", "baseline", "difference", "ci_low", "ci_high",
                      "pairs", "verdict"]


def summarise(records: list[dict], points: list[dict], baseline: int = 0,
              measures: list[str] | None = None, labels: list[str] | None = None,
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-run table, per-point mean and 95% CI, paired differences against the baseline).

    A difference's verdict is "higher"/"lower" when its 95% CI excludes 0, else "no
    detectable difference" (with fewer than 2 pairs: "too few replications to tell")."""
    labels = labels or [point_label(p) for p in points]
    rows = []
    for rec in records:
        base = {k: rec[k] for k in ("key", "point", "label", "replication", "seed", "status")}
        rows.append(base | (rec.get("measures") or {}) | {"error": rec.get("error", "")})
    runs = pd.DataFrame(rows)
    ok = runs[runs["status"] == "complete"]
    names = measures or [c for c in ok.columns if c not in
                         ("key", "point", "label", "replication", "seed", "status", "error")]
    summary, diffs = [], []
    for p in range(len(points)):
        mine = ok[ok["point"] == p]
        label = labels[p]
        for m in names:
            if m not in mine:
                continue
            mean, lo, hi = mean_ci(mine[m])
            lo, hi = clip_to_range(m, lo, hi)
            summary.append(dict(point=p, label=label, measure=m, mean=mean, ci_low=lo, ci_high=hi,
                                replications=int(mine[m].notna().sum())))
            if p != baseline:
                b = ok[ok["point"] == baseline].set_index("replication")[m]
                paired = (mine.set_index("replication")[m] - b).dropna()
                dm, dlo, dhi = mean_ci(paired)
                diffs.append(dict(point=p, label=label, measure=m, baseline=labels[baseline],
                                  difference=dm, ci_low=dlo, ci_high=dhi, pairs=len(paired),
                                  verdict=verdict(dlo, dhi, len(paired))))
    return runs, pd.DataFrame(summary), pd.DataFrame(diffs, columns=DIFFERENCE_COLUMNS)


def baseline_index(scenario: Scenario, points: list[dict]) -> int:
    if scenario.sweep is None or scenario.sweep.baseline is None:
        return 0
    want = scenario.sweep.baseline
    for i, p in enumerate(points):
        if all(p.get(k) == v for k, v in want.items()):
            return i
    raise ScenarioError(f"sweep.baseline: no point matches {want}")
