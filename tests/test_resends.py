"""Operator resends (`network.resend`): after the response timeout the device resends, old
copies are served too, each inquiry ends in one state; conservation of inquiries and messages
under random faults (hypothesis); the hub's queue build-up and recovery after a failover."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import parse_scenario
from sim.runner import simulate_network
from tests.conftest import small_scenario_dict

TIMEOUT, DELAY = 10.0, 2.0


def slow_achs(max_resends: int, **extra) -> dict:
    """One small county; every inquiry asks ACHS, which answers in exactly 25 s (no queue)."""
    d = small_scenario_dict(name="slow_achs")
    d["topology"]["counties"] = ["Alpine"]
    d["horizon"] = {"start_hour": 16, "duration_s": 600, "warmup_s": 0}
    d["traffic"] = {"database_mix": {"ACHS": 1}, "admin_fraction": 0}
    d["network"] = {
        "databases": {"ACHS": {"servers": 500, "service": {"dist": "deterministic", "mean": 25.0}}},
        "links": {"mdt_radio": {"loss_probability": 0}},
        "response_timeout_s": TIMEOUT,
        "resend": {"max": max_resends, "delay_s": DELAY},
    }
    d.update(extra)
    return d


def test_resends_until_answered_and_old_copies_are_served():
    # sends at 0, 12, 24; the first copy's answer comes at ~25 s, before giving up at 34 s
    run = simulate_network(parse_scenario(slow_achs(2)), seed=1)
    m = run.messages.to_pandas()
    done = m[m["created_s"] < 600 - 40]
    assert len(done) > 5
    assert (done["state"] == "answered").all()
    assert (done["messages"] == 3).all() and (done["attempts"] == 3).all()
    assert done["response_s"].between(25, 34).all()
    assert run.summary["response_timeout_s"] == 3 * TIMEOUT + 2 * DELAY  # the sender's give-up
    # every copy reached ACHS (store and forward: the resends load the database too)
    achs = run.nodes.set_index("node").loc["db:ACHS", "arrivals"]
    assert achs >= 3 * len(done)
    assert run.summary["messages_per_inquiry"] == pytest.approx(m["messages"].mean(), rel=0.1)


def test_one_resend_gives_up_before_the_answer():
    # sends at 0 and 12; gives up at 22, the answer comes at ~25 s: late
    run = simulate_network(parse_scenario(slow_achs(1)), seed=1)
    m = run.messages.to_pandas()
    done = m[m["created_s"] < 600 - 40]
    assert (done["state"] == "timed_out").all() and (done["reason"] == "late_response").all()
    assert (done["messages"] == 2).all()


def test_no_resends_is_one_message_per_inquiry():
    run = simulate_network(parse_scenario(slow_achs(0)), seed=1)
    m = run.messages.to_pandas()
    assert "messages" not in m and len(m) == run.summary["generated"]
    assert (m[m["created_s"] < 560]["state"] == "timed_out").all()


def test_rejected_attempts_are_resent_and_the_last_rejection_stands():
    d = slow_achs(2, faults={"scheduled": [
        {"kind": "msc_outage", "county": "Alpine", "start_s": 0, "duration_s": 10_000}]})
    run = simulate_network(parse_scenario(d), seed=1)
    m = run.messages.to_pandas()
    local = m[(m["created_s"] < 600 - 30) & (m["agency_type"].astype(str) != "federal")
              & (m["where"].astype(str) == "msc:Alpine")]
    assert len(local) > 3
    assert (local["state"] == "rejected").all() and (local["reason"] == "node_down").all()
    assert (local["attempts"] == 3).all()


def failover(max_resends: int):
    d = small_scenario_dict(name="failover")
    d["horizon"] = {"start_hour": 16, "duration_s": 900, "warmup_s": 60}
    d["traffic"] = {"load_factor": 3.0}
    d["network"] = {"fan_out": True, "response_timeout_s": 20,
                    "resend": {"max": max_resends, "delay_s": 2}}
    d["faults"] = {"scheduled": [{"kind": "hub_failover", "start_s": 300, "switchover_s": 90,
                                  "in_hub": "retry", "failback_after_s": 200}]}
    return simulate_network(parse_scenario(d), seed=3)


def test_hub_failover_with_resends_shows_build_up_and_recovery_time():
    on, off = failover(2), failover(0)
    s = on.summary
    assert s["hub_backlog_peak"] > s["hub_backlog_pre_fault"]
    assert s["hub_recovered"] and s["hub_recovery_s"] is not None and s["hub_recovery_s"] >= 0
    assert s["hub_recovery_after_switchover_s"] is not None
    assert "hub_backlog" in on.timeline and on.timeline["hub_backlog"].max() == s["hub_backlog_peak"]
    # resends amplify: more messages per inquiry, a bigger build-up than without resends
    assert s["messages_per_inquiry"] > off.summary["messages_per_inquiry"]
    assert s["hub_backlog_peak"] >= off.summary["hub_backlog_peak"]
    m = on.messages.to_pandas()
    in_switchover = m[(m["created_s"] >= 300) & (m["created_s"] < 390) & (m["kind"] == "inquiry")]
    assert (in_switchover["attempts"] > 1).any()


HORIZON = 400.0
t = st.floats(min_value=0, max_value=HORIZON, exclude_max=True, allow_nan=False)  # a fault starts inside the run
dur = st.floats(min_value=1, max_value=HORIZON, allow_nan=False)
COUNTIES = ["Alpine", "Sierra", "Modoc", "Mono"]
faults = st.one_of(
    st.builds(lambda c, a, d: {"kind": "msc_outage", "county": c, "start_s": a, "duration_s": d},
              st.sampled_from(COUNTIES), t, dur),
    st.builds(lambda c, a, d: {"kind": "link_down", "county": c, "start_s": a, "duration_s": d},
              st.sampled_from(COUNTIES), t, dur),
    st.builds(lambda a, s, m, b: {"kind": "hub_failover", "start_s": a, "switchover_s": s,
                                  "in_hub": m, "failback_after_s": b},
              t, st.floats(min_value=0, max_value=100), st.sampled_from(["retry", "lose"]),
              st.one_of(st.none(), st.floats(min_value=1, max_value=200))),
    st.builds(lambda db, k, a, d: {"kind": "db_slowdown", "database": db, "factor": k, "start_s": a,
                                   "duration_s": d},
              st.sampled_from(["DMV", "NCIC", "stolen_vehicles"]), st.floats(min_value=0.5, max_value=50),
              t, dur),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(faults, max_size=4),
    on_failure=st.sampled_from(["lose", "retry"]),
    mtbf=st.one_of(st.none(), st.floats(min_value=0.02, max_value=0.5)),
    fan_out=st.booleans(),
    resends=st.integers(min_value=0, max_value=3),
    delay=st.floats(min_value=0, max_value=10),
    db_buffer=st.integers(min_value=0, max_value=3),
    loss=st.floats(min_value=0, max_value=0.5),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_inquiries_and_messages_are_conserved_under_random_faults(
        plan, on_failure, mtbf, fan_out, resends, delay, db_buffer, loss, seed):
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": HORIZON, "warmup_s": 0}
    d["traffic"] = {"load_factor": 3.0}
    d["faults"] = {"on_failure": on_failure, "scheduled": plan,
                   "random": {"msc_mtbf_hours": mtbf, "msc_mttr_minutes": 2}}
    timeout = 8.0
    d["network"] = {
        "fan_out": fan_out, "response_timeout_s": timeout,
        "resend": {"max": resends, "delay_s": delay},
        "msc": {"servers": 1, "service": {"mean": 0.4}, "buffer": 4},
        "databases": {"NCIC": {"servers": 1, "service": {"mean": 0.3}, "buffer": db_buffer}},
        "links": {"mdt_radio": {"loss_probability": loss, "max_retries": 1}},
    }
    run = simulate_network(parse_scenario(d), seed=seed)
    s = run.summary
    m = run.messages.to_pandas()
    # every inquiry (transaction) ends in exactly one of the four states
    assert m["state"].notna().all() and len(m) == s["generated"] > 0
    assert s["generated"] == s["answered"] + s["rejected"] + s["timed_out"] + s["in_flight"]
    assert (run.nodes["balance"] == 0).all(), run.nodes[run.nodes["balance"] != 0]
    give_up = timeout * (resends + 1) + delay * resends
    if fan_out or resends:
        # every message too: settled exactly once (a second settlement raises) or still pending
        assert s["finalized"] + s["messages_pending"] == s["messages_total"] == m["messages"].sum()
        assert sum(s[f"message_{k}"] for k in ("answered", "rejected", "timed_out", "in_flight")) \
            == s["messages_total"]
        assert (m["attempts"] <= resends + 1).all()
        assert (m["messages"] == m["attempts"] * m["databases"]).all()
        ans = m[m["state"] == "answered"]
        assert (ans["response_s"] <= give_up + 1e-9).all()
        assert (ans["first_response_s"] <= ans["response_s"]).all()
        # an inquiry still in flight was created less than the give-up time before the end
        assert (m.loc[m["state"] == "in_flight", "created_s"] + give_up > HORIZON).all()
    else:
        ends = m["end_s"].to_numpy()
        assert s["finalized"] == int(np.isfinite(ends).sum())
