"""Faults: scheduled and random outages applied to a running `CletsNetwork`.

A fault plan is resolved against the model before the run starts, so a fault that
names an unknown county, agency or database stops with a `ScenarioError` instead of
failing halfway through. Random MSC outages are drawn up front from the ``faults``
stream (exponential up and repair times), which makes them reproducible and lets
the plan be written out with the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sim.config import DatabaseSlowdown, HubFailover, LinkDown, MscOutage, Scenario
from sim.errors import ScenarioError
from sim.rng import Streams
from sim.stations import LinkState, Station
from topology.builder import HUB, db_node, msc_node


@dataclass(frozen=True)
class FaultAction:
    """One change of state at one time (the fault table written with the results)."""

    time_s: float
    fault: str
    target: str
    action: str
    apply: Callable[[], None]


def _msc(model, county: str, field: str) -> Station:
    st = model.by_node.get(msc_node(county))
    if st is None:
        raise ScenarioError(f"{field}: unknown county {county!r} (not in this scenario's topology)")
    return st


def _link(model, fault: LinkDown, field: str) -> LinkState:
    msc = _msc(model, fault.county, f"{field}.county").name
    if fault.agency is None:
        return model.link(msc, HUB)
    for node in model.agencies:
        d = model.graph.nodes[node]
        if d["county"] == fault.county and fault.agency in (d["name"], d["ori"]):
            up = model.up_path[node]
            return model.link(up[0], up[1])
    raise ScenarioError(f"{field}.agency: unknown agency {fault.agency!r} in {fault.county} County")


def plan_faults(model, scenario: Scenario, streams: Streams, horizon: float) -> list[FaultAction]:
    """All fault actions of the run, sorted by time."""
    actions: list[FaultAction] = []

    def add(t: float, fault: str, target: str, action: str, fn: Callable[[], None]) -> None:
        if t < horizon:
            actions.append(FaultAction(t, fault, target, action, fn))

    for i, f in enumerate(scenario.faults.scheduled):
        field = f"faults.scheduled[{i}]"
        end = f.start_s + f.duration_s if not isinstance(f, HubFailover) else None
        if isinstance(f, MscOutage):
            st = _msc(model, f.county, f"{field}.county")
            add(f.start_s, "msc_outage", st.name, "down", st.fail)
            add(end, "msc_outage", st.name, "up", st.repair)
        elif isinstance(f, LinkDown):
            link = _link(model, f, field)
            add(f.start_s, "link_down", link.name, "down", lambda link=link: setattr(link, "up", False))
            add(end, "link_down", link.name, "up", lambda link=link: setattr(link, "up", True))
        elif isinstance(f, DatabaseSlowdown):
            st = model.by_node[db_node(f.database)]
            add(f.start_s, "db_slowdown", st.name, f"slow x{f.factor:g}",
                lambda st=st, k=f.factor: setattr(st, "slow", k))
            add(end, "db_slowdown", st.name, "normal", lambda st=st: setattr(st, "slow", 1.0))
        elif isinstance(f, HubFailover):
            role = model.hub
            role.primary.on_failure = f.in_hub

            def fail(role=role) -> None:
                role.begin_switchover()
                role.primary.fail()

            add(f.start_s, "hub_failover", role.primary.name, f"down (in-hub messages: {f.in_hub})",
                fail)
            add(f.start_s + f.switchover_s, "hub_failover", role.backup.name, "active",
                lambda role=role: role.complete_switchover(role.backup))
            if f.failback_after_s is not None:
                def failback(role=role) -> None:
                    role.primary.repair()
                    role.complete_switchover(role.primary)

                add(f.start_s + f.switchover_s + f.failback_after_s, "hub_failover",
                    role.primary.name, "failback", failback)

    rnd = scenario.faults.random
    if rnd.msc_mtbf_hours is not None:
        rng = streams.fresh("faults")
        for st in model.stations:
            if st.kind != "msc":
                continue
            t = 0.0
            while True:
                t += rng.exponential(rnd.msc_mtbf_hours * 3600)
                if t >= horizon:
                    break
                repair = rng.exponential(rnd.msc_mttr_minutes * 60)
                add(t, "random_msc_outage", st.name, "down", st.fail)
                add(t + repair, "random_msc_outage", st.name, "up", st.repair)
                t += repair
    actions.sort(key=lambda a: a.time_s)
    return actions


def fault_process(env, actions: list[FaultAction]):
    """SimPy process applying the plan in time order."""
    for a in actions:
        if a.time_s > env.now:
            yield env.timeout(a.time_s - env.now)
        a.apply()
