"""Each fault does what its description says, measured on the message records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.config import parse_scenario
from sim.runner import simulate_network
from tests.conftest import small_scenario_dict

HORIZON = 1800.0


def scenario(faults=None, network=None, load=5.0, **extra):
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": HORIZON, "warmup_s": 0}
    d["traffic"] = {"load_factor": load}
    if faults is not None:
        d["faults"] = faults
    if network is not None:
        d["network"] = network
    d.update(extra)
    return parse_scenario(d)


def messages(run) -> pd.DataFrame:
    return run.messages.to_pandas()


def test_msc_outage_rejects_that_county_only():
    run = simulate_network(scenario({"scheduled": [
        {"kind": "msc_outage", "county": "Mono", "start_s": 300, "duration_s": 600}]}), seed=1)
    m = messages(run)
    during = m[(m["created_s"] > 301) & (m["created_s"] < 890)]
    # CHP area offices reach the hub through CHP Headquarters, not the county MSC
    mono = during[(during["county"] == "Mono") & (during["agency_type"] != "chp_area")]
    others = during[(during["county"] != "Mono") & (during["county"].notna())]
    assert len(mono) > 50
    assert (mono["state"] != "answered").all()
    rejected = mono[mono["state"] == "rejected"]
    assert len(rejected) >= 0.9 * len(mono)
    assert set(rejected["reason"]) == {"node_down"}
    assert set(rejected["where"]) == {"msc:Mono"}
    # other counties' inquiries do not cross Mono's MSC
    inquiries = others[others["kind"] == "inquiry"]
    assert (inquiries["state"] == "answered").mean() > 0.97
    after = m[(m["created_s"] > 1000) & (m["county"] == "Mono") & (m["kind"] == "inquiry")
              & (m["agency_type"] != "chp_area")]
    assert (after["state"] == "answered").mean() > 0.97


def test_link_down_rejects_with_link_reason():
    run = simulate_network(scenario({"scheduled": [
        {"kind": "link_down", "county": "Modoc", "start_s": 0, "duration_s": HORIZON}]}), seed=2)
    m = messages(run)
    modoc = m[(m["county"] == "Modoc") & (m["kind"] == "inquiry") & (m["agency_type"] != "chp_area")]
    assert len(modoc) > 50
    assert (modoc["state"] == "rejected").all()
    assert set(modoc["reason"]) == {"link_down"}


SLOW_HUB = {"hub": {"servers": 8, "service": {"mean": 4.0}}, "response_timeout_s": 120}


@pytest.mark.parametrize("policy", ["retry", "lose"])
def test_hub_failover_retry_or_lose(policy):
    faults = {"scheduled": [{"kind": "hub_failover", "start_s": 600, "switchover_s": 60,
                             "in_hub": policy}]}
    run = simulate_network(scenario(faults, SLOW_HUB, load=3.0), seed=3)
    m = messages(run)
    nodes = run.nodes.set_index("node")
    lost_in_hub = m[(m["where"] == "hub:DOJ") & (m["reason"] == "failed_in_node")]
    evicted = nodes.loc["hub:DOJ", "lost"]
    assert evicted > 0  # the failure did catch messages inside the hub
    if policy == "lose":
        assert len(lost_in_hub) == evicted
        # lost at the failure instant, those in service included (not when their service ends)
        assert (lost_in_hub["end_s"] == 600.0).all()
    else:
        assert len(lost_in_hub) == 0
    # after the switch-over the backup site carries the traffic
    assert nodes.loc["hub:backup", "completed"] > 0
    late = m[m["created_s"] > 700]
    assert (late["state"] == "answered").mean() > 0.95


def test_hub_switchover_delays_but_holds_messages():
    faults = {"scheduled": [{"kind": "hub_failover", "start_s": 600, "switchover_s": 90}]}
    run = simulate_network(scenario(faults, {"response_timeout_s": 300}), seed=4)
    m = messages(run)
    held = m[(m["created_s"] > 605) & (m["created_s"] < 680) & (m["kind"] == "inquiry")]
    assert len(held) > 20
    assert (held["state"] == "answered").all()
    # each waited for the backup: answered no earlier than the end of the switch-over
    assert (held["end_s"] >= 690).all()


def test_database_slowdown_scales_service():
    base = simulate_network(scenario(), seed=5).nodes.set_index("node")
    slow = simulate_network(scenario({"scheduled": [
        {"kind": "db_slowdown", "database": "DMV", "factor": 10, "start_s": 0,
         "duration_s": HORIZON}]}), seed=5).nodes.set_index("node")
    ratio = slow.loc["db:DMV", "mean_sojourn_s"] / base.loc["db:DMV", "mean_sojourn_s"]
    # DMV is lightly loaded, so time in node ~ service time: ratio ~ 10 (queueing adds a little)
    assert 9.0 < ratio < 12.0
    assert slow.loc["db:NCIC", "mean_sojourn_s"] == pytest.approx(base.loc["db:NCIC", "mean_sojourn_s"],
                                                                  rel=0.15)


def test_radio_loss_matches_geometric_retries():
    p, retries = 0.3, 1
    net = {"links": {"mdt_radio": {"loss_probability": p, "max_retries": retries}}}
    run = simulate_network(scenario(network=net, load=8.0), seed=6)
    m = messages(run)
    mdt = m[(m["device_kind"] == "mdt")]
    failed_up = (mdt["reason"] == "radio_loss") & (mdt["state"] == "rejected")
    theory = p ** (retries + 1)  # every transmission of the inquiry lost
    n = len(mdt)
    assert n > 1000
    assert abs(failed_up.mean() - theory) < 2.576 * math.sqrt(theory * (1 - theory) / n)
    terminals = m[m["device_kind"] == "terminal"]
    assert not (terminals["reason"] == "radio_loss").any()


def test_timeout_reclassifies_without_changing_dynamics():
    """The response timeout is the sender's clock: same seed, same events, only labels change."""
    a = messages(simulate_network(scenario(network={"response_timeout_s": 60}), seed=8))
    b = messages(simulate_network(scenario(network={"response_timeout_s": 0.6}), seed=8))
    np.testing.assert_array_equal(a["end_s"].to_numpy(), b["end_s"].to_numpy())
    slow = (a["state"] == "answered") & (a["response_s"] > 0.6)
    assert slow.sum() > 0
    assert (b.loc[slow, "state"] == "timed_out").all()
    assert (b.loc[slow, "reason"] == "late_response").all()
    fast = (a["state"] == "answered") & (a["response_s"] <= 0.6)
    assert (b.loc[fast, "state"] == "answered").all()


