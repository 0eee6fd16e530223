"""Every assumed parameter of a scenario: its value, default, source and plausible range.

`declared_parameters(scenario)` walks the scenario's models (sections, sub-models, dicts and
lists of them) and yields one `Param` per numeric leaf (int or float, never a boolean), named
by its dotted key (``network.msc.service.mean``, ``traffic.database_mix.DMV``). Where each
declaration comes from, in this order, and each of *source* and *range* from exactly one place:

1. the field's own metadata, `sim.config.base.assumed(default, description, source, low, high)`
   (``json_schema_extra``). On a dict or list field the range and source hold for each value.
2. `LEAVES` below, for leaves of classes shared by several sections (a `Switch` is the hub, an
   MSC, an agency switch and each database; a `Link` is every circuit; an `Incidents` is each
   misuse archetype), whose per-instance range cannot live on the class: dotted pattern ->
   (source or None, low, high).
3. the source of the nearest enclosing field declared with `assumed()` (``network.msc`` names
   the source of ``network.msc.service.mean``); never its range.

A leaf whose source and range would both come from two places is reported in
`Param.conflicts` (tests/test_params.py fails on it). `EXCLUDED` lists the numeric settings
that are not assumptions about the world (run controls, teaching and what-if levers,
scheduled events); they are yielded only with ``include_excluded=True``. docs/parameters.md.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from sim.config.base import _is_model, _numeric_only
from sim.config.scenario import Scenario

ASSUMPTION = "assumption"

# dotted pattern -> why it is not an assumed parameter ("*" = one key, "**" = any below)
EXCLUDED: dict[str, str] = {
    "seed": "run control: the root seed",
    "horizon.*": "run control: the simulated window (start hour, length, warm-up)",
    "journal.days": "run control: days of journal",
    "journal.sample_rate": "recording control: share of lawful rows written in sample mode",
    "oversight.years": "run control: calendar years reported",
    "oversight.days": "run control: days of journal in a teaching run",
    "oversight.warmup_days": "run control: days simulated before the start",
    "capacity.top_nodes": "output control: nodes plotted",
    "sweep.**": "experiment design: the sweep's grid, points and replications",
    "misuse.*.incidents": "teaching control: an exact number of incidents",
    "traffic.load_factor": "what-if lever: 1 = the calibrated traffic (clets capacity varies it)",
    "topology.devices.mdt_multiplier": "what-if lever: 1 = the calibrated MDT count",
    "faults.scheduled.**": "scheduled event: the analyst's fault plan, not an assumption",
    "oversight.audits.targeted.*.years.*": "scheduled event: calendar years of a targeted audit",
}


@dataclass(frozen=True)
class Leaf:
    """Per-leaf declaration for a leaf of a shared class (source None: the enclosing field's)."""

    low: float | None
    high: float | None
    source: str | None = None


def _switch(prefix: str, servers, mean, buffer) -> dict[str, Leaf]:
    """Ranges of one switch's leaves: servers, mean service (s), cv, waiting places."""
    return {f"{prefix}.servers": Leaf(*servers), f"{prefix}.service.mean": Leaf(*mean),
            f"{prefix}.service.cv": Leaf(0.5, 2.0), f"{prefix}.buffer": Leaf(*buffer)}


_MSC = {"servers": (1, 4), "mean": (0.1, 0.5), "buffer": (100, 2000)}
_DB_MEAN = {"DMV": (0.05, 0.3), "NCIC": (0.1, 0.5), "Nlets": (0.2, 0.8), "ACHS": (0.1, 0.6),
            "wanted_persons": (0.03, 0.2), "stolen_vehicles": (0.03, 0.2), "firearms": (0.05, 0.3),
            "restraining_orders": (0.05, 0.3)}
_LINKS = {"terminal_agency": ((0.0005, 0.005), (10e6, 1e9)), "mdt_radio": ((0.05, 0.5), (64e3, 2e6)),
          "agency_msc": ((0.002, 0.02), (0.5e6, 100e6)), "msc_hub": ((0.005, 0.03), (1.5e6, 1e9)),
          "direct_hub": ((0.002, 0.02), (1.5e6, 1e9)), "hub_database": ((0.0005, 0.01), (100e6, 10e9))}
_ARCHETYPE_RATE = {"lone_snooper": (1, 10), "misunderstood_rule": (1, 6), "mass_rule": (0.05, 1),
                   "serious_case": (2, 20), "credential_sharing": (4, 30), "curiosity_burst": (1, 6),
                   "data_for_hire": (0.5, 5)}
_FAULT_KIND = {"msc": ((720, 8760), (30, 480)), "direct_connect": ((500, 8760), (60, 1440)),
               "mdt_gateway": ((168, 4380), (30, 720))}

# dotted pattern -> (low, high, source or None); the one place for these leaves' ranges
LEAVES: dict[str, Leaf] = {
    **_switch("network.hub", (4, 16), (0.01, 0.1), (2000, 50000)),
    **_switch("network.backup_hub", (2, 12), (0.01, 0.1), (2000, 50000)),
    **_switch("network.msc", _MSC["servers"], _MSC["mean"], _MSC["buffer"]),
    "network.msc.population_per_server": Leaf(500_000, 2_000_000),
    **_switch("network.msc_overrides.*", _MSC["servers"], _MSC["mean"], _MSC["buffer"]),
    **_switch("network.agency", (1, 4), (0.005, 0.05), (50, 1000)),
    **_switch("network.direct_agency", (2, 8), (0.005, 0.05), (200, 5000)),
    "network.databases.*.servers": Leaf(2, 48),
    "network.databases.*.service.cv": Leaf(0.5, 2.0),
    "network.databases.*.buffer": Leaf(500, 10000),
    **{f"network.databases.{db}.service.mean": Leaf(*r) for db, r in _DB_MEAN.items()},
    **{f"network.links.{k}.latency_s": Leaf(*lat) for k, (lat, _) in _LINKS.items()},
    **{f"network.links.{k}.bandwidth_bps": Leaf(*bw) for k, (_, bw) in _LINKS.items()},
    "network.links.mdt_radio.loss_probability": Leaf(0.005, 0.1),
    "network.links.mdt_radio.max_retries": Leaf(1, 5),
    "network.links.mdt_radio.retry_timeout_s": Leaf(1.0, 5.0),
    "world.roles.full_access": Leaf(0.2, 0.5),
    "world.roles.less_than_full_access": Leaf(0.3, 0.6),
    "world.roles.practitioner": Leaf(0.05, 0.25),
    "world.roles.administrator": Leaf(0.02, 0.1),
    "journal.queries.per_shift.full_access": Leaf(1.5, 4.0),
    "journal.queries.per_shift.less_than_full_access": Leaf(1.2, 3.5),
    **{f"misuse.{a}.incidents_per_year": Leaf(*r) for a, r in _ARCHETYPE_RATE.items()},
    "misuse.serious_case.friend_share": Leaf(0.2, 0.8),
    **{f"faults.random.{k}.overrides.*.mtbf_hours": Leaf(*mtbf) for k, (mtbf, _) in _FAULT_KIND.items()},
    **{f"faults.random.{k}.overrides.*.mttr_minutes": Leaf(*mttr) for k, (_, mttr) in _FAULT_KIND.items()},
}


@dataclass(frozen=True)
class Param:
    name: str  # dotted key, as a sweep or `clets params` names it
    value: float | int | None
    default: float | int | None  # in a scenario with no settings (None: no such key there)
    source: str | None  # a named public source, or "assumption"
    low: float | None
    high: float | None
    description: str = ""
    excluded: str | None = None  # why it is not an assumed parameter (EXCLUDED)
    conflicts: tuple[str, ...] = field(default_factory=tuple)  # declared in two places

    @property
    def range(self) -> tuple[float, float] | None:
        return None if self.low is None else (self.low, self.high)

    @property
    def named_source(self) -> bool:
        """The source names a record (a public figure, a case, a calibration), not "assumption"
        or "assumption; ..." (an assumption, perhaps with a note on what anchors it)."""
        return self.source is not None and not self.source.startswith(ASSUMPTION)

    @property
    def declared(self) -> bool:
        return self.source is not None or self.low is not None

    @property
    def in_range(self) -> bool | None:
        """False when the value lies outside its plausible range (None: no range or no value)."""
        if self.low is None or self.value is None:
            return None
        return self.low <= self.value <= self.high


@functools.lru_cache(maxsize=None)
def _pattern(p: str) -> re.Pattern:
    parts = [".+" if s == "**" else "[^.]+" if s == "*" else re.escape(s) for s in p.split(".")]
    return re.compile(r"\.".join(parts) + r"\Z")


def _first_match(name: str, table: dict):
    return next((v for p, v in table.items() if _pattern(p).match(name)), None)


def matching(name: str, table: dict) -> list[str]:
    """The patterns of `table` that name `name`."""
    return [p for p in table if _pattern(p).match(name)]


def _shown_description(text: str | None) -> str:
    """The field's description without the "[source; plausible a-b]" tail `assumed` adds."""
    text = text or ""
    return re.sub(r"\s*\[[^\[\]]*\]\s*$", "", text)


def _walk(obj, name: str, info, meta: dict | None, inherited: str | None, out: list) -> None:
    """Leaves below `obj` (the value of field `info`, with its own metadata `meta`; `inherited`
    is the source of the nearest enclosing `assumed()` section)."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, BaseModel):
        if meta:
            inherited = meta.get("source", inherited)
        for key, sub in type(obj).model_fields.items():
            extra = sub.json_schema_extra if isinstance(sub.json_schema_extra, dict) else None
            _walk(getattr(obj, key), f"{name}.{key}" if name else key, sub, extra, inherited, out)
    elif isinstance(obj, dict):
        for key, v in obj.items():
            _walk(v, f"{name}.{key}", info, meta, inherited, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _walk(v, f"{name}.{i}", info, meta, inherited, out)
    elif isinstance(obj, (int, float)) or (
            obj is None and info is not None and _numeric_only(info.annotation)
            and not _is_model(info.annotation)):
        out.append((name, obj, info, meta, inherited))


def _leaves(scenario: Scenario) -> list:
    out: list = []
    _walk(scenario, "", None, None, None, out)
    return out


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, object]:
    return {name: value for name, value, *_ in _leaves(Scenario(name="defaults"))}


def declared_parameters(scenario: Scenario, include_excluded: bool = False) -> list[Param]:
    """Every numeric parameter of `scenario`, in the order of the config, with its source and
    plausible range (module docstring); run controls and levers only with include_excluded."""
    defaults = _defaults()
    params = []
    for name, value, info, meta, inherited in _leaves(scenario):
        excluded = _first_match(name, EXCLUDED)
        if excluded and not include_excluded:
            continue
        meta = meta or {}
        leaf = _first_match(name, LEAVES)
        conflicts = []
        if leaf is not None and leaf.source is not None and "source" in meta:
            conflicts.append("source in the field and in sim.params.LEAVES")
        if leaf is not None and leaf.low is not None and "range" in meta:
            conflicts.append("range in the field and in sim.params.LEAVES")
        if len(matching(name, LEAVES)) > 1:
            conflicts.append(f"several LEAVES patterns: {', '.join(matching(name, LEAVES))}")
        source = meta.get("source") or (leaf.source if leaf else None) or inherited
        low, high = meta["range"] if "range" in meta else (leaf.low, leaf.high) if leaf else (None, None)
        params.append(Param(name=name, value=value, default=defaults.get(name), source=source,
                            low=low, high=high,
                            description=_shown_description(info.description if info else ""),
                            excluded=excluded, conflicts=tuple(conflicts)))
    return params


def undeclared(params: list[Param]) -> list[Param]:
    """The assumed parameters with neither a source nor a range (tests/test_params.py)."""
    return [p for p in params if not p.excluded and not p.declared]
