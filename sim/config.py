"""Scenario configuration: pydantic models loaded from YAML.

Every field is validated and unknown keys are errors (a typo must never be
silently ignored). All times are in seconds unless the field name says
otherwise; rates are per hour because that is how operators think about
terminal traffic. `load_scenario` turns every user mistake into one
`ScenarioError` naming the file, the field and the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.errors import ScenarioError

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]

DATABASES = (
    "DMV",
    "NCIC",
    "Nlets",
    "ACHS",
    "wanted_persons",
    "stolen_vehicles",
    "firearms",
    "restraining_orders",
)


def check_database_names(names) -> None:
    """Every name must be one of the eight CLETS databases."""
    unknown = sorted(set(names) - set(DATABASES))
    if unknown:
        raise ValueError(f"unknown database {unknown[0]!r}; known: {', '.join(DATABASES)}")


class Strict(BaseModel):
    """Base: unknown keys are errors, values are validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- service


class ServiceTime(Strict):
    """A service-time distribution; knows its mean and variance (Ciw-style)."""

    dist: Literal["exponential", "deterministic", "lognormal", "gamma"] = "exponential"
    mean: PositiveFloat = Field(description="mean service time, seconds")
    cv: NonNegFloat = Field(
        default=1.0,
        description="coefficient of variation (lognormal, gamma); ignored by exponential (1) "
        "and deterministic (0)",
    )

    @model_validator(mode="after")
    def _cv_fits_dist(self) -> ServiceTime:
        if self.dist in ("lognormal", "gamma") and self.cv <= 0:
            raise ValueError(f"cv must be > 0 for a {self.dist} distribution (got {self.cv})")
        return self

    @property
    def variance(self) -> float:
        if self.dist == "exponential":
            return self.mean**2
        if self.dist == "deterministic":
            return 0.0
        return (self.cv * self.mean) ** 2


class Switch(Strict):
    """A store-and-forward switch: `servers` parallel processors, FIFO queue of `buffer` places."""

    servers: PositiveInt = 1
    service: ServiceTime
    buffer: NonNegInt | None = Field(
        default=None, description="waiting places (not counting those in service); null = unlimited"
    )


class MscSwitch(Switch):
    """County MSC: servers scale with county population (one per `population_per_server`)."""

    population_per_server: PositiveFloat | None = Field(
        default=None,
        description="if set, servers = max(servers, ceil(population / population_per_server))",
    )


class Link(Strict):
    latency_s: NonNegFloat = 0.002
    bandwidth_bps: PositiveFloat = 10_000_000


class RadioLink(Link):
    """MDT radio gateway: slower and lossy; a lost frame is retried after `retry_timeout_s`."""

    loss_probability: Annotated[float, Field(ge=0, lt=1)] = 0.02
    max_retries: NonNegInt = 3
    retry_timeout_s: NonNegFloat = 2.0


class Links(Strict):
    terminal_agency: Link = Link(latency_s=0.001, bandwidth_bps=100_000_000)
    mdt_radio: RadioLink = RadioLink(latency_s=0.15, bandwidth_bps=256_000)
    agency_msc: Link = Link(latency_s=0.005, bandwidth_bps=1_544_000)
    msc_hub: Link = Link(latency_s=0.010, bandwidth_bps=10_000_000)
    direct_hub: Link = Link(latency_s=0.005, bandwidth_bps=45_000_000)
    hub_database: Link = Link(latency_s=0.002, bandwidth_bps=1_000_000_000)
    backup_extra_latency_s: NonNegFloat = Field(
        default=0.015, description="added to every hub link while the backup site is active"
    )


def _default_databases() -> dict[str, Switch]:
    ms = {
        "DMV": (24, 0.120),
        "NCIC": (16, 0.250),
        "Nlets": (8, 0.400),
        "ACHS": (8, 0.300),
        "wanted_persons": (8, 0.080),
        "stolen_vehicles": (8, 0.080),
        "firearms": (4, 0.150),
        "restraining_orders": (4, 0.100),
    }
    return {
        k: Switch(servers=s, service=ServiceTime(mean=m), buffer=2000) for k, (s, m) in ms.items()
    }


class Network(Strict):
    hub: Switch = Switch(servers=8, service=ServiceTime(mean=0.030), buffer=10_000)
    backup_hub: Switch = Switch(servers=6, service=ServiceTime(mean=0.030), buffer=10_000)
    msc: MscSwitch = MscSwitch(
        servers=1,
        service=ServiceTime(mean=0.250),
        buffer=500,
        population_per_server=1_000_000,
    )
    msc_overrides: dict[str, Switch] = Field(
        default_factory=dict, description="county name -> MSC switch replacing the default"
    )
    agency: Switch = Switch(servers=2, service=ServiceTime(mean=0.010), buffer=200)
    direct_agency: Switch = Switch(servers=4, service=ServiceTime(mean=0.010), buffer=1000)
    databases: dict[str, Switch] = Field(default_factory=_default_databases)
    links: Links = Links()
    inquiry_bytes: PositiveInt = 400
    response_bytes: PositiveInt = 2500
    admin_bytes: PositiveInt = 1500
    response_timeout_s: PositiveFloat = 30.0

    @field_validator("databases", mode="before")
    @classmethod
    def _databases_over_defaults(cls, v):
        """A scenario names only the databases it changes; the others keep their defaults."""
        if not isinstance(v, dict):
            return v
        check_database_names(v)
        return {**_default_databases(), **v}


