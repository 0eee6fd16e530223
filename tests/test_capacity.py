"""`clets capacity`: replications per load point with 95% CIs, common random numbers, the
headroom/knee definitions, the MSC utilisation column and the verdict."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from sim.capacity import HEADLINE, knee_and_headroom, summarise_points, sweep_capacity
from sim.cli import app
from sim.config import parse_scenario
from sim.experiment import replication_seed
from sim.runner import simulate_network
from tests.conftest import small_scenario_dict

TARGET = 16.0
LOADS = "0.25:1.25:0.25"


def slow_mono(**extra) -> dict:
    """Four small counties, MDTs doubled, a one-server Mono MSC with 2 s service: the knee
    falls inside a short sweep."""
    d = small_scenario_dict(name="slow_mono")
    d["horizon"] = {"start_hour": 16, "duration_s": 900, "warmup_s": 100}
    d["topology"]["devices"]["mdt_multiplier"] = 2.0
    d["network"] = {"msc_overrides": {"Mono": {"servers": 1, "service": {"mean": 2.0}}}}
    d["capacity"] = {"target_p95_s": TARGET}
    d.update(extra)
    return d


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def mono_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cap")
    scen = tmp / "s.yaml"
    scen.write_text(yaml.safe_dump(slow_mono()))
    out = tmp / "out"
    r = invoke("capacity", scen, "--county", "Mono", "--load-factors", LOADS, "--replications", 3,
               "--out", out)
    assert r.exit_code == 0, r.output
    return out, r.output


def test_replications_have_distinct_child_seeds_shared_across_loads(mono_sweep):
    out, _ = mono_sweep
    man = json.loads((out / "manifest.json").read_text())
    root = man["seed"]
    assert man["replications"] == 3
    assert man["replication_seeds"] == [replication_seed(root, r) for r in range(3)]
    assert len(set(man["replication_seeds"])) == 3
    runs = pd.read_csv(out / "capacity_runs.csv")
    assert len(runs) == 5 * 3
    # common random numbers: replication r has the same seed at every load point
    per_rep = runs.groupby("replication")["seed"].nunique()
    assert (per_rep == 1).all()
    assert list(runs.groupby("replication")["seed"].first()) == man["replication_seeds"]
    # and the replications do differ (independent streams)
    at1 = runs[runs["load_factor"] == 1.0]
    assert at1["messages"].nunique() > 1


def test_points_are_means_with_t_intervals_of_the_replications(mono_sweep):
    out, _ = mono_sweep
    pts = pd.read_csv(out / "capacity.csv").set_index("load_factor")
    runs = pd.read_csv(out / "capacity_runs.csv")
    t = stats.t.ppf(0.975, 2)
    for lf, g in runs.groupby("load_factor"):
        for m in ("messages", "p95_s", HEADLINE, "msc_utilization"):
            x = g[m].to_numpy()
            mean, half = x.mean(), t * x.std(ddof=1) / math.sqrt(len(x))
            row = pts.loc[lf]
            assert row[m] == pytest.approx(mean, rel=1e-12)
            # the t-interval, cut only to the values the measure can take
            lo_bound, hi_bound = (0, 1) if m == "msc_utilization" else (
                (0, 30.0) if m == HEADLINE else (0, np.inf))
            assert row[f"{m}_ci_low"] == pytest.approx(max(mean - half, lo_bound), abs=1e-9)
            assert row[f"{m}_ci_high"] == pytest.approx(min(mean + half, hi_bound), abs=1e-9)
            # the interval holds the mean (and, with 3 replications, t = 4.3 makes it wider than
            # the replications' spread around the mean unless that spread is one-sided)
            assert row[f"{m}_ci_low"] <= mean <= row[f"{m}_ci_high"]
        # censored p95 >= answered-only p95 in every run
        assert (g[HEADLINE] >= g["p95_s"] - 1e-12).all()


def test_headroom_knee_and_verdict_agree_with_the_table(mono_sweep):
    out, output = mono_sweep
    man = json.loads((out / "manifest.json").read_text())
    pts = pd.read_csv(out / "capacity.csv").sort_values("load_factor")
    ok = (pts[f"{HEADLINE}_ci_high"] < TARGET).to_numpy()
    # headroom: the largest load at and below which every upper CI bound is under the target
    assert ok[0] and not ok.all(), "the test scenario must have its headroom inside the sweep"
    expected = float(pts["load_factor"].to_numpy()[np.argmin(ok) - 1])
    assert man["headroom"] == expected
    # knee: the first load whose mean p95 exceeds the target
    over = pts[pts[HEADLINE] > TARGET]
    assert man["knee"] == float(over["load_factor"].iloc[0])
    # a mean over the target has its upper bound over it too: the headroom is below the knee
    assert man["headroom"] < man["knee"]
    verdict = man["verdict"]
    assert f"{TARGET:g} s" in verdict and f"Headroom to x{expected:g}" in verdict
    assert "upper 95% CI bound" in verdict
    # what x1.0 means: this scenario doubles the MDTs, and only Mono is scaled
    assert "x1.0 = the scenario as written" in verdict and "MDTs x2 in every agency" in verdict
    assert "Mono County's devices" in verdict
    # the x1.0 sentence uses the table's upper bound
    row = pts.set_index("load_factor").loc[1.0]
    met = row[f"{HEADLINE}_ci_high"] < TARGET
    assert ("the target is met" in verdict) == met
    assert f"{row[HEADLINE]:.2f} s" in verdict
    # printed and in the report
    flat = re.sub(r"\s+", " ", output)
    assert "verdict: Can Mono County" in flat and f"Headroom to x{expected:g}" in flat
    html = (out / "report.html").read_text()
    assert f'data-key="headroom">x{expected:g}<' in html and "Can Mono County" in html


def test_msc_utilisation_column_is_the_node_tables_value(mono_sweep):
    out, output = mono_sweep
    man = json.loads((out / "manifest.json").read_text())
    assert man["msc"] == "msc:Mono"
    pts = pd.read_csv(out / "capacity.csv").set_index("load_factor")
    nodes = pd.read_csv(out / "capacity_nodes.csv")
    mono = nodes[nodes["node"] == "msc:Mono"].groupby("load_factor")["utilization"].mean()
    pd.testing.assert_series_equal(pts["msc_utilization"], mono, check_names=False, rtol=1e-12)
    assert "msc:Mono" in output and "utilization" in output
    # utilisation = arrival rate x mean service / servers grows in proportion to the load
    # (below saturation): compare x0.5 and x1.0 replication by replication; the relative sd of
    # a busy-time sum over N exponential services is sqrt(2/N)
    runs = pd.read_csv(out / "capacity_runs.csv").set_index(["replication", "load_factor"])
    arrivals = nodes[nodes["node"] == "msc:Mono"].set_index(["replication", "load_factor"])["arrivals"]
    for r in range(3):
        u1, u2 = runs.loc[(r, 0.5), "msc_utilization"], runs.loc[(r, 1.0), "msc_utilization"]
        n1, n2 = arrivals.loc[(r, 0.5)], arrivals.loc[(r, 1.0)]
        sd = 2 * math.sqrt(2 / n1 + 2 / n2)
        assert abs(u2 / u1 - 2.0) < 4 * sd, (r, u1, u2, n1, n2)


def test_same_root_seed_gives_identical_csv_whatever_the_workers(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump(slow_mono(horizon={"start_hour": 16, "duration_s": 400,
                                                      "warmup_s": 50})))
    a, b = tmp_path / "a", tmp_path / "b"
    args = ("--county", "Mono", "--load-factors", "0.5,1", "--replications", 2)
    assert invoke("capacity", scen, *args, "--out", a).exit_code == 0
    assert invoke("capacity", scen, *args, "--workers", 2, "--out", b).exit_code == 0
    for name in ("capacity.csv", "capacity_runs.csv", "capacity_nodes.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_statewide_x1_is_the_scenario_as_written_and_names_the_busiest_msc():
    """Without --county, x1.0 reruns the scenario as written (its own traffic.load_factor kept:
    the factor multiplies it) and the MSC column is the busiest MSC at the top load."""
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 400, "warmup_s": 50}
    d["traffic"] = {"load_factor": 2.0}
    scen = parse_scenario(d)
    res = sweep_capacity(scen, [0.5, 1.0], seed=11, replications=2)
    written = simulate_network(scen, seed=replication_seed(11, 0))
    msgs = written.messages.to_pandas()
    in_window = int((msgs["created_s"] >= written.warmup_s).sum())
    at1 = res.runs[(res.runs["load_factor"] == 1.0) & (res.runs["replication"] == 0)].iloc[0]
    assert at1["messages"] == in_window
    assert "traffic x2 (traffic.load_factor)" in res.scale and "xL multiplies all traffic" in res.scale
    top = res.nodes[(res.nodes["load_factor"] == 1.0) & (res.nodes["kind"] == "msc")]
    busiest = top.groupby("node")["utilization"].mean().idxmax()
    assert res.msc == busiest and res.msc.startswith("msc:")
    assert res.msc in res.verdict


def test_knee_and_headroom_definitions_on_a_constructed_table():
    runs = pd.DataFrame({
        "load_factor": [1, 1, 2, 2, 3, 3, 4, 4],
        "replication": [0, 1] * 4,
        HEADLINE: [1.0, 1.2, 2.6, 3.2, 2.0, 2.2, 5.0, 6.0],
    })
    pts = summarise_points(runs, [1, 2, 3, 4], timeout=30.0)
    # x2: mean 2.9 < 3 but its upper bound is far above: the headroom stops at x1, and x3
    # (under the target again) does not count, since x2 before it is not safe
    knee, headroom = knee_and_headroom(pts, 3.0)
    assert headroom == 1 and knee == 4
    # nothing safe: no headroom; nothing over: no knee
    assert knee_and_headroom(pts, 0.5) == (1.0, None)
    assert knee_and_headroom(pts, 100.0) == (None, 4.0)


def test_single_replication_verdict_says_there_is_no_ci(tmp_path):
    scen = parse_scenario(slow_mono(horizon={"start_hour": 16, "duration_s": 400, "warmup_s": 50}))
    res = sweep_capacity(scen, [0.5, 1.0], seed=3, focus_county="Mono", replications=1)
    assert (res.points["replications"] == 1).all()
    assert "one replication, no CI" in res.verdict


def test_bad_replications_is_a_user_error(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump(small_scenario_dict()))
    r = invoke("capacity", scen, "--replications", 0, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "--replications" in r.output and not (tmp_path / "o").exists()


def _result(p95_hi: float, knee):
    import pandas as pd

    from sim.capacity import HEADLINE, CapacityResult

    points = pd.DataFrame({"load_factor": [1.0, 2.0], HEADLINE: [2.1, 4.0],
                           f"{HEADLINE}_ci_low": [1.9, 3.5], f"{HEADLINE}_ci_high": [p95_hi, 4.5]})
    return CapacityResult(points, pd.DataFrame(), pd.DataFrame(), knee, None, "msc:Orange", 3.0,
                          "Orange", "msc:Orange", 3, [1, 2, 3], "x1.0 as written",
                          changes="MDTs x2 in every agency")


@pytest.mark.parametrize("hi, knee, words", [
    (2.3, 1.5, ["carries it", "knee at x1.5"]),
    (3.2, 1.5, ["does NOT carry it", "knee at x1.5"]),
    (2.3, None, ["carries it", "no knee up to x2"]),
])
def test_answer_is_one_line_judged_on_the_upper_ci_bound(hi, knee, words):
    """The one-line answer to "can Orange's MSC carry it with MDTs x2": judged, like the verdict,
    on the upper 95% CI bound of the p95 at x1.0 (2.1 s with bound 3.2 s does not carry 3 s)."""
    from sim.capacity import answer

    text = answer(_result(hi, knee))
    assert "\n" not in text
    assert text.startswith("Orange County MSC with MDTs x2 in every agency: p95 2.10 s (95% CI 1.90-")
    assert "against a 3 s target" in text and text.endswith("(bottleneck msc:Orange)")
    for w in words:
        assert w in text
