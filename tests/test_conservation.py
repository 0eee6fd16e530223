"""Every message ends in exactly one state, and every node accounts for every arrival,
whatever faults happen (hypothesis draws the fault plans)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import parse_scenario
from sim.runner import simulate_network
from tests.conftest import small_scenario_dict

COUNTIES = ["Alpine", "Sierra", "Modoc", "Mono"]
HORIZON = 600.0

t = st.floats(min_value=0, max_value=HORIZON, exclude_max=True, allow_nan=False)  # a fault starts inside the run
dur = st.floats(min_value=1, max_value=HORIZON, allow_nan=False)
faults = st.one_of(
    st.builds(lambda c, a, d: {"kind": "msc_outage", "county": c, "start_s": a, "duration_s": d},
              st.sampled_from(COUNTIES), t, dur),
    st.builds(lambda c, a, d: {"kind": "link_down", "county": c, "start_s": a, "duration_s": d},
              st.sampled_from(COUNTIES), t, dur),
    st.builds(lambda a, s, m: {"kind": "hub_failover", "start_s": a, "switchover_s": s, "in_hub": m},
              t, st.floats(min_value=0, max_value=200), st.sampled_from(["retry", "lose"])),
    st.builds(lambda db, k, a, d: {"kind": "db_slowdown", "database": db, "factor": k, "start_s": a,
                                   "duration_s": d},
              st.sampled_from(["DMV", "NCIC", "ACHS"]), st.floats(min_value=0.5, max_value=50), t, dur),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(faults, max_size=5),
    on_failure=st.sampled_from(["lose", "retry"]),
    mtbf=st.one_of(st.none(), st.floats(min_value=0.02, max_value=1.0)),
    msc_buffer=st.integers(min_value=0, max_value=5),
    loss=st.floats(min_value=0, max_value=0.6),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_every_message_ends_in_exactly_one_state(plan, on_failure, mtbf, msc_buffer, loss, seed):
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": HORIZON, "warmup_s": 0}
    d["traffic"] = {"load_factor": 4.0}
    d["faults"] = {"on_failure": on_failure, "scheduled": plan,
                   "random": {"msc_mtbf_hours": mtbf, "msc_mttr_minutes": 3}}
    d["network"] = {
        "msc": {"servers": 1, "service": {"mean": 0.5}, "buffer": msc_buffer},
        "links": {"mdt_radio": {"loss_probability": loss, "max_retries": 1}},
        "response_timeout_s": 20,
    }
    scenario = parse_scenario(d)
    run = simulate_network(scenario, seed=seed)
    s = run.summary
    states = run.messages.column("state").to_pylist()
    assert None not in states
    # generated = sum of the four end states
    assert s["generated"] == s["answered"] + s["rejected"] + s["timed_out"] + s["in_flight"]
    assert s["generated"] == len(states) > 0
    # each fate was assigned once: assignments = messages no longer pending
    ends = run.messages.column("end_s").to_numpy()
    assert s["finalized"] == int(np.isfinite(ends).sum())
    # a message still in flight has either no fate yet or was lost too recently to have timed out
    created = run.messages.column("created_s").to_numpy()
    in_flight = np.asarray(states) == "in_flight"
    assert (created[in_flight] + 20 > HORIZON).all()
    # flow conservation at every node
    assert (run.nodes["balance"] == 0).all(), run.nodes[run.nodes["balance"] != 0]

