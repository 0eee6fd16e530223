"""Network section of a scenario: switches, links, message sizes, faults."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.config.base import (
    NonNegFloat,
    NonNegInt,
    PositiveFloat,
    PositiveInt,
    Strict,
    check_database_names,
)

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