# --------------------------------------------------------------------------- topology


class Agencies(Strict):
    """How many agencies (ORIs) each county gets; calibrated to ~1,000-1,200 statewide."""

    city_pd_coefficient: NonNegFloat = Field(
        default=1.25, description="city police departments = round(coef * (pop/100k) ** exponent)"
    )
    city_pd_exponent: Annotated[float, Field(gt=0, le=1.5)] = 0.85
    other_local_per_100k: NonNegFloat = Field(
        default=1.0,
        description="school/transit/airport/park/university police, coroners, marshals... per 100k",
    )
    chp_area_offices: NonNegInt = Field(default=103, description="spread over counties by population")
    courts_per_county: NonNegInt = 1
    direct_connect: list[str] = Field(
        default_factory=lambda: [
            "CHP Headquarters",
            "CA DOJ Bureau of Investigation",
            "CA DOJ Bureau of Firearms",
            "CDCR Parole",
            "CDCR Office of Correctional Safety",
            "DMV Investigations",
            "CA Fish and Wildlife",
            "CA State Parks",
            "CA Lottery Security",
            "Franchise Tax Board Investigations",
            "FBI",
            "DHS ICE Enforcement and Removal Operations",
            "DHS ICE Homeland Security Investigations",
            "DHS Customs and Border Protection",
            "DHS US Secret Service",
            "DHS Federal Protective Service",
            "ATF",
            "DEA",
            "US Marshals Service",
            "US Postal Inspection Service",
        ]
    )


class Devices(Strict):
    """Terminals and MDTs, allocated to agencies by their share of county population."""

    terminals_per_10k: NonNegFloat = Field(default=4.0, description="fixed terminals per 10k residents")
    mdts_per_10k: NonNegFloat = Field(default=5.5, description="mobile data terminals per 10k residents")
    mdt_multiplier: NonNegFloat = Field(default=1.0, description="scale MDT counts (2.0 = MDTs doubled)")
    direct_connect_terminals: NonNegInt = 60
    direct_connect_mdts: NonNegInt = 0
    chp_hq_mdts: NonNegInt = 2500
    min_terminals_per_agency: PositiveInt = 1


class Topology(Strict):
    counties: list[str] | None = Field(
        default=None, description="restrict to these counties (names from counties.csv); null = all 58"
    )
    agencies: Agencies = Agencies()
    devices: Devices = Devices()


# --------------------------------------------------------------------------- traffic


