"""Network section of a scenario: switches, links, message sizes, faults."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from sim.catalogue import KEY_NAMES
from sim.config.base import (
    FIELD_MARK,
    NonNegFloat,
    NonNegInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    Strict,
    assumed,
    check_database_names,
    check_names,
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
    """Circuits: latency and bandwidth of each link class (no public figures on CLETS circuits;
    per-leaf plausible ranges in sim.params.LEAF_RANGES)."""

    terminal_agency: Link = assumed(Link(latency_s=0.001, bandwidth_bps=100_000_000),
                                    "terminal to agency: a 100 Mbit/s local network, 1 ms")
    mdt_radio: RadioLink = assumed(RadioLink(latency_s=0.15, bandwidth_bps=256_000),
                                   "MDT radio gateway: 256 kbit/s, 150 ms, 2% frames lost")
    agency_msc: Link = assumed(Link(latency_s=0.005, bandwidth_bps=1_544_000),
                               "agency to county MSC: a T1 circuit (1.544 Mbit/s), 5 ms")
    msc_hub: Link = assumed(Link(latency_s=0.010, bandwidth_bps=10_000_000),
                            "county MSC to the DOJ hub: 10 Mbit/s, 10 ms")
    direct_hub: Link = assumed(Link(latency_s=0.005, bandwidth_bps=45_000_000),
                               "direct-connect agency to the hub: a T3 circuit (45 Mbit/s), 5 ms")
    hub_database: Link = assumed(Link(latency_s=0.002, bandwidth_bps=1_000_000_000),
                                 "hub to a database: 1 Gbit/s in the data centre, 2 ms")
    backup_extra_latency_s: NonNegFloat = assumed(
        0.015, "added to every hub link while the backup site is active", low=0.005, high=0.05)


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


class Resend(Strict):
    """Operator resends: after the response timeout with no complete answer, the terminal or
    MDT waits `delay_s` and sends the inquiry again, at most `max` times (0 = never)."""

    max: NonNegInt = assumed(0, "resends per inquiry after a timeout (0 = operators never resend)",
                             low=0, high=3, le=10)
    delay_s: NonNegFloat = assumed(
        5.0, "seconds from the timeout to the resend (operator reaction or terminal retry timer)",
        low=0.0, high=60.0)


class Network(Strict):
    hub: Switch = assumed(
        Switch(servers=8, service=ServiceTime(mean=0.030), buffer=10_000),
        "DOJ message switch: 8 processors, 30 ms mean service, 10,000 waiting places "
        "(no public figure on the hub's hardware)")
    backup_hub: Switch = assumed(
        Switch(servers=6, service=ServiceTime(mean=0.030), buffer=10_000),
        "backup site: 6 processors (smaller than the primary), otherwise as the hub")
    msc: MscSwitch = assumed(
        MscSwitch(servers=1, service=ServiceTime(mean=0.250), buffer=500,
                  population_per_server=1_000_000),
        "county MSC: one processor per million residents (at least one), 0.25 s mean service, "
        "500 waiting places (no public figure on MSC hardware; issue 13 varies them)")
    msc_overrides: dict[str, Switch] = assumed(
        None, "county name -> MSC switch replacing the default",
        "scenario: a named county's MSC (ranges as network.msc)", default_factory=dict)
    agency: Switch = assumed(Switch(servers=2, service=ServiceTime(mean=0.010), buffer=200),
                             "an agency's local switch or CAD interface: 2 processors, 10 ms")
    direct_agency: Switch = assumed(Switch(servers=4, service=ServiceTime(mean=0.010), buffer=1000),
                                    "a direct-connect agency's switch: 4 processors, 10 ms")
    databases: dict[str, Switch] = assumed(
        None, "the eight databases' switches (processors, mean service 80-400 ms, 2,000 places)",
        default_factory=_default_databases)
    links: Links = Links()
    inquiry_bytes: PositiveInt = assumed(400, "bytes of an inquiry", low=200, high=1000)
    response_bytes: PositiveInt = assumed(2500, "bytes of a response", low=1000, high=10000)
    admin_bytes: PositiveInt = assumed(1500, "bytes of an administrative message", low=500, high=5000)
    response_timeout_s: PositiveFloat = assumed(
        30.0, "a terminal stops waiting for an answer after this long", low=10, high=120)
    fan_out: bool = Field(
        default=False, description="an inquiry fans out at the hub to every database its message "
        "key touches (sim.catalogue.FAN_OUT); traffic.database_mix is then not used")
    key_mix: dict[str, NonNegFloat] | None = assumed(
        None, "with fan_out: message key -> weight of device inquiries; null = "
        "the journal's automated and full-access key mixes weighted by their volume (96.4% / 3.6%)",
        "scenario: an explicit key mix (the default is journal.queries.key_mix)")
    out_of_state_share: Probability = assumed(
        0.05, "with fan_out: share of person and vehicle inquiries about an out-of-state subject "
        "or plate (Nlets is asked too)", low=0.02, high=0.15)
    resend: Resend = Resend()

    @field_validator("key_mix")
    @classmethod
    def _known_keys(cls, v):
        return v if v is None else check_names(v, KEY_NAMES, "message key", weights=True)

    @model_validator(mode="after")
    def _fan_out_settings_need_fan_out(self):
        if not self.fan_out and self.key_mix is not None:
            raise ValueError("key_mix is used only with fan_out: true (set fan_out, or remove key_mix)")
        if not self.fan_out and self.out_of_state_share != 0.05:
            raise ValueError("out_of_state_share is used only with fan_out: true")
        return self

    @property
    def give_up_s(self) -> float:
        """How long after creating an inquiry its sender stops waiting: the timeout of each
        attempt plus the delay before each resend (= response_timeout_s without resends)."""
        r = self.resend
        return self.response_timeout_s * (r.max + 1) + r.delay_s * r.max

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


MIN_MTBF_HOURS = 0.01  # 36 s: below it a "failure process" is a typo (and a flood of events)
MIN_MTTR_MINUTES = 0.01  # 0.6 s
RANDOM_FAULT_KINDS = ("msc", "hub", "direct_connect", "mdt_gateway")
_MTBF = Annotated[float, Field(ge=MIN_MTBF_HOURS)]
_MTTR = Annotated[float, Field(ge=MIN_MTTR_MINUTES)]


class ComponentFaults(Strict):
    """One component's own failure process; what it leaves out is its kind's."""

    mtbf_hours: _MTBF | None = assumed(None, "mean time between failures, hours",
                                       "scenario: one component's own MTBF (range as its kind's)")
    mttr_minutes: _MTTR | None = assumed(None, "mean time to repair, minutes",
                                         "scenario: one component's own MTTR (range as its kind's)")


class _KindFaults(Strict):
    """Failure process of every component of one kind; `overrides` names single components."""

    in_runs: bool = Field(
        default=False, description="also draw these outages in message runs (clets run); "
        "clets availability always simulates every kind")
    overrides: dict[str, ComponentFaults] = Field(
        default_factory=dict, description="component name -> its own MTBF/MTTR")

    @property
    def availability(self) -> float:
        """Long-run share of time up: MTBF / (MTBF + MTTR) (renewal-reward)."""
        return self.mtbf_hours / (self.mtbf_hours + self.mttr_minutes / 60)

    def for_component(self, name: str) -> tuple[float, float]:
        """(mtbf_hours, mttr_minutes) of one component (its override, else the kind's)."""
        c = self.overrides.get(name)
        if c is None:
            return self.mtbf_hours, self.mttr_minutes
        return (self.mtbf_hours if c.mtbf_hours is None else c.mtbf_hours,
                self.mttr_minutes if c.mttr_minutes is None else c.mttr_minutes)


class MscFaults(_KindFaults):
    """County MSCs (overrides by county name)."""

    mtbf_hours: _MTBF = assumed(
        2190.0, "MSC mean time between failures, hours (about four outages a year)",
        low=720, high=8760)
    mttr_minutes: _MTTR = assumed(
        120.0, "MSC mean time to repair, minutes (county staff on call, restart or failover)",
        low=30, high=480)


class HubFaults(_KindFaults):
    """The primary DOJ hub site; an outage is a failover to the backup site (no overrides)."""

    mtbf_hours: _MTBF = assumed(
        8760.0, "primary hub mean time between failures, hours (about one a year)",
        low=2190, high=43800)
    mttr_minutes: _MTTR = assumed(
        240.0, "primary hub mean time to repair, minutes (then it fails back)", low=60, high=1440)
    switchover_s: NonNegFloat = assumed(
        120.0, "switch-over to the backup site, seconds (as a scheduled hub_failover)",
        low=30, high=900)
    in_hub: Literal["retry", "lose"] = Field(
        default="retry", description="messages inside the hub at failure: resent to the backup, or lost")

    @field_validator("overrides")
    @classmethod
    def _one_hub(cls, v):
        if v:
            raise ValueError("the hub is one component: set hub.mtbf_hours/mttr_minutes, no overrides")
        return v


class DirectConnectFaults(_KindFaults):
    """The circuit of each direct-connect agency to the hub (overrides by agency name or ORI)."""

    mtbf_hours: _MTBF = assumed(
        1460.0, "direct-connect circuit mean time between failures, hours (about six a year)",
        low=500, high=8760)
    mttr_minutes: _MTTR = assumed(
        240.0, "direct-connect circuit mean time to repair, minutes (carrier repair)",
        low=60, high=1440)


class MdtGatewayFaults(_KindFaults):
    """Each agency's MDT radio gateway: its MDTs lose CLETS while it is down (overrides by
    agency name or ORI)."""

    mtbf_hours: _MTBF = assumed(
        720.0, "MDT radio gateway mean time between failures, hours (about one a month)",
        low=168, high=4380)
    mttr_minutes: _MTTR = assumed(
        180.0, "MDT radio gateway mean time to repair, minutes", low=30, high=720)


def _legacy_number(data: dict, key: str):
    """A short-form value (msc_mtbf_hours, msc_mttr_minutes), checked as its field would be."""
    v = data.pop(key)
    if v is None:
        return None
    low = MIN_MTBF_HOURS if key == "msc_mtbf_hours" else MIN_MTTR_MINUTES
    if isinstance(v, str):  # as pydantic reads a number written as text (YAML reads 1e-9 so)
        try:
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{FIELD_MARK}{key} = {v!r}: must be a number")
    if not math.isfinite(v) or v < low:
        raise ValueError(f"{FIELD_MARK}{key} = {v!r}: must be a finite number >= {low:g}")
    return float(v)


class RandomFaults(Strict):
    """Random outages per kind of component: exponential up times (mean `mtbf_hours`) and
    repair times (mean `mttr_minutes`), one random stream per component. `clets availability`
    simulates them alone over years; with `in_runs` a kind's outages also act in message runs.

    The short form of earlier versions, ``msc_mtbf_hours`` (null = off) and ``msc_mttr_minutes``
    (default 30), still works: it means ``msc: {mtbf_hours, mttr_minutes, in_runs: true}``.
    """

    msc: MscFaults = MscFaults()
    hub: HubFaults = HubFaults()
    direct_connect: DirectConnectFaults = DirectConnectFaults()
    mdt_gateway: MdtGatewayFaults = MdtGatewayFaults()

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data):
        if not isinstance(data, dict) or not {"msc_mtbf_hours", "msc_mttr_minutes"} & set(data):
            return data
        data = dict(data)
        mtbf = _legacy_number(data, "msc_mtbf_hours") if "msc_mtbf_hours" in data else None
        mttr = _legacy_number(data, "msc_mttr_minutes") if "msc_mttr_minutes" in data else None
        if mtbf is None:
            return data  # as before: no MTBF, no random MSC outages
        short = {"mtbf_hours": mtbf, "mttr_minutes": 30.0 if mttr is None else mttr, "in_runs": True}
        msc = data.get("msc")
        if isinstance(msc, BaseModel):
            data["msc"] = msc.model_copy(update=short)
        else:
            data["msc"] = {**(msc if isinstance(msc, dict) else {}), **short}
        return data

    def kinds(self) -> dict[str, _KindFaults]:
        return {k: getattr(self, k) for k in RANDOM_FAULT_KINDS}

    @property
    def in_runs(self) -> list[str]:
        """The kinds whose random outages act in message runs."""
        return [k for k, v in self.kinds().items() if v.in_runs]


class Faults(Strict):
    on_failure: Literal["lose", "retry"] = Field(
        default="lose", description="messages queued or in service at an MSC that fails"
    )
    scheduled: list[Fault] = Field(default_factory=list)
    random: RandomFaults = RandomFaults()