def test_random_msc_outages_are_planned_and_reproducible():
    faults = {"random": {"msc_mtbf_hours": 0.2, "msc_mttr_minutes": 2}}
    r1 = simulate_network(scenario(faults), seed=9)
    r2 = simulate_network(scenario(faults), seed=9)
    assert len(r1.faults) > 0
    pd.testing.assert_frame_equal(r1.faults, r2.faults)
    assert set(r1.faults["action"]) == {"down", "up"}


def test_timeline_shows_the_failover_spike():
    faults = {"scheduled": [{"kind": "hub_failover", "start_s": 600, "switchover_s": 90}]}
    run = simulate_network(scenario(faults, {"response_timeout_s": 300}), seed=4)
    tl = run.timeline.set_index("bin_start_s")
    assert tl[["in_flight", "answered", "rejected", "timed_out"]].to_numpy().sum() == run.summary["generated"]
    # messages created in the minute the hub fails wait for the backup: p95 near the switch-over
    assert tl.loc[600.0, "p95_s"] > 60
    assert tl.loc[300.0, "p95_s"] < 5 and tl.loc[1200.0, "p95_s"] < 5


def test_back_to_back_failovers_hold_waiting_messages_until_a_site_is_active():
    """A second failover starting the instant the first switch-over ends: messages woken by the
    first `ready` find no active site and must wait again (found by the hypothesis test)."""
    faults = {"scheduled": [
        {"kind": "hub_failover", "start_s": 300, "switchover_s": 100},
        {"kind": "hub_failover", "start_s": 400, "switchover_s": 100},
    ]}
    run = simulate_network(scenario(faults, {"response_timeout_s": 600}), seed=12)
    m = messages(run)
    s = run.summary
    assert s["generated"] == s["answered"] + s["rejected"] + s["timed_out"] + s["in_flight"]
    held = m[(m["created_s"] > 305) & (m["created_s"] < 390) & (m["kind"] == "inquiry")]
    assert len(held) > 10 and (held["state"] == "answered").all()
    assert (held["end_s"] >= 500).all()  # they waited through both switch-overs
    assert (run.nodes["balance"] == 0).all()


