"""The message path's shortcuts over steady switches and circuits (`QueueNet.mark_steady`:
service and next circuit as one wait, lazy departures, the hub's service and split as one wait)
give the same run, event for event, as the general path with nothing marked steady.

With continuous service draws no two events share a time, so the earlier event ids the
shortcuts draw cannot reorder anything: every table must be equal to the last bit."""

from __future__ import annotations

import pandas as pd
import pytest

import sim.runner as runner
from sim.config import parse_scenario
from sim.runner import simulate_network
from tests.conftest import small_scenario_dict


def busy_fan_out(faults: dict | None = None) -> dict:
    """Fan-out and resends over single-server MSCs at eight times the load: queues form at
    the MSCs and the hub (so lazy departures are turned back into events), and radio losses
    make some hops go the general way."""
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 1200, "warmup_s": 60}
    d["traffic"] = {"load_factor": 8.0}
    d["network"] = {"fan_out": True, "resend": {"max": 2, "delay_s": 1}, "response_timeout_s": 2.0,
                    "msc": {"servers": 1, "service": {"mean": 0.3}, "buffer": 5},
                    "links": {"mdt_radio": {"loss_probability": 0.2, "max_retries": 1}}}
    if faults:
        d["faults"] = faults
    return d


CASES = {
    "fan-out and resends": busy_fan_out(),
    "single messages": {**small_scenario_dict(), "traffic": {"load_factor": 8.0},
                        "network": {"msc": {"servers": 1, "service": {"mean": 0.3}}}},
    # a failing MSC and a hub failover: those switches are not steady, the others are
    "with faults": busy_fan_out({"on_failure": "retry", "scheduled": [
        {"kind": "msc_outage", "county": "Mono", "start_s": 300, "duration_s": 120},
        {"kind": "hub_failover", "start_s": 700, "switchover_s": 30, "in_hub": "retry",
         "failback_after_s": 200}]}),
}


def tables(run) -> tuple[pd.DataFrame, pd.DataFrame]:
    return run.messages.to_pandas(), run.nodes


@pytest.mark.parametrize("case", list(CASES))
def test_steady_shortcuts_change_nothing(case, monkeypatch):
    scenario = parse_scenario(CASES[case])
    fast = simulate_network(scenario)
    marked = []
    monkeypatch.setattr(runner, "_mark_steady", lambda model, actions: marked.append(model))
    general = simulate_network(scenario)
    assert marked and not any(st.steady for st in marked[0].stations)
    messages, nodes = tables(fast)
    pd.testing.assert_frame_equal(messages, tables(general)[0], check_exact=True)
    pd.testing.assert_frame_equal(nodes, tables(general)[1], check_exact=True)
    # the runs are busy enough for the shortcuts and the queues to matter
    assert len(messages) > 2000 and (nodes["p_wait"] > 0.2).any()
