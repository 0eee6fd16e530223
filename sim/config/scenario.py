"""The whole scenario, YAML loading and user-facing validation messages."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from sim.config.base import (
    FIELD_MARK,
    NonNegFloat,
    NonNegInt,
    PositiveFloat,
    PositiveInt,
    Strict,
    assumed,
)
from sim.config.journal import Journal, Misuse
from sim.config.network import Faults, Network
from sim.config.oversight import Oversight
from sim.config.topology import Topology
from sim.config.traffic import Traffic
from sim.config.world import World
from sim.errors import ScenarioError

# --------------------------------------------------------------------------- run


class Horizon(Strict):
    start_hour: Annotated[float, Field(ge=0, lt=24)] = Field(
        default=16.0, description="clock hour at simulated time 0 (the diurnal curve uses it)"
    )
    duration_s: Annotated[float, Field(ge=1.0)] = Field(3600.0, description="simulated seconds (at least 1)")
    warmup_s: NonNegFloat = 300.0

    @model_validator(mode="after")
    def _warmup_shorter(self) -> Horizon:
        if self.warmup_s >= self.duration_s:
            raise ValueError(
                f"warmup_s ({self.warmup_s}) must be shorter than duration_s ({self.duration_s})"
            )
        return self


class Capacity(Strict):
    target_p95_s: PositiveFloat = assumed(3.0, "end-to-end p95 response target of `clets capacity` "
                                          "(no published CLETS service level)", low=1.0, high=10.0)
    load_factors: str = Field(default="0.5:3:0.25", description="start:stop:step, stop included")
    top_nodes: PositiveInt = Field(default=5, description="nodes plotted (highest utilisation)")


class Outputs(Strict):
    dir: str = Field("results", min_length=1, max_length=1000, pattern=r"^[^\x00]*$",
                     description="folder for results (a run writes <dir>/<name>/<run id>)")
    messages: bool = Field(default=True, description="write per-message records (Parquet)")

    @field_validator("dir")
    @classmethod
    def _usable_folder_name(cls, v: str) -> str:
        if any(len(part) > 255 for part in v.split("/")):
            raise ValueError("a folder name in it is longer than 255 characters")
        return v
    case_viewer: bool = Field(
        default=False, description="oversight runs: write cases.html, the trainer's case viewer, and "
        "record what it needs (every rule not enabled run as shadow detection, not acted on)")


class Sweep(Strict):
    """A grid (every combination) and/or a list of points over dotted config keys."""

    grid: dict[str, list] = Field(default_factory=dict, description="dotted key -> values")
    points: list[dict[str, object]] = Field(default_factory=list, description="explicit override sets")
    replications: PositiveInt = 3
    baseline: dict[str, object] | None = Field(
        default=None, description="the point others are compared with (default: the first point)"
    )
    measures: list[str] = Field(default_factory=list, description="outputs to compare (default: all)")

    @model_validator(mode="after")
    def _not_empty(self) -> Sweep:
        if not self.grid and not self.points:
            raise ValueError("the sweep is empty: give a grid of values or a list of points")
        named = [("grid", key, values) for key, values in self.grid.items()]
        named += [(f"points.{i}", key, [1]) for i, p in enumerate(self.points) for key in p]
        for where, key, values in named:
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", key):
                raise ValueError(f"{FIELD_MARK}{where}: {shown_value(key)} is not a setting's dotted name "
                                 "(e.g. traffic.load_factor)")
            if not values:
                raise ValueError(f"grid key {key!r} has no values")
        return self


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # the calendar a run may use
TAIL_ROOM_DAYS = 3660  # room after the last year for the CAC's paperwork (tail_days is ~427)


class Scenario(Strict):
    # a folder name under outputs.dir: starts with a letter or digit, so never "." or ".."
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    description: str = ""
    model: Literal["network", "oversight", "both"] = Field(
        "network",
        description="what `clets run` simulates: the message path, the years of oversight, or both",
    )
    seed: NonNegInt | None = Field(default=None, description="root seed; null = draw one and record it")
    horizon: Horizon = Horizon()
    topology: Topology = Topology()
    network: Network = Network()
    traffic: Traffic = Traffic()
    world: World = World()
    journal: Journal = Journal()
    misuse: Misuse = Misuse()
    oversight: Oversight = Oversight()
    faults: Faults = Faults()
    capacity: Capacity = Capacity()
    outputs: Outputs = Outputs()
    sweep: Sweep | None = None

    @model_validator(mode="after")
    def _dates_in_calendar(self) -> Scenario:
        """Every simulated day lies in FIRST_DAY..LAST_DAY (a year-0 or year-10000 date would
        stop a run half-way; the limits on work are in sim.budget)."""
        start, o, j = self.journal.start_date, self.oversight, self.journal
        if not FIRST_DAY <= start <= LAST_DAY:
            raise ValueError(f"{FIELD_MARK}journal.start_date = {start}: must be between {FIRST_DAY} "
                             f"and {LAST_DAY}")
        if (start - FIRST_DAY).days < o.warmup_days:
            raise ValueError(f"{FIELD_MARK}oversight.warmup_days = {o.warmup_days}: the warm-up would "
                             f"start before {FIRST_DAY}")
        room = (LAST_DAY - start).days
        if o.days is not None and o.days > room:
            raise ValueError(f"{FIELD_MARK}oversight.days = {o.days}: the journal would run past {LAST_DAY}")
        if o.years * 366 + TAIL_ROOM_DAYS > room:
            raise ValueError(f"{FIELD_MARK}oversight.years = {o.years}: the years (and the CAC's "
                             f"paperwork after them) would run past {LAST_DAY}")
        if j.days > room:
            raise ValueError(f"{FIELD_MARK}journal.days = {j.days}: the journal would run past {LAST_DAY}")
        return self

    @model_validator(mode="after")
    def _nothing_ignored(self) -> Scenario:
        """A network setting that could have no effect is an error, not a silent no-op: an MSC
        override for a county outside topology.counties, or a fault that starts after the run
        ends (docs/limits.md). Oversight-only scenarios do not run the network: not checked."""
        if self.model == "oversight":
            return self
        end = self.horizon.duration_s
        for i, fault in enumerate(self.faults.scheduled):
            if fault.start_s >= end:
                raise ValueError(f"{FIELD_MARK}faults.scheduled.{i}.start_s = {fault.start_s:g}: at or "
                                 f"after the end of the run (horizon.duration_s = {end:g}); it would "
                                 "never happen")
        if self.topology.counties is not None:
            chosen = {c.strip().lower() for c in self.topology.counties}
            for county in self.network.msc_overrides:
                if county.strip().lower() not in chosen:
                    raise ValueError(f"{FIELD_MARK}network.msc_overrides.{county}: {county!r} is not in "
                                     "topology.counties; the override would be ignored")
        return self

    @model_validator(mode="after")
    def _journal_days_fit(self) -> Scenario:
        o = self.oversight
        if o.days is not None:
            start = self.journal.start_date
            end = date(start.year + o.years, 1, 1)
            if start + timedelta(days=o.days) > end:
                raise ValueError(f"oversight.days ({o.days}) runs past the reported years: from "
                                 f"{start} at most {(end - start).days} days fit in "
                                 f"oversight.years ({o.years})")
        return self


# --------------------------------------------------------------------------- loading


def shown_value(value, limit: int = 80) -> str:
    """A value for an error message, never longer than `limit` characters (reprlib keeps a
    shared, aliased structure from being expanded)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother = 2, 4, 4, 60, 60
    text = r.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid scenario"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        value = e.get("input")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key (value {shown_value(value)})")
        elif e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            ctx = e.get("ctx", {})
            key = str(ctx.get("discriminator", "kind")).strip("'")
            tag = ctx.get("tag")
            lines.append(f"  {loc}.{key}" + (f" = {shown_value(tag)}" if tag is not None else "")
                         + (f": expected one of {ctx['expected_tags']}"[:300] if ctx.get("expected_tags")
                            else f": {msg[:200]}"))
        elif e["type"] == "missing":
            lines.append(f"  {loc}: required field is missing")
        elif msg.startswith(FIELD_MARK):  # a section's validator naming one of its fields
            lines.append(f"  {'.'.join(filter(None, [loc, msg[len(FIELD_MARK):]]))}")
        else:
            shown = "{...}" if isinstance(value, dict) else shown_value(value)
            lines.append(f"  {loc} = {shown}: {msg[:300]}")
    return "\n".join(lines)


