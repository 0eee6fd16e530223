"""Scenario configuration: pydantic models loaded from YAML.

Every field is validated and unknown keys are errors (a typo must never be
silently ignored). All times are in seconds unless the field name says
otherwise. `load_scenario` turns every user mistake into one `ScenarioError`
naming the file, the field and the value. One module per scenario section.
"""

from sim.config.base import DATABASES, Strict, check_database_names
from sim.config.network import (
    DatabaseSlowdown,
    Fault,
    Faults,
    HubFailover,
    Link,
    LinkDown,
    Links,
    MscOutage,
    MscSwitch,
    Network,
    RadioLink,
    RandomFaults,
    ServiceTime,
    Switch,
)
from sim.config.scenario import (
    Capacity,
    Horizon,
    Outputs,
    Scenario,
    Sweep,
    load_scenario,
    parse_load_factors,
    parse_scenario,
)
from sim.config.topology import Agencies, Devices, Topology
from sim.config.traffic import Diurnal, Traffic

__all__ = [
    "DATABASES", "Agencies", "Capacity", "DatabaseSlowdown", "Devices", "Diurnal", "Fault",
    "Faults", "Horizon", "HubFailover", "Link", "LinkDown", "Links", "MscOutage", "MscSwitch",
    "Network", "Outputs", "RadioLink", "RandomFaults", "Scenario", "ServiceTime", "Strict", "Sweep",
    "Switch", "Topology", "Traffic", "check_database_names", "load_scenario",
    "parse_load_factors", "parse_scenario",
]
