"""The `clets` command: happy paths write complete results; user errors exit 2 with one message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from tests.conftest import small_scenario_dict

runner = CliRunner()


def write(tmp_path: Path, data, name="s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_writes_complete_results(tmp_path):
    scen = write(tmp_path, small_scenario_dict())
    out = tmp_path / "res"
    r = invoke("run", scen, "--out", out)
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seed"] == 7
    assert manifest["scenario"]["name"] == "small"
    msgs = pq.read_table(out / "messages.parquet")
    assert msgs.num_rows == manifest["summary"]["generated"]
    nodes = pd.read_parquet(out / "nodes.parquet")
    assert {"utilization", "mean_queue", "p50_s", "p95_s", "p99_s", "throughput_per_s",
            "rejected"} <= set(nodes.columns)
    assert (out / "e2e_by_county.csv").exists() and (out / "e2e_by_database.csv").exists()
    assert str(out) in r.output
    # no stray partial directories
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_default_results_location_is_under_results_dir(tmp_path):
    d = small_scenario_dict()
    d["outputs"] = {"dir": str(tmp_path / "results")}
    r = invoke("run", write(tmp_path, d))
    assert r.exit_code == 0, r.output
    runs = list((tmp_path / "results" / "small").iterdir())
    assert len(runs) == 1 and (runs[0] / "manifest.json").exists()


def test_topology_exports_graphml(tmp_path):
    out = tmp_path / "g.graphml"
    r = invoke("topology", write(tmp_path, small_scenario_dict()), "--out", out)
    assert r.exit_code == 0, r.output
    G = nx.read_graphml(out)
    kinds = {d["kind"] for _, d in G.nodes(data=True)}
    assert kinds == {"hub", "database", "msc", "agency", "terminal", "mdt"}
    assert "msc" in r.output and "Alpine" in r.output


def test_capacity_sweep_finds_knee_and_bottleneck(tmp_path):
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 900, "warmup_s": 100}
    # a slow Mono MSC so the knee falls inside the sweep
    d["network"] = {"msc_overrides": {"Mono": {"servers": 1, "service": {"mean": 2.0}}}}
    d["capacity"] = {"target_p95_s": 4.0}
    out = tmp_path / "cap"
    r = invoke("capacity", write(tmp_path, d), "--county", "mono", "--load-factors", "1:16:5",
               "--out", out)
    assert r.exit_code == 0, r.output
    pts = pd.read_csv(out / "capacity.csv")
    assert list(pts["load_factor"]) == [1, 6, 11, 16]
    assert (out / "capacity.png").stat().st_size > 10_000
    man = json.loads((out / "manifest.json").read_text())
    assert man["bottleneck"] == "msc:Mono"
    knee = man["knee"]
    assert knee is not None
    # the knee is the first load whose mean p95 (timed-out at the timeout) exceeds the target
    above = pts[pts["p95_censored_s"] > 4.0]["load_factor"]
    assert knee == above.iloc[0] and (pts[pts["load_factor"] < knee]["p95_censored_s"] <= 4.0).all()
    assert "knee" in r.output and "msc:Mono" in r.output
    # same seed at every load (common random numbers): p95 rises with load, and timed-out
    # messages count at the timeout, so overload cannot hide by dropping out of the sample
    assert pts["p95_censored_s"].is_monotonic_increasing
    assert (pts["p95_censored_s"] <= 30.0).all()
    html = (out / "report.html").read_text()
    assert f'data-key="knee">x{knee:g}<' in html and 'data-key="bottleneck">msc:Mono<' in html


def test_capacity_workers_do_not_change_results(tmp_path):
    scen = write(tmp_path, small_scenario_dict())
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke("capacity", scen, "--load-factors", "1,2", "--out", a).exit_code == 0
    assert invoke("capacity", scen, "--load-factors", "1,2", "--workers", "2", "--out", b).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(a / "capacity.parquet"),
                                  pd.read_parquet(b / "capacity.parquet"))


# ------------------------------------------------------------------ bad input

BAD = [
    ("bad_yaml", "name: x\n  horizon: [1,\n", "not valid YAML"),
    ("unknown_key", {"name": "x", "trafic": {}}, "trafic"),
    ("nested_unknown_key", {"name": "x", "traffic": {"mdt_rate": 2}}, "traffic.mdt_rate"),
    ("negative_rate", {"name": "x", "traffic": {"terminal_rate_per_hour": -1}},
     "traffic.terminal_rate_per_hour"),
    ("zero_rate", {"name": "x", "traffic": {"mdt_rate_per_hour": 0}}, "traffic.mdt_rate_per_hour"),
    ("zero_servers", {"name": "x", "network": {"hub": {"servers": 0, "service": {"mean": 1}}}},
     "network.hub.servers"),
    ("unknown_database", {"name": "x", "traffic": {"database_mix": {"DMW": 1}}}, "DMW"),
    ("unknown_fault_county", {"name": "x", "faults": {"scheduled": [
        {"kind": "msc_outage", "county": "Gotham", "start_s": 1, "duration_s": 5}]}}, "Gotham"),
    ("unknown_topology_county", {"name": "x", "topology": {"counties": ["Narnia"]}}, "Narnia"),
    ("not_a_mapping", "- 1\n- 2\n", "mapping"),
    ("warmup_too_long", {"name": "x", "horizon": {"duration_s": 10, "warmup_s": 20}}, "warmup_s"),
]


@pytest.mark.parametrize("case,content,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_scenarios_exit_2_with_one_clear_message(tmp_path, case, content, needle):
    scen = write(tmp_path, content)
    out = tmp_path / "out"
    r = invoke("run", scen, "--out", out)
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output
    assert not out.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--load-factors", "3:1:0.5"], "empty"),
        (["--load-factors", "0:1:0"], "step"),
        (["--load-factors", "abc"], "--load-factors"),
        (["--load-factors", "-1,2"], "> 0"),
        (["--county", "Atlantis"], "Atlantis"),
    ],
)
def test_bad_capacity_arguments(tmp_path, args, needle):
    scen = write(tmp_path, small_scenario_dict())
    out = tmp_path / "out"
    r = invoke("capacity", scen, *args, "--out", out)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_missing_file_and_existing_output(tmp_path):
    r = invoke("run", tmp_path / "nope.yaml")
    assert r.exit_code == 2 and "not found" in r.output
    scen = write(tmp_path, small_scenario_dict())
    out = tmp_path / "exists"
    out.mkdir()
    r = invoke("run", scen, "--out", out)
    assert r.exit_code == 2 and "already exists" in r.output
    r = invoke("run", scen, "--load-factor", "-2", "--out", tmp_path / "o2")
    assert r.exit_code == 2 and "--load-factor" in r.output


def test_unwritable_output_directory(tmp_path):
    scen = write(tmp_path, small_scenario_dict())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = invoke("run", scen, "--out", blocker / "sub" / "run")
    assert r.exit_code == 2 and "not writable" in r.output


def test_console_script_exit_code_and_stderr(tmp_path):
    """The installed entry point itself (not only the typer test runner)."""
    scen = write(tmp_path, {"name": "x", "traffic": {"load_factor": -3}})
    p = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(scen)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2
    assert "traffic.load_factor" in p.stderr and "-3" in p.stderr
    assert "Traceback" not in p.stderr + p.stdout
