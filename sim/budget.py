"""How big a command is, estimated from the validated scenario before anything is allocated.

A scenario can be valid field by field and still ask for 10^12 subjects or a billion days.
`estimate` turns the settings into counts (devices, subjects, operators, days, journal rows,
misuse lookups, messages) with the same formulas the builders use, in floating point so an
absurd setting cannot overflow, and into a peak-memory figure per run. `check` refuses:

- anything over a documented limit (`LIMITS`, docs/limits.md), naming the setting that drives
  it; `--force` passes these limits, which exist to catch typos, not to protect the machine;
- anything whose memory (per run x the runs in flight at once) exceeds what this machine has
  available; never overridable: a run that cannot fit is killed half-way.

The memory model is linear in the counts, with coefficients measured on this code
(docs/limits.md gives the measurements and how far off the estimate was).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields

from sim.config import Scenario
from sim.errors import ScenarioError

# documented limits (docs/limits.md); `--force` passes them
LIMITS = {
    "devices": 1_000_000,         # statewide default ~38,000 terminals and MDTs
    "subjects": 100_000_000,      # statewide default 5.0 million
    "operators": 2_000_000,       # statewide default ~85,000
    "simulated_days": 36_600,     # a century
    "misuse_lookups": 50_000_000,  # default ~60,000 a statewide year (an upper-end estimate)
    "messages": 200_000_000,      # a statewide peak hour: ~0.2 million
    "journal_rows": 5_000_000_000,  # rows generated (a statewide year in full mode: ~1.0 billion)
    "runs": 100_000,              # runs of one command (points x replications x load factors)
}

# the settings that drive each quantity (the message names the one furthest above its default)
DRIVERS = {
    "devices": ("topology.counties", "topology.devices.terminals_per_10k", "topology.devices.mdts_per_10k",
                "topology.devices.mdt_multiplier", "topology.devices.direct_connect_terminals",
                "topology.devices.direct_connect_mdts", "topology.devices.min_terminals_per_agency",
                "topology.agencies.city_pd_coefficient", "topology.agencies.other_local_per_100k",
                "topology.agencies.courts_per_county", "topology.agencies.chp_area_offices"),
    "subjects": ("world.min_subjects_per_county", "world.subjects_per_resident", "topology.counties"),
    "operators": ("world.operators_per_device", "topology.devices.terminals_per_10k",
                  "topology.devices.mdts_per_10k", "topology.devices.mdt_multiplier",
                  "topology.devices.direct_connect_terminals", "topology.devices.direct_connect_mdts"),
    "simulated_days": ("oversight.years", "oversight.warmup_days", "oversight.days", "journal.days",
                       "horizon.duration_s"),
    "journal_rows": ("journal.days", "oversight.years", "misuse.prevalence_scale",
                     "journal.queries.automated_per_device_day",
                     "journal.queries.per_shift", "world.operators_per_device",
                     "topology.devices.terminals_per_10k", "topology.devices.mdts_per_10k"),
    "misuse_lookups": ("misuse.prevalence_scale", "misuse.occasional.user_share",
                       "misuse.occasional.lookups_per_year", "misuse.occasional.incidents",
                       *(f"misuse.{a}.{f}" for a in ("lone_snooper", "misunderstood_rule", "mass_rule",
                                                     "serious_case", "credential_sharing",
                                                     "curiosity_burst", "data_for_hire")
                         for f in ("incidents_per_year", "incidents", "lookups")),
                       "misuse.agency_purpose.lookups_per_agency_day", "oversight.years",
                       "world.operators_per_device"),
    "messages": ("horizon.duration_s", "traffic.load_factor", "traffic.terminal_rate_per_hour",
                 "traffic.mdt_rate_per_hour", "topology.devices.terminals_per_10k",
                 "topology.devices.mdts_per_10k", "topology.devices.mdt_multiplier"),
}

# peak memory of one run: a base plus bytes per counted thing (measured, docs/limits.md)
BASE_BYTES = 300e6            # interpreter, numpy/pandas/pyarrow/simpy, the county table
BYTES_PER_SUBJECT = 100       # the world's subject columns and their build temporaries
BYTES_PER_OPERATOR = 2_000    # operators, their relations and per-operator oversight state
BYTES_PER_DEVICE = 6_000      # a device's nodes and edges in the networkx graph
BYTES_PER_DAY_ROW = 60        # one day's journal rows in memory at once (generation, detection)
BYTES_PER_KEPT_ROW = 80       # journal rows kept for the run (misuse and sampled lawful rows)
BYTES_PER_MESSAGE = 700       # a message's record, its SimPy process while in flight, its result row
BYTES_PER_ALERT = 250        # an alert's row while the queue is kept and when the table is built
# alerts per human journal row of each rule alone (measured: Yolo County, 60 days, seed 1;
# docs/limits.md), times 1.3 as a margin (statewide every rule on: 0.134 measured, 0.139 here)
ALERT_SHARE = {
    "surname_or_address": 0.0014, "known_relation": 0.0001, "high_profile": 0.0004,
    "achs_without_case": 0.0031, "achs_noncriminal_purpose": 0.00001,
    "out_of_county_no_case": 0.00001, "off_shift": 0.025, "lapsed_certification": 0.0765,
    "volume_spike": 0.00002, "repeated_subject": 0.00002, "anomaly": 0.0001, "random_audit": 0.0004,
}
ALERT_MARGIN = 1.3
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Estimate:
    """Counts of one run of a scenario, and its peak memory (floats: absurd inputs stay finite)."""

    counties: int
    agencies: float
    devices: float
    subjects: float
    operators: float
    simulated_days: float
    journal_rows: float
    misuse_lookups: float
    messages: float
    memory_bytes: float

    def rows(self) -> list[tuple[str, float]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


def _agencies_and_devices(s: Scenario) -> tuple[float, float, float, float]:
    """(agencies, terminals, mdts, population) over the chosen counties, as the builder makes them."""
    from topology.builder import select_counties

    ag, dev = s.topology.agencies, s.topology.devices
    agencies = terminals = mdts = population = 0.0
    counties = select_counties(s.topology)
    total = sum(c.population for c in counties) or 1
    for c in counties:
        units = c.population / 100_000
        chp = ag.chp_area_offices * c.population / total  # the builder spreads them by population
        n = 3 + ag.courts_per_county + round(ag.city_pd_coefficient * units ** ag.city_pd_exponent) \
            + round(ag.other_local_per_100k * units) + chp
        agencies += n
        terminals += max(c.population / 10_000 * dev.terminals_per_10k, n * dev.min_terminals_per_agency)
        mdts += c.population / 10_000 * dev.mdts_per_10k * dev.mdt_multiplier
        population += c.population
    agencies += len(ag.direct_connect)
    terminals += len(ag.direct_connect) * dev.direct_connect_terminals
    mdts += len(ag.direct_connect) * dev.direct_connect_mdts
    return agencies, terminals, mdts, population


def _misuse_lookups(s: Scenario, years: float, operators: float) -> float:
    """Expected misuse lookups over `years` (incidents x mean lookups x actors; occasional users)."""
    m = s.misuse
    total = 0.0
    for name in ("lone_snooper", "misunderstood_rule", "mass_rule", "serious_case",
                 "credential_sharing", "curiosity_burst", "data_for_hire"):
        a = getattr(m, name)
        incidents = a.incidents if a.incidents is not None else a.incidents_per_year * years
        total += incidents * (a.lookups.min + a.lookups.max) / 2
    occ = m.occasional
    users = occ.incidents if occ.incidents is not None else occ.user_share * operators
    total += users * (1 + occ.lookups_per_year * years) * math.exp(min(occ.heavy_tail_sigma ** 2 / 2, 700))
    ap = m.agency_purpose
    if ap.agencies == "dhs":
        total += ap.lookups_per_agency_day * 5 * years * DAYS_PER_YEAR
    return total * m.prevalence_scale


def _alert_share(s: Scenario) -> float:
    """Alerts per human journal row of the enabled detection (every alert is kept for the run)."""
    d = s.oversight.detection
    names = list(d.rules.enabled) + (["anomaly"] if d.anomaly.enabled else [])
    share = sum(ALERT_SHARE.get(n, max(ALERT_SHARE.values())) for n in names)
    share += ALERT_SHARE["random_audit"] / 0.001 * d.random_audit_rate
    return share * ALERT_MARGIN


def estimate(s: Scenario, journal_days: int | None = None) -> Estimate:
    """The counts and peak memory of one run of `s` (`journal_days`: `clets journal --days`)."""
    agencies, terminals, mdts, population = _agencies_and_devices(s)
    devices = terminals + mdts
    w = s.world
    n_counties = len(s.topology.counties) if s.topology.counties is not None else 58
    subjects = max(w.min_subjects_per_county * n_counties, population * w.subjects_per_resident)
    operators = agencies + devices * w.operators_per_device
    q = s.journal.queries
    per_shift = max(q.per_shift.values(), default=0.0) * max(q.agency_factor.values(), default=1.0)
    # four ten-hour shifts a week, at the busiest weekday and agency type (an upper bound)
    human_per_day = operators * per_shift * 4 / 7 * max(q.weekly)
    automated_per_day = devices * q.automated_per_device_day
    days = messages = rows = lookups = 0.0
    oversight_memory = network_memory = 0.0
    if s.model in ("oversight", "both") or journal_days is not None:
        if journal_days is not None:
            days = float(journal_days)
        else:
            o = s.oversight
            days = o.warmup_days + (o.days if o.days is not None else o.years * DAYS_PER_YEAR)
        lookups = _misuse_lookups(s, days / DAYS_PER_YEAR, operators)
        automated = automated_per_day if (journal_days is not None
                                          or s.oversight.automated_rows == "rows") else 0.0
        rows = days * (human_per_day + automated) + lookups
        kept = lookups + days * human_per_day * (s.journal.sample_rate if s.journal.mode == "sample" else 1.0)
        alerts = days * human_per_day * _alert_share(s) if journal_days is None else 0.0
        oversight_memory = (subjects * BYTES_PER_SUBJECT + operators * BYTES_PER_OPERATOR
                            + (human_per_day + automated) * BYTES_PER_DAY_ROW + kept * BYTES_PER_KEPT_ROW
                            + alerts * BYTES_PER_ALERT)
    if s.model in ("network", "both") and journal_days is None:
        t = s.traffic
        rate = (terminals * t.terminal_rate_per_hour + mdts * t.mdt_rate_per_hour) * t.load_factor
        peak = 1 + s.traffic.diurnal.amplitude
        messages = rate * peak * (1 + t.admin_fraction) * s.horizon.duration_s / 3600
        days = max(days, s.horizon.duration_s / 86_400)
        network_memory = devices * BYTES_PER_DEVICE + messages * BYTES_PER_MESSAGE
        if t.source == "journal":  # the journal generator's world and rows feed the network
            network_memory += subjects * BYTES_PER_SUBJECT + operators * BYTES_PER_OPERATOR
    # model: both runs the network and then the oversight years, one after the other
    memory = BASE_BYTES + max(oversight_memory, network_memory)
    return Estimate(counties=n_counties, agencies=agencies, devices=devices, subjects=subjects,
                    operators=operators, simulated_days=days, journal_rows=rows,
                    misuse_lookups=lookups, messages=messages, memory_bytes=memory)


# --------------------------------------------------------------------------- refusing


UNITS = {"devices": "terminals and MDTs", "subjects": "subjects (people in the world)",
         "operators": "operators", "simulated_days": "simulated days", "journal_rows": "journal rows",
         "misuse_lookups": "misuse lookups", "messages": "messages", "runs": "runs"}


def available_memory() -> float:
    """Bytes this process can still use: the machine's available memory, or the cgroup's
    remaining allowance when a container limit is lower."""
    import psutil

    avail = float(psutil.virtual_memory().available)
    try:
        from pathlib import Path

        cg = Path("/sys/fs/cgroup")
        limit = (cg / "memory.max").read_text().strip()
        if limit.isdigit():
            used = int((cg / "memory.current").read_text().strip())
            avail = min(avail, float(int(limit) - used))
    except (OSError, ValueError):
        pass
    return avail


def _value_at(model, dotted: str):
    obj = model
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj


def _magnitude(value) -> float | None:
    """A number to compare a setting with its default: ranges by their max, mixes by their max."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        nums = [v for v in value.values() if isinstance(v, (int, float))]
        return float(max(nums)) if nums else None
    if isinstance(value, list):
        return float(len(value))
    if hasattr(value, "max") and isinstance(value.max, (int, float)):
        return float(value.max)
    return None


