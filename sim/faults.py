"""Faults: scheduled and random outages applied to a running `CletsNetwork`.

A fault plan is resolved against the model before the run starts, so a fault that
names an unknown county, agency or database stops with a `ScenarioError` instead of
failing halfway through. Random outages (MSCs, the hub, direct-connect circuits, MDT
radio gateways) are drawn up front, one stream per component (exponential up and repair
times, `sim.availability`), which makes them reproducible and lets the plan be written out
with the results.
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

            def fail(role=role, in_hub=f.in_hub) -> None:
                role.primary.on_failure = in_hub  # a random hub outage may have set another
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

    plan_random_faults(model, scenario, streams, horizon, add)
    actions.sort(key=lambda a: a.time_s)
    return actions


def plan_random_faults(model, scenario: Scenario, streams: Streams, horizon: float, add) -> None:
    """Random outages of the kinds with ``in_runs`` (``faults.random``), one stream per component
    (`sim.availability`: the same outages `clets availability` simulates with this seed):

    * ``msc``: the MSC fails and is repaired (as ``msc_outage``);
    * ``hub``: the primary hub fails over to the backup site (as ``hub_failover`` with the hub's
      ``switchover_s`` and ``in_hub``) and fails back at the repair (a repair during the
      switch-over fails back at once);
    * ``direct_connect``: the agency's circuit to the hub goes down (as ``link_down``);
    * ``mdt_gateway``: the agency's MDT radio gateway goes down: its MDTs' messages are
      rejected (``link_down``), responses on their way back are lost.
    """
    from sim.availability import components, outage_intervals

    rnd = scenario.faults.random
    kinds = set(rnd.in_runs)
    if not kinds:
        return
    for c in components(scenario, model.graph):
        if c.kind not in kinds:
            continue
        starts, ends = outage_intervals(streams.fresh(c.stream), c.mtbf_hours * 3600,
                                        c.mttr_minutes * 60, horizon)
        if c.kind == "msc":
            st = model.by_node[c.node]
            for t, end in zip(starts.tolist(), ends.tolist()):
                add(t, "random_msc_outage", st.name, "down", st.fail)
                add(end, "random_msc_outage", st.name, "up", st.repair)
        elif c.kind == "hub":
            role, hub = model.hub, rnd.hub

            def fail(role=role, in_hub=hub.in_hub) -> None:
                role.primary.on_failure = in_hub
                role.begin_switchover()
                role.primary.fail()

            def failback(role=role) -> None:
                role.primary.repair()
                role.complete_switchover(role.primary)

            for t, end in zip(starts.tolist(), ends.tolist()):
                add(t, "hub_failover", role.primary.name,
                    f"down (random outage; in-hub messages: {hub.in_hub})", fail)
                if t + hub.switchover_s < end:
                    add(t + hub.switchover_s, "hub_failover", role.backup.name, "active",
                        lambda role=role: role.complete_switchover(role.backup))
                add(end, "hub_failover", role.primary.name, "failback", failback)
        else:
            link = model.link(c.node, HUB) if c.kind == "direct_connect" else model.mdt_gateways[c.node]
            fault = "random_link_down" if c.kind == "direct_connect" else "random_mdt_gateway_down"
            for t, end in zip(starts.tolist(), ends.tolist()):
                add(t, fault, link.name, "down", lambda link=link: setattr(link, "up", False))
                add(end, fault, link.name, "up", lambda link=link: setattr(link, "up", True))


def fault_process(env, actions: list[FaultAction]):
    """SimPy process applying the plan in time order."""
    for a in actions:
        if a.time_s > env.now:
            yield env.timeout(a.time_s - env.now)
        a.apply()


# ---------------------------------------------------------------------- windows and the twin


def has_faults(scenario: Scenario) -> bool:
    """True when the scenario schedules faults or draws random outages in message runs."""
    return bool(scenario.faults.scheduled) or bool(scenario.faults.random.in_runs)


def without_faults(scenario: Scenario) -> Scenario:
    """The same scenario with every fault removed (scheduled and random): the no-fault twin.

    Run with the same seed it has the same topology and the same arrivals (each has its own
    random stream), so the difference between the two runs is the faults' effect."""
    rnd = scenario.faults.random
    off = {k: v.model_copy(update={"in_runs": False}) for k, v in rnd.kinds().items()}
    faults = scenario.faults.model_copy(update={"scheduled": [], "random": rnd.model_copy(update=off)})
    return scenario.model_copy(update={"faults": faults})


_LABEL = {"msc_outage": "{target} down", "random_msc_outage": "{target} down (random outage)",
          "link_down": "{target} down", "db_slowdown": "{target} {action}",
          "random_link_down": "{target} down (random outage)",
          "random_mdt_gateway_down": "{target} down (random outage)"}


def fault_windows(actions: list[FaultAction], horizon: float) -> list[dict]:
    """The intervals during which a fault is in force, from the applied plan (time order).

    One window per outage, link failure or slowdown (``start_s`` to the repair, or to the
    horizon when the repair falls after it). A hub failover gives two: the switch-over
    (primary down, messages wait at their MSC) and the time on the backup site (to the
    failback, or the horizon)."""
    windows: list[dict] = []
    open_: dict[tuple[str, str], tuple[float, str, str]] = {}

    def close(key: tuple[str, str], t: float) -> None:
        if key in open_:
            start, target, label = open_.pop(key)
            windows.append(dict(fault=key[0], target=target, label=label, start_s=start,
                                end_s=min(t, horizon), until_horizon=t >= horizon))

    for a in actions:
        if a.fault == "hub_failover":
            if a.action.startswith("down"):
                close(("hub_failover", "backup"), a.time_s)
                open_.setdefault(("hub_failover", "switch-over"),
                                 (a.time_s, a.target, "hub switch-over (primary down)"))
            elif a.action == "active":
                close(("hub_failover", "switch-over"), a.time_s)
                open_[("hub_failover", "backup")] = (a.time_s, a.target, "on the backup hub")
            elif a.action == "failback":
                close(("hub_failover", "switch-over"), a.time_s)
                close(("hub_failover", "backup"), a.time_s)
        elif a.action in ("up", "normal"):
            close((a.fault, a.target), a.time_s)
        else:
            label = _LABEL.get(a.fault, "{target} {action}").format(target=a.target, action=a.action)
            open_.setdefault((a.fault, a.target), (a.time_s, a.target, label))
    for key in list(open_):
        close(key, horizon)
    windows.sort(key=lambda w: (w["start_s"], w["end_s"]))
    return windows
