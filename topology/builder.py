"""Build the CLETS network as a networkx DiGraph from a scenario's topology section.

Layout (node ``kind`` in brackets):

    [terminal]/[mdt] -> [agency] -> [msc] (county CCA) -> [hub] DOJ (+ backup site) -> [database]
    direct-connect [agency] (CHP HQ, state and federal users) -> [hub]
    CHP area office [agency] -> CHP Headquarters -> [hub]

Every connection is a pair of directed edges with ``bandwidth_bps``, ``latency_s``,
``up`` and ``link`` (which link class of the scenario it uses). Sizes scale with
county population; the only randomness (relative sizes of city police departments
and other local agencies) comes from the ``topology`` stream, so the same config and
seed always give the same graph.
"""

from __future__ import annotations

import math
from collections import Counter

import networkx as nx
import numpy as np

from sim.config import DATABASES, Network, Topology
from sim.errors import ScenarioError
from sim.rng import Streams
from topology.counties import County, load_counties

HUB = "hub:DOJ"
BACKUP_HUB = "hub:backup"
CHP_HQ_NAME = "CHP Headquarters"

# Share of a county's fixed terminals / MDTs held by each agency type (the rest of the
# code splits a type's share among its agencies by size). Sheriffs and police dominate.
TERMINAL_SHARE = {
    "sheriff": 0.30,
    "police": 0.36,
    "probation": 0.08,
    "district_attorney": 0.06,
    "court": 0.06,
    "other_local": 0.06,
    "chp_area": 0.08,
}
MDT_SHARE = {"sheriff": 0.40, "police": 0.48, "other_local": 0.02, "chp_area": 0.10}


def db_node(name: str) -> str:
    return f"db:{name}"


def msc_node(county: str) -> str:
    return f"msc:{county}"


