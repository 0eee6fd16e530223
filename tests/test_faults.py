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
