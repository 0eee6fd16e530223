"""Writers and workers: one writer per results folder, no worker outlives its command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sim.errors import ScenarioError
from sim.outputs import folder_lock, run_directory


def test_a_second_writer_is_refused_at_once_and_a_stale_lock_taken_over(tmp_path):
    lock = tmp_path / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(f"{holder.pid} 2026-01-01T00:00:00+00:00")
        t0 = time.perf_counter()
        with pytest.raises(ScenarioError, match=f"locked by PID {holder.pid} since 2026-01-01"):
            with folder_lock(lock, "results folder x"):
                pass
        assert time.perf_counter() - t0 < 1
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(lock, "results folder x"):  # its writer is dead: taken over
        assert lock.read_text().startswith(f"{os.getpid()} ")
    assert not lock.exists()  # released


def test_two_runs_into_one_folder(tmp_path):
    """The second `run_directory` of the same final folder stops before any work."""
    final = tmp_path / "out"
    with run_directory(final) as partial:
        (partial / "x").write_text("1")
        with pytest.raises(ScenarioError, match="locked by PID"):
            with run_directory(final):
                pass
    assert (final / "x").exists() and not (tmp_path / ".out.lock").exists()


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_pool_workers_die_with_a_killed_sweep(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump({
        "name": "orphans", "model": "oversight", "seed": 1, "topology": {"counties": ["Alpine"]},
        "oversight": {"years": 1, "warmup_days": 10},
        "sweep": {"grid": {"oversight.investigation.budget_base": [1, 2, 3, 4]}, "replications": 2}}))
    main = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(scen), "--workers", "2",
                             "--out", str(tmp_path / "sw"), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers: list[int] = []
    deadline = time.time() + 60
    while time.time() < deadline and len(workers) < 2:
        workers = children(main.pid)
        time.sleep(0.2)
    assert len(workers) >= 2, "the sweep never started its workers"
    main.send_signal(signal.SIGKILL)
    main.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their sweep"


def tiny_sweep(tmp_path, **sweep) -> Path:
    scen = tmp_path / "tiny.yaml"
    scen.write_text(yaml.safe_dump({
        "name": "tiny", "model": "oversight", "seed": 2, "topology": {"counties": ["Alpine"]},
        "oversight": {"years": 1, "warmup_days": 10},
        "sweep": {"grid": {"oversight.investigation.budget_base": [1, 2]}, "replications": 1, **sweep}}))
    return scen


def test_a_corrupt_run_record_is_redone_and_said(tmp_path):
    from typer.testing import CliRunner

    from sim.cli import app

    scen, out = tiny_sweep(tmp_path), tmp_path / "sw"
    first = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(out), "--quiet"])
    assert first.exit_code == 0, first.output
    records = sorted(out.glob("runs/*/result.json"))
    records[0].write_text("{not json")
    (out / "manifest.json").write_text("\x00garbage")
    again = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(out), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "corrupt" in again.output and "redone" in again.output
    import json

    assert json.loads(records[0].read_text())["status"] == "complete"
    assert json.loads((out / "manifest.json").read_text())["resumed"] == len(records) - 1


def test_unknown_sweep_measure_and_bad_scheduler_stop_before_any_run(tmp_path):
    from typer.testing import CliRunner

    from sim.cli import app

    scen = tiny_sweep(tmp_path, measures=["true_misuse_rows", "happiness"])
    r = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(tmp_path / "a"), "--quiet"])
    assert r.exit_code == 2 and "happiness" in r.output and "Traceback" not in r.output
    assert not list((tmp_path / "a").glob("runs/*/result.json"))
    scen = tiny_sweep(tmp_path)
    r = CliRunner().invoke(app, ["sweep", str(scen), "--out", str(tmp_path / "b"), "--quiet",
                                 "--scheduler", "not a scheduler"])
    assert r.exit_code == 2 and "--scheduler" in r.output, r.output


def group_alive(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True)
    return [int(p) for p, s in (line.split()[:2] for line in out.stdout.splitlines()) if "Z" not in s]


# Python 3.11's exit handler checks that the pool's wakeup pipe is open, then writes to it,
# while the pool's manager thread may be closing it (no lock): widened here, so that a command
# leaving its manager thread running at exit prints "Exception ignored ... handle is closed"
WIDEN_EXIT_RACE = """
import threading, time
from concurrent.futures import process
def wakeup(self):
    if not self._closed:
        if threading.current_thread() is threading.main_thread():
            time.sleep(0.3)
        self._writer.send_bytes(b"")
process._ThreadWakeup.wakeup = wakeup
"""


@pytest.mark.parametrize("executor,widen", [(["--workers", "2"], False),
                                            (["--dask", "--workers", "2"], False),
                                            (["--workers", "2"], True)],
                         ids=["pool", "dask", "pool, exit race widened"])
def test_ctrl_c_prints_one_line_and_stops_every_worker(tmp_path, executor, widen):
    """Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it) while runs are in
    progress: exit 130, one line saying what was kept, no traceback or Dask log chatter, and
    no process of the group left within 10 s (a plain pool would wait for its runs to end)."""
    env = dict(os.environ)
    if widen:
        (tmp_path / "site").mkdir()
        (tmp_path / "site" / "sitecustomize.py").write_text(WIDEN_EXIT_RACE)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path / "site"),
                                                           env.get("PYTHONPATH")]))
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump({
        "name": "ctrlc", "model": "oversight", "seed": 1, "topology": {"counties": ["Alpine"]},
        "oversight": {"years": 3, "warmup_days": 10},
        "sweep": {"grid": {"oversight.investigation.budget_base": [1, 2, 3, 4]}, "replications": 1}}))
    # as a terminal's foreground command: Ctrl-C not ignored, even when this suite runs as a
    # background job (whose commands a shell starts with SIGINT ignored, which Python keeps)
    main = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(scen), *executor,
                             "--out", str(tmp_path / "sw")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            env=env)
    deadline = time.time() + 90
    while time.time() < deadline and not list((tmp_path / "sw" / "runs").glob("*")):
        time.sleep(0.2)  # a run has started writing: the workers are busy
    assert main.poll() is None, "the sweep ended before it could be interrupted"
    time.sleep(1.0)
    os.killpg(main.pid, signal.SIGINT)
    try:
        _out, err = main.communicate(timeout=30)
    finally:
        if main.poll() is None:
            os.killpg(main.pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and group_alive(main.pid):
        time.sleep(0.2)
    left = group_alive(main.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert main.returncode == 130, err[-2000:]
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("runs ", "1 point",
                                                                               "4 point"))]
    assert lines == [ln for ln in lines if ln.startswith("interrupted; the finished runs")], err[-3000:]
    assert len(lines) == 1, err[-3000:]
    assert not left, f"processes {left} outlived the interrupted sweep"
