"""Fan-out (`network.fan_out`): the key -> databases table, one row per inquiry with first and
last response, node statistics counting messages, the 2.8M/day calibration in transactions,
and, with the option off, the same results as before the option existed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.catalogue import DATABASES, FAN_OUT, KEY_DATABASE, KEY_NAMES
from sim.config import Scenario, parse_scenario
from sim.errors import ScenarioError
from sim.fanout import fan_sets, key_weights, mean_fan_out
from sim.runner import prepare, simulate_network
from tests.conftest import small_scenario_dict

GOLDEN = Path(__file__).resolve().parent / "golden"


def fan_scenario(**network) -> Scenario:
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 900, "warmup_s": 0}
    d["network"] = {"fan_out": True, **network}
    return parse_scenario(d)


def test_table_has_every_key_and_the_issues_examples():
    table = {f.key: f for f in FAN_OUT}
    assert tuple(table) == KEY_NAMES
    for f, db in zip(FAN_OUT, KEY_DATABASE):
        assert f.databases[0] == DATABASES[db]  # the key's own database first
        assert set(f.databases) <= set(DATABASES) and f.basis
    # a person inquiry -> state wanted persons + NCIC (+ Nlets when out of state)
    assert table["QW"].databases == ("wanted_persons", "NCIC") and table["QW"].out_of_state
    # a vehicle inquiry -> DMV + stolen vehicles + NCIC
    assert set(table["RV"].databases) == {"DMV", "stolen_vehicles", "NCIC"}
    assert set(table["QV"].databases) == {"DMV", "stolen_vehicles", "NCIC"}
    sets = fan_sets()
    qw = KEY_NAMES.index("QW")
    assert [DATABASES[i] for i in sets[2 * qw + 1]] == ["wanted_persons", "NCIC", "Nlets"]


def test_off_by_default_and_settings_that_would_be_ignored_are_errors():
    s = Scenario(name="t")
    assert not s.network.fan_out and s.network.resend.max == 0
    assert s.network.give_up_s == s.network.response_timeout_s
    with pytest.raises(ScenarioError, match="key_mix"):
        parse_scenario(small_scenario_dict(network={"key_mix": {"QW": 1}}))
    with pytest.raises(ScenarioError, match="unknown message key"):
        parse_scenario(small_scenario_dict(network={"fan_out": True, "key_mix": {"XX": 1}}))
    d = small_scenario_dict(network={"fan_out": True}, traffic={"database_mix": {"DMV": 1}})
    with pytest.raises(ScenarioError, match="database_mix"):
        simulate_network(parse_scenario(d))


def test_option_off_gives_the_results_of_before(tmp_path):
    """The messages and nodes tables of a small run with faults are those the model gave before
    fan-out and resends existed (saved from that code, same seed)."""
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 1200, "warmup_s": 60}
    d["traffic"] = {"load_factor": 6.0}
    d["network"] = {"msc": {"servers": 1, "service": {"mean": 0.5}, "buffer": 3},
                    "links": {"mdt_radio": {"loss_probability": 0.3, "max_retries": 1}}}
    d["faults"] = {"on_failure": "retry", "scheduled": [
        {"kind": "link_down", "county": "Alpine", "start_s": 100, "duration_s": 300},
        {"kind": "msc_outage", "county": "Mono", "start_s": 300, "duration_s": 120},
        {"kind": "db_slowdown", "database": "DMV", "factor": 40, "start_s": 500, "duration_s": 300},
        {"kind": "hub_failover", "start_s": 700, "switchover_s": 60, "in_hub": "retry",
         "failback_after_s": 200}]}
    run = simulate_network(parse_scenario(d), seed=11)
    def plain(df: pd.DataFrame) -> pd.DataFrame:  # categories and strings as Python objects
        return df.apply(lambda c: c.astype(object) if c.dtype.kind not in "biufM" else c)

    pd.testing.assert_frame_equal(plain(run.messages.to_pandas()),
                                  plain(pd.read_parquet(GOLDEN / "network_messages.parquet")),
                                  check_exact=True)
    pd.testing.assert_frame_equal(run.nodes, pd.read_parquet(GOLDEN / "network_nodes.parquet"),
                                  check_exact=True)


@pytest.fixture(scope="module")
def fanned():
    return simulate_network(fan_scenario(), seed=5)


def test_one_row_per_inquiry_with_its_fan_out(fanned):
    m = fanned.messages.to_pandas()
    s = fanned.summary
    assert len(m) == s["generated"] == s["answered"] + s["rejected"] + s["timed_out"] + s["in_flight"]
    inq = m[m["kind"] == "inquiry"]
    sets = fan_sets()
    key = inq["key"].astype(str).map(KEY_NAMES.index)
    # each inquiry asks its key's databases, with Nlets for some out-of-state subjects
    plain = key.map(lambda k: len(sets[2 * k]))
    oos = key.map(lambda k: len(sets[2 * k + 1]))
    assert ((inq["databases"] == plain) | (inq["databases"] == oos)).all()
    assert (inq["databases"] > plain).any()
    assert (inq["messages"] == inq["databases"]).all() and (inq["attempts"] == 1).all()
    admin = m[m["kind"] == "admin"]
    assert len(admin) and (admin["messages"] == 1).all() and admin["key"].isna().all()
    # the response time is to the last response; the first comes no later
    ans = inq[inq["state"] == "answered"]
    assert (ans["first_response_s"] <= ans["response_s"]).all()
    assert (ans["first_response_s"] < ans["response_s"]).any()
    assert s["first_p95_s"] <= s["p95_s"]
    # the amplification matches the key mix and the out-of-state share
    assert s["messages_per_inquiry"] == pytest.approx(inq["messages"].mean())
    assert s["messages_per_inquiry"] == pytest.approx(mean_fan_out(fan_scenario()), abs=0.12)


def test_node_statistics_count_messages(fanned):
    s = fanned.summary
    nodes = fanned.nodes.set_index("node")
    assert (nodes["balance"] == 0).all()
    m = fanned.messages.to_pandas()
    # every message is settled once or pending; states of messages add up
    assert s["finalized"] + s["messages_pending"] == s["messages_total"] == m["messages"].sum()
    assert sum(s[f"message_{k}"] for k in ("answered", "rejected", "timed_out", "in_flight")) \
        == s["messages_total"]
    # each answered database message went through its database once, each inquiry sent went
    # through the hub once up and once per database response back; admin once
    db = nodes[nodes["kind"] == "database"]["arrivals"].sum()
    inq = m[m["kind"] == "inquiry"]
    admin = int((m["kind"] == "admin").sum())  # administrative messages skip the databases
    assert s["message_answered"] - admin <= db <= inq["messages"].sum()
    hub = nodes.loc["hub:DOJ", "arrivals"]
    assert hub <= len(inq) + inq["messages"].sum() + (m["kind"] == "admin").sum()
    assert hub > 2.5 * len(inq)  # far more than the 2 visits per inquiry without fan-out
    # per-database response times come from each database's own messages
    by_db = fanned.by_database.set_index("database")
    assert by_db.loc["NCIC", "answered"] > (inq["key"].astype(str) == "ZW").sum()


def test_explicit_key_mix_and_out_of_state_share():
    run = simulate_network(fan_scenario(key_mix={"QW": 1}, out_of_state_share=0.0), seed=2)
    inq = run.messages.to_pandas().query("kind == 'inquiry'")
    assert (inq["key"].astype(str) == "QW").all() and (inq["databases"] == 2).all()
    assert set(run.by_database["database"]) == {"wanted_persons", "NCIC"}
    run = simulate_network(fan_scenario(key_mix={"QW": 1}, out_of_state_share=1.0), seed=2)
    inq = run.messages.to_pandas().query("kind == 'inquiry'")
    assert (inq["databases"] == 3).all()


def test_same_arrivals_with_and_without_fan_out():
    """Keys replace the database draw (same uniforms) and the out-of-state draw has its own
    stream: fan-out on and off create the same transactions (common random numbers)."""
    on = simulate_network(fan_scenario(), seed=9).messages.to_pandas()
    d = small_scenario_dict()
    d["horizon"] = {"start_hour": 16, "duration_s": 900, "warmup_s": 0}
    off = simulate_network(parse_scenario(d), seed=9).messages.to_pandas()
    assert np.array_equal(on["created_s"].to_numpy(), off["created_s"].to_numpy())
    assert (on["device"].astype(str) == off["device"].astype(str)).all()
    assert (on["kind"].astype(str) == off["kind"].astype(str)).all()


def test_same_seed_same_tables_with_fan_out_and_resends():
    s = fan_scenario(resend={"max": 2, "delay_s": 1}, response_timeout_s=2)
    a, b = simulate_network(s, seed=4), simulate_network(s, seed=4)
    pd.testing.assert_frame_equal(a.messages.to_pandas(), b.messages.to_pandas(), check_exact=True)
    pd.testing.assert_frame_equal(a.nodes, b.nodes, check_exact=True)


def test_the_2_8_million_a_day_are_transactions_and_fan_out_keeps_them():
    """2.8M/day counts transactions (inquiries, one journal row each): fan-out multiplies the
    messages behind them, not the transactions the devices create."""
    _, off, _ = prepare(Scenario(name="t", seed=1))
    _, on, _ = prepare(Scenario(name="t", seed=1, network={"fan_out": True}))
    assert on.total_rate == off.total_rate
    assert on.total_rate * 86400 == pytest.approx(2.8e6, rel=0.05)
    k = mean_fan_out(Scenario(name="t", network={"fan_out": True}))
    assert 2.5 < k < 3.1  # ~2.8 database messages per inquiry with the journal's key mixes
    w = key_weights(Scenario(name="t"))
    assert w.sum() == pytest.approx(1.0)
