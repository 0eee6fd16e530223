"""Run one scenario at message level and collect its tables.

This is the engineer's entry point (`clets run`, `clets capacity`): topology ->
stations and routes -> Poisson arrivals -> faults -> SimPy run -> per-node and
end-to-end statistics. Nothing here writes files (see `sim.outputs`).
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa

from sim.arrivals import PoissonArrivals, ReplayArrivals
from sim.config import Scenario
from sim.config.network import HubFailover
from sim.config.traffic import Traffic
from sim.errors import ScenarioError
from sim.fanout import TransactionPlanner, key_weights
from sim.faults import fault_process, fault_windows, has_faults, plan_faults, without_faults
from sim.messagelog import PENDING
from sim.model import CletsNetwork
from sim.netstats import (
    end_to_end,
    hub_recovery,
    mark_faults,
    message_legs,
    message_table,
    node_stats,
    response_summary,
    state_counts,
    timeline,
    transaction_summary,
    window_comparison,
)
from sim.rng import Streams
from topology.builder import build_topology


@dataclass
class NetworkRun:
    scenario: Scenario
    seed: int
    load_factor: float
    horizon_s: float
    warmup_s: float
    messages: pa.Table
    nodes: pd.DataFrame
    by_county: pd.DataFrame
    by_database: pd.DataFrame
    faults: pd.DataFrame
    timeline: pd.DataFrame
    summary: dict = field(default_factory=dict)
    # the intervals the faults were in force (`sim.faults.fault_windows`)
    fault_windows: list[dict] = field(default_factory=list)
    # the no-fault twin (same scenario and seed, faults removed) and the per-window comparison
    baseline: NetworkRun | None = None
    fault_comparison: pd.DataFrame | None = None


def prepare(scenario: Scenario, seed: int | None = None, load_factor: float | None = None,
            graph: nx.DiGraph | None = None, focus_county: str | None = None,
            ) -> tuple[CletsNetwork, PoissonArrivals | ReplayArrivals, Streams]:
    """Build the model and its arrival source (not yet running).

    With `focus_county`, the load factor scales only that county's devices; the rest of
    the network keeps its scenario load (background traffic at the hub and databases).
    """
    streams = Streams(seed if seed is not None else scenario.seed)
    if load_factor is not None and focus_county is None:
        scenario = scenario.model_copy(
            update={"traffic": scenario.traffic.model_copy(update={"load_factor": load_factor})}
        )
    if graph is None:
        graph = build_topology(scenario.topology, scenario.network, streams)
    model = CletsNetwork(scenario, graph, streams)
    net = scenario.network
    if net.fan_out or net.resend.max > 0:
        if net.fan_out and scenario.traffic.database_mix != Traffic().database_mix:
            raise ScenarioError("traffic.database_mix is not used with network.fan_out: true (each "
                                "inquiry's message key decides its databases: network.key_mix)")
        model.use_transactions(net.resend.max, net.response_timeout_s, net.resend.delay_s)
    if scenario.traffic.source == "journal":
        return model, _replay_source(scenario, graph, streams, load_factor, focus_county), streams
    rates = model.device_rates
    if focus_county is not None:
        in_county = np.array([model.graph.nodes[d]["county"] == focus_county
                              for d in model.device_names])
        if not in_county.any():
            raise ScenarioError(f"--county: {focus_county!r} has no devices in this scenario's topology")
        rates = np.where(in_county, rates * (load_factor or 1.0), rates)
    source = PoissonArrivals(
        rates,
        model.device_agency,
        scenario.traffic,
        scenario.horizon.start_hour,
        streams.fresh("arrivals"),
        key_weights=key_weights(scenario) if net.fan_out else None,
    )
    return model, source, streams


def _replay_source(scenario: Scenario, graph, streams: Streams, load_factor, focus_county):
    """Arrivals from the journal generator (same world, traffic and misuse as `clets journal`)."""
    from sim.journal import JournalGenerator
    from sim.traffic import KEY_DB
    from sim.world import day_number

    if (load_factor not in (None, 1.0)) or scenario.traffic.load_factor != 1.0 or focus_county:
        raise ScenarioError("traffic.source = 'journal' replays the journal as generated: load factors "
                            "and --county scaling need traffic.source = 'poisson'")
    h = scenario.horizon
    first = day_number(scenario.journal.start_date)
    days = int(np.ceil((h.start_hour * 3600 + h.duration_s) / 86400))
    gen = JournalGenerator(scenario, streams, graph=graph, days=days)
    return ReplayArrivals(lambda day: gen.rows(day, day - first), first * 86400 + int(h.start_hour * 3600),
                          streams.fresh("replay"), KEY_DB)


def simulate_network(
    scenario: Scenario,
    seed: int | None = None,
    load_factor: float | None = None,
    graph: nx.DiGraph | None = None,
    progress: Callable[[float], None] | None = None,
    focus_county: str | None = None,
    twin: bool = False,
) -> NetworkRun:
    """Run the message-level model for the scenario's horizon and summarise it.

    With ``twin`` and a scenario that has faults, the same scenario and seed is run again
    with the faults removed (common random numbers: same topology, same arrivals), attached
    as ``run.baseline`` with the per-window comparison ``run.fault_comparison``. It doubles
    the run time; ``progress`` then goes 0-0.5 for the faulted run and 0.5-1 for the twin.
    """
    if twin and has_faults(scenario):
        half = (lambda f: progress(f / 2)) if progress is not None else None
        run = simulate_network(scenario, seed, load_factor, graph, half, focus_county)
        rest = (lambda f: progress(0.5 + f / 2)) if progress is not None else None
        base = simulate_network(without_faults(scenario), run.seed, load_factor, graph, rest,
                                focus_county)
        cols = ["created_s", "state", "reason", "response_s"]
        run.baseline = base
        run.fault_comparison = window_comparison(
            run.messages.select(cols).to_pandas(), base.messages.select(cols).to_pandas(),
            run.fault_windows, scenario.network.give_up_s)
        run.summary["wall_s"] += base.summary["wall_s"]
        run.summary["baseline_wall_s"] = base.summary["wall_s"]
        return run
    wall0 = time.perf_counter()
    with _cyclic_gc_paused():  # the topology and model: ~40% of their build time otherwise
        model, source, streams = prepare(scenario, seed, load_factor, graph, focus_county)
    scenario = model.scenario
    env = model.env
    horizon = scenario.horizon.duration_s
    warmup = scenario.horizon.warmup_s
    actions = plan_faults(model, scenario, streams, horizon)
    model.horizon = horizon  # lets a message's last link end without an event of its own
    _mark_steady(model, actions)
    if model.tx is None:
        model.source(source.batches(0.0, horizon), model.route_of)
    else:
        planner = TransactionPlanner(model, scenario, streams.fresh("fanout"))
        model.transaction_source(source.batches(0.0, horizon), planner.register)
    env.process(fault_process(env, actions))
    backlog = _sample_hub_backlog(model) if _has_hub_failover(scenario) else None

    def end_warmup():
        yield env.timeout(warmup)
        for st in model.stations:
            st.reset_stats()

    if warmup > 0:
        env.process(end_warmup())
    steps = 50
    with _cyclic_gc_paused():
        for k in range(1, steps + 1):
            env.run(until=horizon * k / steps)
            if progress is not None:
                progress(k / steps)
    sim_wall = time.perf_counter() - wall0

    messages = message_table(model, horizon)
    cols = ["created_s", "county", "database", "state", "response_s"]
    extra = ["kind", "messages", "first_response_s"] if model.tx is not None else []
    msg_df = messages.select(cols + extra).to_pandas()
    nodes = node_stats(model, horizon)
    # the sender's wait: the timeout, or with resends the timeout of every attempt + the delays
    give_up = scenario.network.give_up_s
    by_county = end_to_end(msg_df, "county", warmup)
    if model.tx is None:
        by_database = end_to_end(msg_df[msg_df["database"].notna()], "database", warmup)
    else:  # each database answers separately: its own messages
        legs = message_legs(model, horizon)
        by_database = end_to_end(legs[legs["database"].notna()], "database", warmup)
    windows = fault_windows(actions, horizon)
    per_minute = mark_faults(timeline(msg_df, give_up), windows)
    counts = state_counts(msg_df)
    # headline response times over messages created after the warm-up, both ways: answered
    # only (p50_s ... p99_s, mean_s) and timed-out counted at the timeout (*_censored_s)
    after = response_summary(msg_df[msg_df["created_s"] >= warmup], give_up)
    if model.tx is not None:
        after |= transaction_summary(msg_df[msg_df["created_s"] >= warmup], legs, warmup)
        after["messages_pending"] = model.log.fate.count(PENDING)  # messages with no fate yet
    if backlog is not None:
        per_minute, recovery = hub_recovery(backlog, per_minute, windows, warmup)
        after |= recovery
    summary = {
        "generated": len(msg_df),
        "finalized": model.log.finalized,
        **counts,
        "measured": after.pop("messages"),
        **after,
        "expected_messages": source.expected_count(0.0, horizon),
        "devices": len(model.device_names),
        "stations": len(model.stations),
        "sim_wall_s": sim_wall,
        "wall_s": time.perf_counter() - wall0,
    }
    faults = pd.DataFrame(
        [(a.time_s, a.fault, a.target, a.action) for a in actions],
        columns=["time_s", "fault", "target", "action"],
    )
    lf = load_factor if focus_county is not None and load_factor is not None else scenario.traffic.load_factor
    return NetworkRun(scenario, streams.root_seed, lf, horizon, warmup,
                      messages, nodes, by_county, by_database, faults, per_minute, summary, windows)


@contextmanager
def _cyclic_gc_paused():
    """Pause the cyclic garbage collector while the model is built and run: they allocate
    millions of objects, long-lived (the topology, routes) or short-lived and freed by
    reference counting (events, message processes: no cycles, `MessageProcess`), and the
    collector's passes over them (~10% of a statewide peak hour) free nothing. Restored on
    exit."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _mark_steady(model: CletsNetwork, actions) -> None:
    """Tell the model which switches never fail and which circuits never go down or lose
    frames in this run (none that a fault action takes down), so that it can merge their
    hops (`QueueNet.mark_steady`)."""
    down = {a.target for a in actions if a.action.startswith("down")}
    links = [*model.links.values(), *model.device_links, *model.mdt_gateways.values()]
    model.mark_steady([st for st in model.stations if st.name not in down],
                      [k for k in links if not k.lossy and k.name not in down])


HUB_SAMPLE_S = 5.0  # spacing of the hub backlog samples (runs with a hub failover)


def _has_hub_failover(scenario: Scenario) -> bool:
    return any(isinstance(f, HubFailover) for f in scenario.faults.scheduled)


def _sample_hub_backlog(model) -> list[tuple[float, int]]:
    """Sample the hub's backlog (`HubRole.backlog`) every HUB_SAMPLE_S seconds of the run."""
    samples: list[tuple[float, int]] = []
    env, role = model.env, model.hub

    def sampler():
        while True:
            samples.append((env.now, role.backlog()))
            yield env.timeout(HUB_SAMPLE_S)

    env.process(sampler())
    return samples


def preflight(scenario: Scenario, seed: int, focus_county: str | None = None) -> None:
    """Build the model and resolve its fault plan without running: input errors surface
    before any long work starts (and before worker processes are launched)."""
    model, _source, streams = prepare(scenario, seed, 1.0, None, focus_county)
    plan_faults(model, scenario, streams, scenario.horizon.duration_s)
