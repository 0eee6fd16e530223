"""The CLETS network topology: counties, agencies, devices, hub and databases as a networkx DiGraph."""

from topology.builder import (
    BACKUP_HUB,
    HUB,
    build_topology,
    counts_by_county,
    counts_by_kind,
    db_node,
    msc_node,
)
from topology.counties import County, county_names, load_counties

__all__ = [
    "BACKUP_HUB",
    "HUB",
    "County",
    "build_topology",
    "counts_by_county",
    "counts_by_kind",
    "county_names",
    "db_node",
    "load_counties",
    "msc_node",
]
