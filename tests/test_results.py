"""`sim.results.load` on every kind of folder the `clets` command writes: single network and
oversight runs, a replicated `model: both` run, a one-point sweep, a capacity sweep, a journal and
a calibration. Expected tables and row counts are computed independently, straight from the files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.errors import ScenarioError
from sim.results import RUN_COLUMNS, TableNotFound, load

NETWORK = {
    "name": "results_net", "seed": 11,
    "horizon": {"start_hour": 16, "duration_s": 180, "warmup_s": 30},
    "topology": {"counties": ["Alpine"], "devices": {"direct_connect_terminals": 2}},
}
OVERSIGHT = {
    "name": "results_ov", "seed": 11, "model": "oversight",
    "topology": {"counties": ["Alpine"]},
    "journal": {"start_date": "2018-01-01"},
    "oversight": {"years": 1, "warmup_days": 10},
}


def _clets(*args) -> None:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output


def _write(tmp: Path, name: str, d: dict) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def network_run(tmp) -> Path:
    _clets("run", _write(tmp, "net", NETWORK), "--out", tmp / "net", "--quiet")
    return tmp / "net"


@pytest.fixture(scope="module")
def oversight_run(tmp) -> Path:
    _clets("run", _write(tmp, "ov", OVERSIGHT), "--out", tmp / "ov", "--quiet")
    return tmp / "ov"


@pytest.fixture(scope="module")
def both_run(tmp) -> Path:
    """What `make run` writes, small: a replicated `model: both` run."""
    both = {**NETWORK, **{k: v for k, v in OVERSIGHT.items() if k in ("journal", "oversight")},
            "name": "results_both", "model": "both"}
    _clets("run", _write(tmp, "both", both), "--replications", 2, "--out", tmp / "both", "--quiet")
    return tmp / "both"


@pytest.fixture(scope="module")
def one_point_sweep(tmp) -> Path:
    sweep = {**NETWORK, "name": "results_sweep",
             "sweep": {"points": [{"traffic.load_factor": 1.0}], "replications": 2}}
    _clets("sweep", _write(tmp, "sweep", sweep), "--out", tmp / "sweep", "--quiet")
    return tmp / "sweep"


@pytest.fixture(scope="module")
def capacity_run(tmp) -> Path:
    _clets("capacity", _write(tmp, "cap", NETWORK), "--load-factors", "1,2", "--out", tmp / "cap")
    return tmp / "cap"


@pytest.fixture(scope="module")
def journal_run(tmp) -> Path:
    _clets("journal", _write(tmp, "jr", OVERSIGHT), "--days", 3, "--mode", "sample", "--out", tmp / "jr")
    return tmp / "jr"


def _stems(directory: Path) -> set[str]:
    return {p.stem for p in directory.iterdir() if p.suffix in (".csv", ".parquet")}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _file(directory: Path, name: str) -> Path:
    parquet = directory / f"{name}.parquet"
    return parquet if parquet.exists() else directory / f"{name}.csv"


def _runs(folder: Path) -> list[dict]:
    """The finished runs of a sweep folder, from their own result.json files, in run order."""
    records = [json.loads(p.read_text()) for p in (folder / "runs").glob("*/result.json")]
    return sorted(records, key=lambda r: (r["point"], r["replication"]))


# ---------------------------------------------------------------------- single runs


def test_network_run(network_run):
    r = load(network_run)
    assert r.kind == "network_run" and r.model == "network" and not r.is_sweep
    assert set(r.tables()) == _stems(network_run)
    for name in ("nodes", "timeline", "messages", "faults"):
        pd.testing.assert_frame_equal(r[name], _read(_file(network_run, name)))
    assert r.manifest["seed"] == 11
    assert r.define("p95_s").unit == "seconds"
    assert r.path("nodes") == network_run / "nodes.parquet"
    assert r.read("nodes", columns=["node", "utilization"]).columns.tolist() == ["node", "utilization"]
    with pytest.raises(ValueError, match="not a sweep"):
        r.runs()


def test_oversight_run(oversight_run):
    r = load(oversight_run)
    assert r.kind == "oversight_run" and r.model == "oversight"
    assert set(r.tables()) == _stems(oversight_run)
    pd.testing.assert_frame_equal(r["yearly"], pd.read_parquet(oversight_run / "yearly.parquet"))
    pd.testing.assert_frame_equal(r["metrics_by_policy"], pd.read_csv(oversight_run / "metrics_by_policy.csv"))
    assert r.get("no_such_table") is None and "yearly" in r and "no_such_table" not in r
    m = r.define("reported_share")
    assert m.kind == "share" and m.label and m.definition
    assert "{tail_days}" not in r.define("sanctions").window
    cat = r.measures()
    assert {"name", "label", "unit", "window", "definition"} <= set(cat.columns)
    assert "reported_share" in set(cat["name"])
    some = r.measures(["oversight.reported_share", "alerts_reviewed"])
    assert some.index.tolist() == ["oversight.reported_share", "alerts_reviewed"]
    with pytest.raises(KeyError, match="no measure"):
        r.define("no_such_measure")


def test_missing_table_lists_what_the_folder_has(oversight_run):
    r = load(oversight_run)
    with pytest.raises(KeyError) as e:
        r["yearlyy"]
    msg = str(e.value)
    assert isinstance(e.value, TableNotFound)
    assert "'yearlyy'" in msg and "Did you mean 'yearly'" in msg and str(oversight_run) in msg
    for name in ("yearly", "alerts", "metrics_by_policy"):
        assert name in msg


# ---------------------------------------------------------------------- replicated, both models


def test_replicated_both_run_stacks_per_run_tables(both_run):
    r = load(both_run)
    assert r.kind == "sweep" and r.model == "both" and r.is_sweep
    records = _runs(both_run)
    assert len(records) == 2
    runs = r.runs()
    assert runs["key"].tolist() == [rec["key"] for rec in records]
    assert runs["replication"].tolist() == [0, 1]

    names = r.tables()
    for name in ("sweep_runs", "sweep_summary", "sweep_differences", "yearly", "alerts", "nodes", "timeline"):
        assert name in names, name

    for name, part in (("yearly", "oversight"), ("alerts", "oversight"), ("nodes", "network"),
                       ("timeline", "network")):
        stacked = r[name]
        assert stacked.columns[:4].tolist() == list(RUN_COLUMNS)
        parts = [_read(_file(both_run / "runs" / rec["key"] / part, name)) for rec in records]
        assert len(stacked) == sum(len(p) for p in parts)
        expected = [(rec["point"], rec["label"], rec["replication"], rec["seed"])
                    for rec, p in zip(records, parts) for _ in range(len(p))]
        assert list(stacked[list(RUN_COLUMNS)].itertuples(index=False, name=None)) == expected
        own = [c for c in parts[0].columns]
        assert stacked.columns[4:].tolist() == own
        # the part can be named explicitly
        assert len(r[f"{part}/{name}"]) == len(stacked)


def test_replicated_both_run_members(both_run):
    r = load(both_run)
    records = _runs(both_run)
    first = r.run(0)
    assert first.kind == "both_run" and first.model == "both"
    assert first.record["key"] == records[0]["key"]
    pd.testing.assert_frame_equal(first["yearly"],
                                  pd.read_parquet(both_run / "runs" / records[0]["key"] / "oversight" / "yearly.parquet"))
    assert "nodes" in first and "network/nodes" in first and "oversight/nodes" not in first
    second = r.run(point=0, replication=1)
    assert second.record["replication"] == 1 and second.record["seed"] == records[1]["seed"]
    assert r.run(records[1]["key"][:6]).record["key"] == records[1]["key"]
    assert [row["key"] for row, _ in r.iter_runs()] == [rec["key"] for rec in records]
    with pytest.raises(IndexError):
        r.run(5)
    with pytest.raises(KeyError):
        r.run(point=3)
    # a run folder, and a part of one, load on their own
    assert load(both_run / "runs" / records[0]["key"]).kind == "both_run"
    assert load(both_run / "runs" / records[0]["key"] / "network").kind == "network_run"
    assert load(both_run / "manifest.json").kind == "sweep"


def test_replicated_both_missing_and_ambiguous_names(both_run, tmp_path):
    r = load(both_run)
    with pytest.raises(KeyError) as e:
        r["yearlyy"]
    msg = str(e.value)
    assert "Did you mean 'yearly'" in msg
    top = next(line for line in msg.splitlines() if "top-level tables:" in line)
    assert all(name in top for name in ("sweep_differences", "sweep_runs", "sweep_summary"))
    assert "network/" in msg and "oversight/" in msg and "nodes" in msg and "alerts" in msg
    assert "point, label, replication, seed" in msg

    # a name written by both parts must be asked for with its part
    copy = tmp_path / "both"
    shutil.copytree(both_run, copy)
    for rec in _runs(copy):
        for part in ("network", "oversight"):
            pd.DataFrame({"part": [part]}).to_csv(copy / "runs" / rec["key"] / part / "extra.csv", index=False)
    c = load(copy)
    assert "network/extra" in c.tables() and "oversight/extra" in c.tables()
    with pytest.raises(KeyError, match="network/extra"):
        c["extra"]
    assert c["oversight/extra"]["part"].tolist() == ["oversight", "oversight"]
    with pytest.raises(KeyError, match="both parts"):
        c.run(0)["extra"]
    assert c.run(0)["network/extra"]["part"].tolist() == ["network"]


def test_own_columns_named_like_run_columns_are_kept(both_run):
    """filing_decisions has its own `point` (the decision point): kept, renamed."""
    stacked = load(both_run)["filing_decisions"]
    one = pd.read_parquet(both_run / "runs" / _runs(both_run)[0]["key"] / "oversight" / "filing_decisions.parquet")
    if "point" in one.columns:
        assert "filing_decisions_point" in stacked.columns
        assert set(stacked["point"]) == {0}


# ---------------------------------------------------------------------- sweeps


def test_one_point_sweep(one_point_sweep, tmp_path):
    r = load(one_point_sweep)
    assert r.kind == "sweep" and r.model == "network"
    diffs = r["sweep_differences"]  # one point: nothing to difference; never EmptyDataError
    assert isinstance(diffs, pd.DataFrame) and diffs.empty
    assert {"point", "measure", "difference", "ci_low", "ci_high"} <= set(diffs.columns)
    summary = r["sweep_summary"]
    assert len(summary) and set(summary["point"]) == {0}
    records = _runs(one_point_sweep)
    assert len(r["timeline"]) == sum(len(pd.read_parquet(one_point_sweep / "runs" / rec["key"] / "timeline.parquet"))
                                     for rec in records)
    assert r.run(1).kind == "network_run" and r.run(1).record["replication"] == 1
    assert len(r.read("nodes", columns=["node"]).columns) == 5  # run columns + the one asked for

    # an empty CSV written without a header (older versions) reads as an empty table too
    copy = tmp_path / "sweep"
    shutil.copytree(one_point_sweep, copy)
    (copy / "sweep_differences.csv").write_text("\n")
    old = load(copy)["sweep_differences"]
    assert old.empty and "difference" in old.columns


def test_failed_run_is_skipped_and_named(one_point_sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(one_point_sweep, copy)
    rec = _runs(copy)[1]
    path = copy / "runs" / rec["key"] / "result.json"
    path.write_text(json.dumps(rec | {"status": "failed", "error": "ValueError: boom"}))
    runs = pd.read_parquet(copy / "sweep_runs.parquet")
    runs.loc[runs["key"] == rec["key"], "status"] = "failed"
    runs.to_parquet(copy / "sweep_runs.parquet", index=False)
    r = load(copy)
    assert set(r["nodes"]["replication"]) == {0}
    with pytest.raises(ScenarioError, match="boom"):
        r.run(1)


# ---------------------------------------------------------------------- capacity, journal, calibration


def test_capacity(capacity_run):
    r = load(capacity_run)
    assert r.kind == "capacity" and r.model == "network"
    assert {"capacity", "capacity_nodes"} <= set(r.tables())
    assert set(r.tables()) == _stems(capacity_run)
    points = r["capacity"]
    assert points["load_factor"].tolist() == [1.0, 2.0]
    pd.testing.assert_frame_equal(r["capacity_nodes"], pd.read_parquet(capacity_run / "capacity_nodes.parquet"))
    with pytest.raises(ValueError):
        r.run(0)


def test_journal(journal_run):
    r = load(journal_run)
    assert r.kind == "journal" and r.model == ""
    assert {"journal", "truth", "incidents", "operators", "oris"} <= set(r.tables())
    rows = sum(len(pd.read_parquet(p)) for p in (journal_run / "journal").rglob("*.parquet"))
    journal = r["journal"]
    assert len(journal) == rows == r.manifest["summary"]["written_rows"]
    assert "month" in journal.columns and "query_id" in journal.columns
    month = str(journal["month"].iloc[0])
    some = r.read("journal", columns=["query_id"], filters=[("month", "=", month)])
    assert len(some) == (journal["month"].astype(str) == month).sum()
    assert r.path("journal") == journal_run / "journal"
    assert len(r["truth"]) == len(pd.read_parquet(journal_run / "truth.parquet"))


def test_calibration_folder(tmp_path):
    """`clets calibrate` takes minutes statewide: a folder of the same shape, written the same way."""
    from sim.outputs import write_manifest

    d = tmp_path / "cal"
    d.mkdir()
    table = pd.DataFrame({"figure": ["2017 share reporting"], "role": ["fitted"], "record": [0.58],
                          "mean": [0.6], "ci_low": [0.5], "ci_high": [0.7], "inside": [True]})
    table.to_csv(d / "calibration.csv", index=False)
    pd.DataFrame({"scenario": ["passive_2017"], "replication": [0]}).to_csv(d / "calibration_runs.csv", index=False)
    write_manifest(d, kind="calibration", replications=1, fitted=False, parameters={})
    r = load(d)
    assert r.kind == "calibration" and r.tables() == ["calibration", "calibration_runs"]
    pd.testing.assert_frame_equal(r["calibration"], table)


# ---------------------------------------------------------------------- bad folders


def test_bad_folders_are_user_errors(tmp_path, one_point_sweep):
    with pytest.raises(ScenarioError, match="no such results folder"):
        load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError, match="not a results folder"):
        load(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ScenarioError, match="a file"):
        load(tmp_path / "notes.txt")

    unfinished = tmp_path / "unfinished"
    shutil.copytree(one_point_sweep, unfinished)
    (unfinished / "manifest.json").unlink()
    with pytest.raises(ScenarioError, match="unfinished sweep.*2 run"):
        load(unfinished)
    with pytest.raises(ScenarioError, match="folder of 2 results"):
        load(unfinished / "runs")

    with pytest.raises(ScenarioError, match="the runs of the sweep"):
        load(one_point_sweep / "runs")

    failed = tmp_path / "failed"
    shutil.copytree(one_point_sweep, failed)
    m = json.loads((failed / "manifest.json").read_text())
    (failed / "manifest.json").write_text(json.dumps(m | {"status": "running"}))
    with pytest.raises(ScenarioError, match="not complete"):
        load(failed)
    (failed / "manifest.json").write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load(failed)

    partial = tmp_path / ".net.partial-123"
    partial.mkdir()
    (partial / "manifest.json").write_text(json.dumps({"status": "complete", "kind": "network_run"}))
    with pytest.raises(ScenarioError, match="still being written"):
        load(partial)