@functools.lru_cache(maxsize=1)
def _defaults() -> Scenario:
    return Scenario(name="defaults")


def driver(s: Scenario, quantity: str) -> str:
    """`field = value` of the setting most above its default among those driving `quantity`."""
    from sim.config.scenario import shown_value

    best, best_ratio = None, 1.0
    for dotted in DRIVERS.get(quantity, ()):
        if dotted == "topology.counties":
            continue  # fewer counties than the default; never the cause of a big estimate
        now, default = _magnitude(_value_at(s, dotted)), _magnitude(_value_at(_defaults(), dotted))
        if now is None:
            continue
        ratio = now / default if default else now  # no default (None, 0): measured against 1
        if ratio > best_ratio:
            best, best_ratio = dotted, ratio
    if best is None:  # nothing above its default: name the first setting that drives it
        best = next(d for d in DRIVERS[quantity] if d != "topology.counties")
    return f"{best} = {shown_value(_value_at(s, best))}"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value < 1e15 else f"{value:.3g}"


def check(s: Scenario, *, runs: int = 1, parallel: int = 1, force: bool = False,
          journal_days: int | None = None, local: bool = True, flags: dict | None = None) -> Estimate:
    """Refuse a command whose estimate is over a documented limit (unless `force`) or over this
    machine's memory (`parallel` runs at once; never overridable). Returns the estimate.

    `flags` maps a quantity to the command-line flag that drives it (e.g. --days), named first.
    `local=False` (a remote Dask scheduler) skips the memory check: its workers are elsewhere."""
    flags = flags or {}
    e = estimate(s, journal_days)

    def where(quantity: str) -> str:
        return flags.get(quantity) or ("--replications" if quantity == "runs" else driver(s, quantity))

    if not force:
        for quantity, limit in LIMITS.items():
            value = runs if quantity == "runs" else getattr(e, quantity)
            if value > limit:
                raise ScenarioError(
                    f"{where(quantity)}: about {_fmt(value)} {UNITS[quantity]}, over the documented "
                    f"limit of {limit:,} (docs/limits.md); add --force to run it anyway")
    if local:
        avail = available_memory()
        at_once = max(1, min(parallel, runs))
        need = e.memory_bytes * at_once
        if need > avail:
            gb = 1024 ** 3
            big = max(("subjects", "operators", "devices", "messages", "journal_rows"),
                      key=lambda q: getattr(e, q) / max(getattr(_default_estimate(s.model), q), 1.0))
            hint = ""
            if at_once > 1 and e.memory_bytes <= avail:
                hint = f"; at most {int(avail // e.memory_bytes)} run(s) fit at once: lower --workers"
            raise ScenarioError(
                f"{where(big)}: a run needs about {e.memory_bytes / gb:,.1f} GB"
                + (f" x {at_once} at once" if at_once > 1 else "")
                + f", more than the {avail / gb:,.1f} GB available on this machine{hint} "
                "(not overridable; docs/limits.md)")
    return e


@functools.lru_cache(maxsize=4)
def _default_estimate(model: str) -> Estimate:
    """The estimate of the default scenario of a model (what 'big' is measured against)."""
    return estimate(Scenario(name="defaults", model=model))
