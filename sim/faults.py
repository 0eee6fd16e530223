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


# ---------------------------------------------------------------------- windows and the twin


def has_faults(scenario: Scenario) -> bool:
    """True when the scenario schedules faults or draws random MSC outages."""
    return bool(scenario.faults.scheduled) or scenario.faults.random.msc_mtbf_hours is not None


def without_faults(scenario: Scenario) -> Scenario:
    """The same scenario with every fault removed (scheduled and random): the no-fault twin.

    Run with the same seed it has the same topology and the same arrivals (each has its own
    random stream), so the difference between the two runs is the faults' effect."""
    faults = scenario.faults.model_copy(update={
        "scheduled": [],
        "random": scenario.faults.random.model_copy(update={"msc_mtbf_hours": None})})
    return scenario.model_copy(update={"faults": faults})


_LABEL = {"msc_outage": "{target} down", "random_msc_outage": "{target} down (random outage)",
          "link_down": "{target} down", "db_slowdown": "{target} {action}"}


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
