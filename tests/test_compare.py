"""`clets compare`: paired differences under common random numbers, with verdicts in words."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from sim.cli import app
from sim.experiment import verdict

SMALL = {"model": "oversight", "seed": 5, "topology": {"counties": ["Mono", "Alpine", "Inyo"]},
         "journal": {"start_date": "2018-01-01"}, "oversight": {"years": 1, "warmup_days": 30}}


def write(tmp, name, follow_up):
    d = dict(SMALL, name=name)
    d["oversight"] = dict(SMALL["oversight"], follow_up=follow_up)
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    a = write(tmp, "passive", {"regime": "passive"})
    b = write(tmp, "proactive", {"regime": "proactive", "bulletin_date": "2018-04-17",
                                 "public_listing": True, "refer_to_cac": True})
    out = tmp / "out"
    res = CliRunner().invoke(app, ["compare", str(a), str(b), "--replications", "3", "--out", str(out),
                                   "--quiet"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return out, res.output


def test_differences_are_paired_replication_by_replication(compared):
    out, _ = compared
    runs = pd.read_csv(out / "compare_runs.csv")
    assert set(runs["status"]) == {"complete"}
    # common random numbers: replication r of both scenarios has the same seed, and lawful
    # traffic (which no follow-up policy touches) is identical
    wide = runs.pivot(index="replication", columns="point", values="seed")
    assert (wide[0] == wide[1]).all() and wide[0].nunique() == 3
    q = runs.pivot(index="replication", columns="point", values="operator_queries")
    assert (q[0] == q[1]).all()
    diffs = pd.read_csv(out / "compare_differences.csv").set_index("measure")
    share = runs.pivot(index="replication", columns="point", values="reported_share")
    paired = share[1] - share[0]
    assert diffs.loc["reported_share", "difference"] == pytest.approx(paired.mean())
    half = stats.t.ppf(0.975, 2) * paired.std(ddof=1) / math.sqrt(3)
    assert diffs.loc["reported_share", "ci_low"] == pytest.approx(paired.mean() - half)
    # one yearly measure per run folder: the run's value is its yearly.csv mean
    key = runs[(runs["point"] == 1) & (runs["replication"] == 0)]["key"].iloc[0]
    yearly = pd.read_csv(out / "runs" / key / "yearly.csv")
    assert runs.set_index("key").loc[key, "reported_share"] == pytest.approx(yearly["reported_share"].mean())


def test_verdicts_follow_the_confidence_interval(compared):
    out, console = compared
    diffs = pd.read_csv(out / "compare_differences.csv")
    for r in diffs.itertuples():
        assert r.verdict == verdict(r.ci_low, r.ci_high, r.pairs)
    share = diffs.set_index("measure").loc["reported_share"]
    assert share["verdict"] == "higher"  # proactive follow-up: more agencies file
    assert "agencies reporting" in console and "higher" in console
    same = diffs.set_index("measure").loc["operator_queries", "verdict"]
    assert same == "same in every replication"
    html = (out / "report.html").read_text()
    assert 'id="comparison"' in html and "agencies reporting: higher" in html
    assert (out / "differences.png").stat().st_size > 1000


def test_verdict_words():
    assert verdict(0.1, 0.5, 5) == "higher"
    assert verdict(-0.5, -0.1, 5) == "lower"
    assert verdict(-0.1, 0.5, 5) == "no detectable difference"
    assert verdict(float("nan"), float("nan"), 1) == "too few replications to tell"


def test_bad_input_is_one_clear_line(tmp_path):
    a = write(tmp_path, "a", {"regime": "passive"})
    net = tmp_path / "net.yaml"
    net.write_text(yaml.safe_dump({"name": "n", "model": "network"}))
    for args, needle in (([str(a), str(tmp_path / "missing.yaml")], "missing.yaml"),
                         ([str(a), str(net)], "different models"),
                         ([str(a), str(a), "--replications", "0"], "--replications")):
        res = CliRunner().invoke(app, ["compare", *args, "--out", str(tmp_path / "o"), "--quiet"])
        assert res.exit_code == 2, res.output
        assert needle in res.output and "Traceback" not in res.output