# ------------------------------------------------------------------ censored p95, windows, twin


def test_censored_p95_is_at_least_the_answered_one_on_any_sample():
    """Timed-out messages enter at the timeout, above every answered time, so no quantile can
    fall; once more than 5% of the senders who waited timed out, the p95 is the timeout."""
    from sim.netstats import response_summary

    rng = np.random.default_rng(0)
    for k in range(200):
        n = int(rng.integers(20, 400))
        share = rng.uniform(0, 0.15)
        state = np.where(rng.random(n) < share, "timed_out", "answered")
        state[rng.random(n) < 0.05] = "rejected"
        rt = rng.lognormal(0, 1, n).clip(max=29.9)
        m = pd.DataFrame({"state": state, "response_s": np.where(state == "answered", rt, np.nan)})
        if not (m["state"] == "answered").any():
            continue
        s = response_summary(m, 30.0)
        assert s["p95_censored_s"] >= s["p95_s"], k
        waited = m[m["state"] != "rejected"]
        timed_out = (waited["state"] == "timed_out").sum()
        assert s["waited"] == len(waited) and s["waited_timed_out_share"] == timed_out / len(waited)
        # np.quantile's p95 lies between order statistics floor/ceil of 0.95 (n-1): both are the
        # timeout when the timed-out block covers them
        if timed_out > 0.05 * (len(waited) - 1) + 1:
            assert s["p95_censored_s"] == 30.0, k
        if timed_out == 0:
            assert s["p95_censored_s"] == s["p95_s"]


def test_run_summary_carries_both_p95s():
    # a 0.6 s timeout: many answers are late, far more than 5% of the senders time out
    run = simulate_network(scenario(network={"response_timeout_s": 0.6}), seed=8)
    s = run.summary
    assert s["waited_timed_out_share"] > 0.05
    assert s["p95_censored_s"] == 0.6 and s["response_timeout_s"] == 0.6
    assert s["p95_s"] <= 0.6 and s["p95_censored_s"] >= s["p95_s"]
    m = messages(run)
    waited = m[m["state"].isin(["answered", "timed_out"])]
    assert s["waited"] == len(waited)
    assert s["timed_out_share"] == pytest.approx((m["state"] == "timed_out").mean())
    # nothing times out with a long timeout: both p95s are the same number
    calm = simulate_network(scenario(network={"response_timeout_s": 600}), seed=8).summary
    assert calm["timed_out"] == 0 and calm["p95_censored_s"] == calm["p95_s"]


FAULTS = {"scheduled": [
    {"kind": "msc_outage", "county": "Mono", "start_s": 300, "duration_s": 200},
    {"kind": "hub_failover", "start_s": 600, "switchover_s": 60, "failback_after_s": 120},
]}


def test_fault_windows_follow_the_plan():
    run = simulate_network(scenario(FAULTS, load=2.0), seed=13)
    w = [(x["fault"], x["label"], x["start_s"], x["end_s"], x["until_horizon"]) for x in run.fault_windows]
    assert w == [("msc_outage", "msc:Mono down", 300.0, 500.0, False),
                 ("hub_failover", "hub switch-over (primary down)", 600.0, 660.0, False),
                 ("hub_failover", "on the backup hub", 660.0, 780.0, False)]
    tl = run.timeline.set_index("bin_start_s")["fault"]
    assert set(tl[tl.str.contains("Mono")].index) == {300.0, 360.0, 420.0, 480.0}
    assert set(tl[tl.str.contains("switch-over")].index) == {600.0}
    assert set(tl[tl.str.contains("backup")].index) == {660.0, 720.0}
    assert (tl.loc[[0.0, 240.0, 540.0, 780.0, 1200.0]] == "").all()


