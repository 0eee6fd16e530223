"""Sweeps: validation before running, identical results on every executor, resume, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.config import load_scenario
from sim.experiment import plan, replication_seed, run_all, summarise

SWEEP = {
    "name": "sw", "seed": 11, "model": "oversight",
    "topology": {"counties": ["Alpine", "Sierra", "Modoc", "Mono", "Inyo"]},
    "journal": {"start_date": "2018-01-01"},
    "oversight": {"years": 1, "warmup_days": 20},
    "sweep": {"grid": {"oversight.follow_up.regime": ["passive", "proactive"]},
              "points": [{"oversight.follow_up.regime": "proactive",
                          "oversight.detection.random_audit_rate": 0.01}],
              "replications": 2,
              "measures": ["reported_share", "investigations_closed", "alerts"]},
}


def write(tmp_path: Path, data: dict, name="s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def specs_for(tmp_path, data=SWEEP, out="out"):
    path = write(tmp_path, data)
    return plan(load_scenario(path), yaml.safe_load(path.read_text()), tmp_path / out, str(path))


def test_plan_expands_grid_and_points_with_common_random_numbers(tmp_path):
    specs, points = specs_for(tmp_path)
    assert len(points) == 3 and len(specs) == 6
    seeds = {(s.point, s.replication): s.seed for s in specs}
    for p in range(3):  # replication r has the same seed at every point
        assert seeds[(p, 0)] == seeds[(0, 0)] and seeds[(p, 1)] == seeds[(0, 1)]
    assert seeds[(0, 0)] != seeds[(0, 1)]
    assert replication_seed(11, 0) == seeds[(0, 0)]
    assert len({s.key for s in specs}) == 6
    assert specs[0].scenario["oversight"]["follow_up"]["regime"] == "passive"
    assert specs[-1].scenario["oversight"]["detection"]["random_audit_rate"] == 0.01


def test_executors_give_identical_results(tmp_path):
    serial_specs, points = specs_for(tmp_path, out="serial")
    pool_specs, _ = specs_for(tmp_path, out="pool")
    dask_specs, _ = specs_for(tmp_path, out="dask")
    a = summarise(run_all(serial_specs), points)[0]
    b = summarise(run_all(pool_specs, workers=2), points)[0]
    c = summarise(run_all(dask_specs, workers=2, dask_local=True), points)[0]
    assert (a["status"] == "complete").all()
    for other in (b, c):
        pd.testing.assert_frame_equal(a, other)
    # common random numbers: the regime does not change what happened, only what was reported
    runs = a.set_index(["point", "replication"])
    assert runs.loc[(0, 0), "true_misuse_rows"] == runs.loc[(1, 0), "true_misuse_rows"]
    assert runs.loc[(1, 0), "reported_share"] >= runs.loc[(0, 0), "reported_share"]


def _worker_settings(spec):
    """Stands in for `execute` on a Dask worker: reports the worker's own settings."""
    import dask

    return {"key": spec.key, "status": "complete",
            "profile": dask.config.get("distributed.worker.profile.enabled"),
            "monitor": dask.config.get("distributed.admin.system-monitor.interval")}


def test_local_dask_workers_run_without_the_sampling_profiler(tmp_path, monkeypatch):
    """A local cluster's workers take every core; Dask's profiler (a stack walk every 10 ms)
    cost ~10 CPU-s over benchmarks/sweep_scaling.py. The setting must reach the forked workers."""
    import sim.experiment

    monkeypatch.setattr(sim.experiment, "execute", _worker_settings)
    specs, _ = specs_for(tmp_path)
    records = run_all(specs[:2], workers=1, dask_local=True)
    assert [r["profile"] for r in records] == [False, False]
    assert {r["monitor"] for r in records} == {"5s"}


def test_paired_differences_and_summary(tmp_path):
    specs, points = specs_for(tmp_path)
    runs, summary, diffs = summarise(run_all(specs, workers=2), points, 0,
                                     ["reported_share", "alerts"])
    d = diffs[(diffs["measure"] == "reported_share") & (diffs["point"] == 1)].iloc[0]
    manual = (runs[runs["point"] == 1].set_index("replication")["reported_share"]
              - runs[runs["point"] == 0].set_index("replication")["reported_share"]).mean()
    assert d["difference"] == pytest.approx(manual)
    assert d["difference"] > 0  # proactive follow-up raises the share
    s = summary[(summary["measure"] == "alerts") & (summary["point"] == 2)].iloc[0]
    assert s["ci_low"] <= s["mean"] <= s["ci_high"] and s["replications"] == 2