class Diurnal(Strict):
    """Hour-of-day shape of traffic, mean 1 over the day.

    Either a cosine with its maximum at `peak_hour`, or 24 explicit `hourly_weights`
    (normalised to mean 1).
    """

    peak_hour: Annotated[int, Field(ge=0, le=23)] = 16
    amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.6
    hourly_weights: list[NonNegFloat] | None = None

    @field_validator("hourly_weights")
    @classmethod
    def _24_weights(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if len(v) != 24:
                raise ValueError(f"needs 24 values, one per hour (got {len(v)})")
            if sum(v) <= 0:
                raise ValueError("at least one weight must be > 0")
        return v


class Traffic(Strict):
    terminal_rate_per_hour: PositiveFloat = Field(
        default=4.4, description="day-average queries per fixed terminal per hour"
    )
    mdt_rate_per_hour: PositiveFloat = Field(
        default=1.9, description="day-average queries per MDT per hour"
    )
    load_factor: PositiveFloat = 1.0
    diurnal: Diurnal = Diurnal()
    database_mix: dict[str, NonNegFloat] = Field(
        default_factory=lambda: {
            "DMV": 0.42,
            "NCIC": 0.16,
            "Nlets": 0.04,
            "ACHS": 0.08,
            "wanted_persons": 0.12,
            "stolen_vehicles": 0.10,
            "firearms": 0.03,
            "restraining_orders": 0.05,
        }
    )
    admin_fraction: Probability = Field(
        default=0.03, description="share of messages that are agency-to-agency administrative traffic"
    )

    @field_validator("database_mix")
    @classmethod
    def _mix_ok(cls, v: dict[str, float]) -> dict[str, float]:
        check_database_names(v)
        if sum(v.values()) <= 0:
            raise ValueError("at least one database share must be > 0")
        return v


# --------------------------------------------------------------------------- faults


class MscOutage(Strict):
    kind: Literal["msc_outage"]
    county: str
    start_s: NonNegFloat
    duration_s: PositiveFloat


class LinkDown(Strict):
    """The link between a county MSC and the hub (or an agency and its MSC) goes down."""

    kind: Literal["link_down"]
    county: str
    agency: str | None = Field(default=None, description="agency name; null = the county's MSC-hub link")
    start_s: NonNegFloat
    duration_s: PositiveFloat


class HubFailover(Strict):
    kind: Literal["hub_failover"]
    start_s: NonNegFloat
    switchover_s: NonNegFloat = 120.0
    in_hub: Literal["retry", "lose"] = Field(
        default="retry", description="messages inside the hub at failure: resent to the backup, or lost"
    )
    failback_after_s: PositiveFloat | None = Field(
        default=None, description="return to the primary after this long; null = stay on backup"
    )


class DatabaseSlowdown(Strict):
    kind: Literal["db_slowdown"]
    database: str
    factor: Annotated[float, Field(gt=0)] = 3.0
    start_s: NonNegFloat
    duration_s: PositiveFloat

    @field_validator("database")
    @classmethod
    def _known(cls, v: str) -> str:
        check_database_names([v])
        return v


Fault = Annotated[MscOutage | LinkDown | HubFailover | DatabaseSlowdown, Field(discriminator="kind")]


class RandomFaults(Strict):
    """Random MSC outages: exponential time between failures and repair times per MSC."""

    msc_mtbf_hours: PositiveFloat | None = None
    msc_mttr_minutes: PositiveFloat = 30.0


class Faults(Strict):
    on_failure: Literal["lose", "retry"] = Field(
        default="lose", description="messages queued or in service at an MSC that fails"
    )
    scheduled: list[Fault] = Field(default_factory=list)
    random: RandomFaults = RandomFaults()


# --------------------------------------------------------------------------- run


class Horizon(Strict):
    start_hour: Annotated[float, Field(ge=0, lt=24)] = Field(
        default=16.0, description="clock hour at simulated time 0 (the diurnal curve uses it)"
    )
    duration_s: PositiveFloat = 3600.0
    warmup_s: NonNegFloat = 300.0

    @model_validator(mode="after")
    def _warmup_shorter(self) -> Horizon:
        if self.warmup_s >= self.duration_s:
            raise ValueError(
                f"warmup_s ({self.warmup_s}) must be shorter than duration_s ({self.duration_s})"
            )
        return self


class Capacity(Strict):
    target_p95_s: PositiveFloat = Field(default=3.0, description="end-to-end p95 response target")
    load_factors: str = Field(default="0.5:3:0.25", description="start:stop:step, stop included")
    top_nodes: PositiveInt = Field(default=5, description="nodes plotted (highest utilisation)")


class Outputs(Strict):
    dir: str = "results"
    messages: bool = Field(default=True, description="write per-message records (Parquet)")


class Scenario(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: NonNegInt | None = Field(default=None, description="root seed; null = draw one and record it")
    horizon: Horizon = Horizon()
    topology: Topology = Topology()
    network: Network = Network()
    traffic: Traffic = Traffic()
    faults: Faults = Faults()
    capacity: Capacity = Capacity()
    outputs: Outputs = Outputs()


# --------------------------------------------------------------------------- loading


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid scenario"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        value = e.get("input")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key (value {value!r})")
        elif e["type"] == "missing":
            lines.append(f"  {loc}: required field is missing")
        else:
            shown = "{...}" if isinstance(value, dict) else repr(value)
            lines.append(f"  {loc} = {shown}: {msg}")
    return "\n".join(lines)


def parse_scenario(data: object, source: str | Path = "<scenario>") -> Scenario:
    """Validate an already-parsed mapping; raises ScenarioError with every problem listed."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of keys, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_validation_error(Path(str(source)), err)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError(f"scenario file not found: {p}")
    if p.is_dir():
        raise ScenarioError(f"scenario path is a directory, not a YAML file: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError(f"{p}: not valid YAML{where}: {problem}") from None
    return parse_scenario(data, p)


def parse_load_factors(spec: str, field: str = "load_factors") -> list[float]:
    """'0.5:3:0.25' -> [0.5, 0.75, ..., 3.0] (stop included); 'a,b,c' -> explicit list."""
    try:
        if ":" in spec:
            parts = [float(x) for x in spec.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0:
                raise ScenarioError(f"{field} = {spec!r}: step must be > 0")
            n = int(round((stop - start) / step + 1e-9)) + 1 if stop >= start else 0
            values = [round(start + i * step, 10) for i in range(n)]
        else:
            values = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ScenarioError(
            f"{field} = {spec!r}: expected start:stop:step (e.g. 0.5:3:0.25) or a comma list"
        ) from None
    if not values:
        raise ScenarioError(f"{field} = {spec!r}: the range is empty")
    bad = [v for v in values if v <= 0]
    if bad:
        raise ScenarioError(f"{field} = {spec!r}: load factors must be > 0 (got {bad[0]})")
    return values