def test_random_outage_windows_pair_each_failure_with_its_repair():
    from sim.faults import has_faults, without_faults

    scen = scenario({"random": {"msc_mtbf_hours": 0.2, "msc_mttr_minutes": 2}})
    run = simulate_network(scen, seed=9)
    f = run.faults
    downs = f[f["action"] == "down"]
    assert len(run.fault_windows) == len(downs) > 0
    for w in run.fault_windows:
        ups = f[(f["target"] == w["target"]) & (f["action"] == "up") & (f["time_s"] > w["start_s"])]
        assert w["start_s"] in set(downs[downs["target"] == w["target"]]["time_s"])
        assert w["end_s"] == (ups["time_s"].min() if len(ups) else HORIZON)
    twin = without_faults(scen)
    assert has_faults(scen) and not has_faults(twin)


def test_no_fault_twin_has_the_same_arrivals_and_no_fault():
    scen = scenario(FAULTS, load=2.0)
    assert simulate_network(scen, seed=13).baseline is None  # only on request
    run = simulate_network(scen, seed=13, twin=True)
    base = run.baseline
    assert base is not None and base.seed == run.seed
    a, b = messages(run), messages(base)
    # common random numbers: the same messages are created at the same instants by the same devices
    assert base.summary["generated"] == run.summary["generated"]
    np.testing.assert_array_equal(a["created_s"].to_numpy(), b["created_s"].to_numpy())
    assert (a["device"].astype(str) == b["device"].astype(str)).all()
    # and nothing fails in the twin
    assert len(base.faults) == 0 and base.fault_windows == []
    assert not b["reason"].isin(["node_down", "failed_in_node", "link_down"]).any()
    assert base.nodes.set_index("node").loc["hub:backup", "completed"] == 0
    # the comparison: same messages in each window, the fault's damage only with the fault
    c = run.fault_comparison.set_index(["window", "measure"])
    for w in run.fault_windows:
        assert c.loc[(w["label"], "messages"), "with_fault"] == c.loc[(w["label"], "messages"),
                                                                       "without_fault"]
    assert c.loc[("msc:Mono down", "rejected"), "with_fault"] > 20
    assert c.loc[("msc:Mono down", "rejected"), "without_fault"] == 0
    sw = "hub switch-over (primary down)"
    assert c.loc[(sw, "p95_censored_s"), "with_fault"] > 10 * c.loc[(sw, "p95_censored_s"), "without_fault"]
    # a scenario without faults has no twin to run
    assert simulate_network(scenario(), seed=13, twin=True).baseline is None


def test_clets_run_writes_the_windows_the_twin_and_the_comparison(tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from sim.cli import app

    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 900, "warmup_s": 60}
    d["traffic"] = {"load_factor": 2.0}
    d["faults"] = FAULTS
    scen = tmp_path / "f.yaml"
    scen.write_text(yaml.safe_dump(d))
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", str(scen), "--out", str(out)])
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert [(w["fault"], w["start_s"], w["end_s"]) for w in man["fault_windows"]] == [
        ("msc_outage", 300.0, 500.0), ("hub_failover", 600.0, 660.0), ("hub_failover", 660.0, 780.0)]
    assert man["baseline"]["summary"]["generated"] == man["summary"]["generated"]
    tl, base = pd.read_csv(out / "timeline.csv"), pd.read_csv(out / "timeline_baseline.csv")
    assert list(tl["bin_start_s"]) == list(base["bin_start_s"])
    states = ["in_flight", "answered", "rejected", "timed_out"]
    # per minute the same messages were created in both runs
    np.testing.assert_array_equal(tl[states].sum(axis=1), base[states].sum(axis=1))
    assert tl["fault"].fillna("").str.contains("Mono").sum() == 4
    cmp = pd.read_csv(out / "fault_comparison.csv")
    assert set(cmp["window"]) == {w["label"] for w in man["fault_windows"]}
    flat = " ".join(r.output.split())
    assert "(answered only) /" in flat and "timed-out counted at the 30 s timeout" in flat
    assert "no-fault twin" in flat and "with fault" in flat and "during the fault windows" in flat
    html = (out / "report.html").read_text()
    assert 'data-figure="timeline"' in html and "During the fault windows" in html
    assert 'data-key="p95_censored_s"' in html