def parse_scenario(data: object, source: str | Path = "<scenario>") -> Scenario:
    """Validate an already-parsed mapping; raises ScenarioError with every problem listed."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of keys, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_validation_error(Path(str(source)), err)) from None


def load_scenario(path: str | Path, what: str = "scenario file") -> Scenario:
    """Read and validate a scenario YAML file (read strictly: `sim.config.reader`); `what`
    names it in messages (e.g. the command-line argument it came from)."""
    from sim.config.reader import load_yaml

    p = Path(path)
    return parse_scenario(load_yaml(p, what), p)


def parse_load_factors(spec: str, field: str = "load_factors") -> list[float]:
    """'0.5:3:0.25' -> [0.5, 0.75, ..., 3.0] (stop included); 'a,b,c' -> explicit list.
    Finite, positive, at most 1,000 points."""
    import math

    try:
        if ":" in spec:
            parts = [float(x) for x in spec.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0:
                raise ScenarioError(f"{field} = {spec!r}: step must be > 0")
            if not all(map(math.isfinite, parts)):
                raise ScenarioError(f"{field} = {spec!r}: start, stop and step must be finite numbers")
            n = int(round((stop - start) / step + 1e-9)) + 1 if stop >= start else 0
            if n > 1000:
                raise ScenarioError(f"{field} = {spec!r}: {n:,} load points; at most 1,000")
            values = [round(start + i * step, 10) for i in range(n)]
        else:
            values = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ScenarioError(
            f"{field} = {spec!r}: expected start:stop:step (e.g. 0.5:3:0.25) or a comma list"
        ) from None
    if not values:
        raise ScenarioError(f"{field} = {spec!r}: the range is empty")
    if len(values) > 1000:
        raise ScenarioError(f"{field} = {spec!r}: {len(values):,} load points; at most 1,000")
    bad = [v for v in values if not math.isfinite(v) or v <= 0]
    if bad:
        raise ScenarioError(f"{field} = {spec!r}: load factors must be finite and > 0 (got {bad[0]})")
    return values
