"""Run one scenario at message level and collect its tables.

This is the engineer's entry point (`clets run`, `clets capacity`): topology ->
stations and routes -> Poisson arrivals -> faults -> SimPy run -> per-node and
end-to-end statistics. Nothing here writes files (see `sim.outputs`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa

from sim.arrivals import PoissonArrivals, ReplayArrivals
from sim.config import Scenario
from sim.errors import ScenarioError
from sim.faults import fault_process, fault_windows, has_faults, plan_faults, without_faults
from sim.model import CletsNetwork
from sim.netstats import (
    end_to_end,
    mark_faults,
    message_table,
    node_stats,
    response_summary,
    state_counts,
    timeline,
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
            run.fault_windows, scenario.network.response_timeout_s)
        run.summary["wall_s"] += base.summary["wall_s"]
        run.summary["baseline_wall_s"] = base.summary["wall_s"]
        return run
    wall0 = time.perf_counter()
    model, source, streams = prepare(scenario, seed, load_factor, graph, focus_county)
    scenario = model.scenario
    env = model.env
    horizon = scenario.horizon.duration_s
    warmup = scenario.horizon.warmup_s
    actions = plan_faults(model, scenario, streams, horizon)
    env.process(model.source(source.batches(0.0, horizon), model.route_of))
    env.process(fault_process(env, actions))

    def end_warmup():
        yield env.timeout(warmup)
        for st in model.stations:
            st.reset_stats()

    if warmup > 0:
        env.process(end_warmup())
    steps = 50
    for k in range(1, steps + 1):
        env.run(until=horizon * k / steps)
        if progress is not None:
            progress(k / steps)
    sim_wall = time.perf_counter() - wall0

    messages = message_table(model, horizon)
    msg_df = messages.select(["created_s", "county", "database", "state", "response_s"]).to_pandas()
    nodes = node_stats(model, horizon)
    by_county = end_to_end(msg_df, "county", warmup)
    by_database = end_to_end(msg_df[msg_df["database"].notna()], "database", warmup)
    windows = fault_windows(actions, horizon)
    per_minute = mark_faults(timeline(msg_df, scenario.network.response_timeout_s), windows)
    counts = state_counts(msg_df)
    # headline response times over messages created after the warm-up, both ways: answered
    # only (p50_s ... p99_s, mean_s) and timed-out counted at the timeout (*_censored_s)
    after = response_summary(msg_df[msg_df["created_s"] >= warmup], scenario.network.response_timeout_s)
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


def preflight(scenario: Scenario, seed: int, focus_county: str | None = None) -> None:
    """Build the model and resolve its fault plan without running: input errors surface
    before any long work starts (and before worker processes are launched)."""
    model, _source, streams = prepare(scenario, seed, 1.0, None, focus_county)
    plan_faults(model, scenario, streams, scenario.horizon.duration_s)