def test_cli_sweep_resumes_after_interruption_and_records_failures(tmp_path):
    data = json.loads(json.dumps(SWEEP))
    data["sweep"]["points"].append({"oversight.detection.random_audit_rate": 0.02,
                                    "topology.devices.terminals_per_10k": 0.0})  # valid config
    scen = write(tmp_path, data)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(scen), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("runs/*/result.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(out.glob("runs/*/result.json")))
    assert 2 <= finished < 8 and not (out / "manifest.json").exists()
    r = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["runs"] == 8 and man["resumed"] >= finished
    runs = pd.read_csv(out / "sweep_runs.csv")
    assert len(runs) == 8


def test_failed_run_is_recorded_and_others_finish(tmp_path, monkeypatch):
    import sim.experiment as ex

    specs, points = specs_for(tmp_path)
    real = ex.measures_of

    def flaky(scenario, seed, directory):
        if scenario.oversight.detection.random_audit_rate > 0:
            raise RuntimeError("simulated crash")
        return real(scenario, seed, directory)

    monkeypatch.setattr(ex, "measures_of", flaky)
    records = run_all(specs)
    status = [r["status"] for r in records]
    assert status.count("failed") == 2 and status.count("complete") == 4
    failed = [r for r in records if r["status"] == "failed"]
    assert all("simulated crash" in r["error"] for r in failed)
    saved = json.loads((Path(specs[-1].directory) / "result.json").read_text())
    assert saved["status"] == "failed" and "Traceback" in saved["traceback"]


@pytest.mark.parametrize("mutate,args,needle", [
    (lambda d: d["sweep"]["grid"].update({"oversight.detection.random_adit_rate": [0.1]}), [],
     "random_adit_rate"),
    (lambda d: d.update(sweep={"grid": {}, "points": []}), [], "sweep is empty"),
    (lambda d: None, ["--replications", "0"], "--replications"),
    (lambda d: d.pop("sweep"), [], "no sweep"),
    (lambda d: None, ["--scheduler", "tcp://127.0.0.1:9"], "cannot reach"),
])
def test_bad_sweeps_exit_2(tmp_path, mutate, args, needle):
    data = json.loads(json.dumps(SWEEP))
    mutate(data)
    scen = write(tmp_path, data)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(out), "--quiet", *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert not (out / "manifest.json").exists()


def test_incompatible_or_unwritable_output(tmp_path):
    scen = write(tmp_path, SWEEP)
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"kind": "network_run", "manifest_version": 1}))
    r = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(other), "--quiet"])
    assert r.exit_code == 2 and "another kind or version" in r.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(blocker / "sub"), "--quiet"])
    assert r.exit_code == 2 and "not writable" in r.output


def test_run_with_replications_writes_summary_manifest_and_report(tmp_path):
    data = json.loads(json.dumps(SWEEP))
    data.pop("sweep")
    data["model"] = "both"
    data["horizon"] = {"start_hour": 12, "duration_s": 600, "warmup_s": 60}
    scen = write(tmp_path, data)
    out = tmp_path / "rep"
    r = CliRunner().invoke(app, ["run", str(scen), "--replications", "2", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    from sim.results import load

    res = load(out)
    man = res.manifest
    assert man["status"] == "complete" and man["runs"] == 2 and man["root_seed"] == 11
    assert len(man["seeds"]) == 2 and man["scenario"]["world"]["operators_per_device"] == 2.2
    runs = res["sweep_runs"]
    assert set(runs["status"]) == {"complete"}
    assert {"network.p95_s", "oversight.reported_share"} <= set(runs.columns)
    first = Path(man["first_run"])
    assert (first / "network" / "nodes.parquet").exists() and (first / "oversight" / "yearly.csv").exists()
    html = (out / "report.html").read_text()
    assert "first replication" in html and 'data-figure="funnel"' in html and 'data-figure="utilization"' in html
    assert str(out / "report.html") in r.output.replace("\n", "")