def _largest_remainder(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Integer allocation of `total` proportional to `weights`, each at least `minimum`."""
    n = len(weights)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    base = np.full(n, minimum, dtype=np.int64)
    rest = max(total - minimum * n, 0)
    w = weights / weights.sum()
    raw = w * rest
    alloc = np.floor(raw).astype(np.int64)
    short = rest - int(alloc.sum())
    if short > 0:
        order = np.argsort(-(raw - alloc), kind="stable")
        alloc[order[:short]] += 1
    return base + alloc


def select_counties(topo: Topology) -> list[County]:
    counties = load_counties()
    if topo.counties is None:
        return counties
    by_name = {c.name.lower(): c for c in counties}
    chosen = []
    for name in topo.counties:
        c = by_name.get(name.lower())
        if c is None:
            raise ScenarioError(
                f"topology.counties: unknown county {name!r} (expected one of the 58, e.g. 'Orange')"
            )
        chosen.append(c)
    return chosen


def build_topology(topo: Topology, net: Network, streams: Streams) -> nx.DiGraph:
    """The full network graph for this scenario (deterministic in config and seed)."""
    rng = streams.fresh("topology")
    G = nx.DiGraph(name="CLETS")
    links = net.links

    def connect(a: str, b: str, link: str, latency: float, bandwidth: float) -> None:
        attrs = dict(link=link, latency_s=float(latency), bandwidth_bps=float(bandwidth), up=True)
        G.add_edge(a, b, **attrs)
        G.add_edge(b, a, **attrs)

    G.add_node(HUB, kind="hub", site="primary", name="DOJ Hawkins Data Center", county="")
    G.add_node(BACKUP_HUB, kind="hub", site="backup", name="DOJ backup site", county="")
    for name in DATABASES:
        G.add_node(db_node(name), kind="database", name=name, county="")
        for hub in (HUB, BACKUP_HUB):
            connect(hub, db_node(name), "hub_database", links.hub_database.latency_s,
                    links.hub_database.bandwidth_bps)

    counties = select_counties(topo)
    known = {c.name for c in load_counties()}
    for name in net.msc_overrides:
        if name not in known:
            raise ScenarioError(f"network.msc_overrides: unknown county {name!r}")
    ag = topo.agencies
    dev = topo.devices
    total_pop = sum(c.population for c in counties)
    chp_alloc = _largest_remainder(
        ag.chp_area_offices, np.array([c.population for c in counties], dtype=float)
    ) if counties else np.zeros(0, dtype=np.int64)

    chp_pending: list[tuple[str, int, int]] = []  # CHP area offices wait for CHP HQ to exist
    for county, n_chp in zip(counties, chp_alloc):
        msc = msc_node(county.name)
        G.add_node(msc, kind="msc", county=county.name, population=county.population,
                   name=f"{county.name} County MSC", cca=f"{county.name} County Sheriff's Office")
        for hub in (HUB, BACKUP_HUB):
            connect(msc, hub, "msc_hub", links.msc_hub.latency_s, links.msc_hub.bandwidth_bps)

        units = county.population / 100_000
        agencies: list[tuple[str, str, float]] = [  # (type, name, weight within type)
            ("sheriff", f"{county.name} County Sheriff's Office", 1.0),
            ("probation", f"{county.name} County Probation", 1.0),
            ("district_attorney", f"{county.name} County District Attorney", 1.0),
        ]
        agencies += [("court", f"{county.name} Superior Court" + (f" {i + 1}" if i else ""), 1.0)
                     for i in range(ag.courts_per_county)]
        n_pd = int(round(ag.city_pd_coefficient * units**ag.city_pd_exponent))
        pd_sizes = rng.lognormal(0.0, 1.0, size=n_pd)
        agencies += [("police", f"{county.name} City Police {i + 1}", float(w))
                     for i, w in enumerate(pd_sizes)]
        n_other = int(round(ag.other_local_per_100k * units))
        other_sizes = rng.lognormal(0.0, 0.7, size=n_other)
        agencies += [("other_local", f"{county.name} Local Agency {i + 1}", float(w))
                     for i, w in enumerate(other_sizes)]
        agencies += [("chp_area", f"CHP {county.name} Area {i + 1}", 1.0) for i in range(int(n_chp))]

        terminals = int(round(county.population / 10_000 * dev.terminals_per_10k))
        mdts = int(round(county.population / 10_000 * dev.mdts_per_10k * dev.mdt_multiplier))
        types = [a[0] for a in agencies]
        weights = np.array([a[2] for a in agencies])
        term_w = np.array([TERMINAL_SHARE[t] for t in types]) * weights / _type_sums(types, weights)
        mdt_w = np.array([MDT_SHARE.get(t, 0.0) for t in types]) * weights / _type_sums(types, weights)
        term_alloc = _largest_remainder(terminals, term_w, dev.min_terminals_per_agency)
        mdt_alloc = (_largest_remainder(mdts, mdt_w) if mdt_w.sum() > 0
                     else np.zeros(len(agencies), dtype=np.int64))
        for i, (atype, name, _w) in enumerate(agencies):
            ori = f"CA{county.code:02d}{i:03d}00"
            node = f"agency:{ori}"
            G.add_node(node, kind="agency", agency_type=atype, name=name, ori=ori, county=county.name,
                       direct_connect=False, is_cca=(atype == "sheriff"))
            if atype == "chp_area":
                continue  # connected to CHP Headquarters below
            connect(node, msc, "agency_msc", links.agency_msc.latency_s, links.agency_msc.bandwidth_bps)
            _add_devices(G, node, ori, int(term_alloc[i]), int(mdt_alloc[i]), county.name, links)
        chp_pending.extend(
            (f"agency:CA{county.code:02d}{i:03d}00", int(term_alloc[i]), int(mdt_alloc[i]))
            for i, a in enumerate(agencies) if a[0] == "chp_area")

    for j, name in enumerate(ag.direct_connect):
        ori = f"CA0DC{j:02d}00"
        node = f"agency:{ori}"
        is_federal = not name.startswith(("CA ", "CHP", "CDCR", "DMV", "Franchise"))
        atype = "chp_hq" if name == CHP_HQ_NAME else ("federal" if is_federal else "state")
        G.add_node(node, kind="agency", agency_type=atype, name=name, ori=ori, county="",
                   direct_connect=True, is_cca=False, dhs=name.startswith("DHS"))
        for hub in (HUB, BACKUP_HUB):
            connect(node, hub, "direct_hub", links.direct_hub.latency_s, links.direct_hub.bandwidth_bps)
        _add_devices(G, node, ori, dev.direct_connect_terminals, dev.direct_connect_mdts, "", links)

    chp_hq = next((n for n, d in G.nodes(data=True) if d.get("agency_type") == "chp_hq"), None)
    for node, n_term, n_mdt in chp_pending:
        upstream = chp_hq or msc_node(G.nodes[node]["county"])
        link = links.direct_hub if chp_hq else links.agency_msc
        connect(node, upstream, "direct_hub" if chp_hq else "agency_msc", link.latency_s,
                link.bandwidth_bps)
        _add_devices(G, node, G.nodes[node]["ori"], n_term, n_mdt, G.nodes[node]["county"], links)

    G.graph["population"] = total_pop
    G.graph["counties"] = ",".join(c.name for c in counties)
    return G


def _type_sums(types: list[str], weights: np.ndarray) -> np.ndarray:
    sums: dict[str, float] = {}
    for t, w in zip(types, weights):
        sums[t] = sums.get(t, 0.0) + float(w)
    return np.array([sums[t] for t in types])


def _add_devices(G: nx.DiGraph, agency: str, ori: str, n_term: int, n_mdt: int, county: str,
                 links) -> None:
    """An agency's terminals, then its MDTs, each with a link both ways (networkx's bulk
    adds: ~40,000 devices statewide, a third of the model's build time one by one)."""
    for prefix, kind, n, link, spec in (("term", "terminal", n_term, "terminal_agency",
                                         links.terminal_agency),
                                        ("mdt", "mdt", n_mdt, "mdt_radio", links.mdt_radio)):
        devices = [f"{prefix}:{ori}:{k}" for k in range(n)]
        G.add_nodes_from(devices, kind=kind, agency=agency, county=county)
        G.add_edges_from(((a, b) for dev in devices for a, b in ((dev, agency), (agency, dev))),
                         link=link, latency_s=spec.latency_s, bandwidth_bps=spec.bandwidth_bps,
                         up=True)


def counts_by_kind(G: nx.DiGraph) -> Counter:
    return Counter(d["kind"] for _, d in G.nodes(data=True))


def counts_by_county(G: nx.DiGraph) -> dict[str, Counter]:
    """county -> Counter of kinds (agencies, terminals, mdts); direct-connect under ''."""
    out: dict[str, Counter] = {}
    for _, d in G.nodes(data=True):
        if d["kind"] in ("agency", "terminal", "mdt"):
            out.setdefault(d.get("county", ""), Counter())[d["kind"]] += 1
    return out


def msc_servers(net: Network, county: str, population: int) -> int:
    """Servers of a county's MSC: an override, or the default scaled with population."""
    sw = net.msc_overrides.get(county)
    if sw is not None:
        return sw.servers
    servers = net.msc.servers
    if net.msc.population_per_server:
        servers = max(servers, math.ceil(population / net.msc.population_per_server))
    return servers
