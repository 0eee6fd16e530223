"""From topology graph to a runnable queueing model: stations, links, devices and routes.

`CletsNetwork` is a `QueueNet` whose stations are the hub (two sites behind a
`HubRole`), the databases, the county MSCs and the agencies of the graph, and whose
routes are precomputed once per (agency, device kind, database): the hot path never
looks at the graph.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from simpy import Environment

from sim.config import DATABASES, Scenario, Switch
from sim.distributions import Sampler
from sim.errors import ScenarioError
from sim.network import Hop, QueueNet, link_delay
from sim.rng import Streams
from sim.stations import HubRole, LinkState, RadioGateway, Station
from topology.builder import BACKUP_HUB, HUB, db_node, msc_servers

TERMINAL, MDT = 0, 1
DEVICE_KINDS = ("terminal", "mdt")
NDB = len(DATABASES)


def excluded_agencies(graph: nx.DiGraph, agencies: list[str], oris: list[str]) -> np.ndarray:
    """Indices of the agencies named by `topology.excluded_oris` (unknown ORIs are errors)."""
    index = {graph.nodes[a]["ori"]: i for i, a in enumerate(agencies)}
    unknown = [o for o in oris if o not in index]
    if unknown:
        raise ScenarioError(f"topology.excluded_oris: unknown ORI {unknown[0]!r} in this topology")
    return np.array([index[o] for o in oris], dtype=np.int64)


class CletsNetwork(QueueNet):
    """The CLETS message path for one scenario and topology."""

    def __init__(self, scenario: Scenario, graph: nx.DiGraph, streams: Streams,
                 env: Environment | None = None):
        super().__init__(env)
        self.scenario = scenario
        self.graph = graph
        self.streams = streams
        net = scenario.network
        self.by_node: dict[str, Station] = {}

        def station(node: str, kind: str, sw: Switch, servers: int | None = None,
                    county: str = "", on_failure: str = "lose") -> Station:
            st = Station(self.env, node, kind, servers or sw.servers, sw.buffer,
                         Sampler(sw.service, streams.fresh(f"service:{node}")), county, on_failure)
            self.by_node[node] = self.add_station(st)
            return st

        primary = station(HUB, "hub", net.hub)
        backup = station(BACKUP_HUB, "hub", net.backup_hub)
        backup.extra_latency = net.links.backup_extra_latency_s
        self.hub = HubRole(self.env, primary, backup)
        for name in DATABASES:
            station(db_node(name), "database", net.databases[name])
        on_fail = scenario.faults.on_failure
        agencies: list[str] = []
        for node, d in graph.nodes(data=True):
            if d["kind"] == "msc":
                sw = net.msc_overrides.get(d["county"], net.msc)
                station(node, "msc", sw, msc_servers(net, d["county"], d["population"]),
                        d["county"], on_fail)
            elif d["kind"] == "agency":
                sw = net.direct_agency if d["direct_connect"] else net.agency
                station(node, "agency", sw, county=d["county"])
                agencies.append(node)
        self.agencies = agencies
        self.agency_index = {a: i for i, a in enumerate(agencies)}
        self._build_links()
        self._build_devices()
        self._build_routes()

    # ------------------------------------------------------------------ links
    def _build_links(self) -> None:
        self.links: dict[frozenset, LinkState] = {}
        for u, v, d in self.graph.edges(data=True):
            if d["link"] in ("terminal_agency", "mdt_radio"):
                continue
            key = frozenset((u, v))
            if key not in self.links:
                self.links[key] = LinkState(f"{u}<->{v}")
        # all devices of one kind share a link object: faults never target a single terminal
        radio = self.scenario.network.links.mdt_radio
        self.device_links = (
            LinkState("terminal-agency"),
            LinkState("mdt-radio", radio.loss_probability, radio.max_retries, radio.retry_timeout_s,
                      self.streams.fresh("radio")),
        )
        self.steady_links.add(self.device_links[0])  # no fault targets the terminal link
        # each agency's MDT radio gateway can fail on its own (random faults, mdt_gateway);
        # frames are lost as on the shared radio link (same draws, same order)
        radio_link = self.device_links[1]
        self.mdt_gateways = {a: RadioGateway(f"{a} MDT gateway", radio_link) for a in self.agencies}

    def link(self, u: str, v: str) -> LinkState:
        if v == BACKUP_HUB:
            v = HUB
        if u == BACKUP_HUB:
            u = HUB
        return self.links[frozenset((u, v))]

    # ------------------------------------------------------------------ devices
    def _build_devices(self) -> None:
        tr = self.scenario.traffic
        agency_of, kind_of, names = [], [], []
        for node, d in self.graph.nodes(data=True):
            if d["kind"] in DEVICE_KINDS:
                agency_of.append(self.agency_index[d["agency"]])
                kind_of.append(DEVICE_KINDS.index(d["kind"]))
                names.append(node)
        self.device_agency = np.asarray(agency_of, dtype=np.int32)
        self.device_kind = np.asarray(kind_of, dtype=np.int8)
        self.device_names = names
        per_hour = np.where(self.device_kind == MDT, tr.mdt_rate_per_hour, tr.terminal_rate_per_hour)
        excluded = excluded_agencies(self.graph, self.agencies, self.scenario.topology.excluded_oris)
        per_hour = np.where(np.isin(self.device_agency, excluded), 0.0, per_hour)
        self.device_rates = per_hour / 3600.0  # day-average, before diurnal curve and load factor

    # ------------------------------------------------------------------ routes
    def _up_paths(self) -> dict[str, list[str]]:
        """agency -> [agency, ..., HUB] through the infrastructure (never the backup site)."""
        infra = self.graph.subgraph(
            n for n, d in self.graph.nodes(data=True)
            if d["kind"] in ("agency", "msc") or n == HUB
        )
        to_hub = nx.single_source_shortest_path(infra.reverse(copy=False), HUB)
        return {a: list(reversed(to_hub[a])) for a in self.agencies}

    def _hops(self, path: list[str], size: int, outbound: bool) -> list[Hop]:
        """Hops along consecutive nodes of `path` (first node excluded) for a message of `size`."""
        hops = []
        for u, v in zip(path, path[1:]):
            e = self.graph.edges[u, v]
            target = self.hub if v == HUB else self.by_node[v]
            hops.append((link_delay(e["latency_s"], e["bandwidth_bps"], size), self.link(u, v),
                         target, outbound))
        return hops

    def _device_hop(self, kind: int, size: int, target, outbound: bool, agency: str) -> Hop:
        links = self.scenario.network.links
        spec = links.terminal_agency if kind == TERMINAL else links.mdt_radio
        link = self.device_links[kind] if kind == TERMINAL else self.mdt_gateways[agency]
        return (link_delay(spec.latency_s, spec.bandwidth_bps, size), link, target, outbound)

    def _build_routes(self) -> None:
        net = self.scenario.network
        self.up_path = self._up_paths()
        hubdb = net.links.hub_database
        routes: list = []
        for agency in self.agencies:
            up = self.up_path[agency]
            for kind in (TERMINAL, MDT):
                out = [self._device_hop(kind, net.inquiry_bytes, self.by_node[agency], True, agency)]
                out += self._hops(up, net.inquiry_bytes, True)
                back = self._hops(list(reversed(up)), net.response_bytes, False)
                back.append(self._device_hop(kind, net.response_bytes, None, False, agency))
                for name in DATABASES:
                    db = self.by_node[db_node(name)]
                    link = self.link(HUB, db_node(name))
                    mid = [
                        (link_delay(hubdb.latency_s, hubdb.bandwidth_bps, net.inquiry_bytes), link, db, True),
                        (link_delay(hubdb.latency_s, hubdb.bandwidth_bps, net.response_bytes), link,
                         self.hub, False),
                    ]
                    routes.append(tuple(out + mid + back))
        self.routes = routes
        self.n_inquiry_routes = len(routes)
        self.admin_routes: dict[tuple[int, int, int], int] = {}
        self.route_meta: list[tuple[int, int, int]] = []  # admin route: (src agency, kind, dst)

    def inquiry_route_id(self, agency: np.ndarray, kind: np.ndarray, db: np.ndarray) -> np.ndarray:
        return (agency.astype(np.int64) * 2 + kind) * NDB + db

    def admin_route_id(self, src: int, kind: int, dst: int) -> int:
        key = (src, kind, dst)
        rid = self.admin_routes.get(key)
        if rid is None:
            net = self.scenario.network
            size = net.admin_bytes
            src_node, dst_node = self.agencies[src], self.agencies[dst]
            hops = [self._device_hop(kind, size, self.by_node[src_node], True, src_node)]
            hops += self._hops(self.up_path[src_node], size, True)
            hops += self._hops(list(reversed(self.up_path[dst_node])), size, True)
            rid = len(self.routes)
            self.routes.append(tuple(hops))
            self.admin_routes[key] = rid
            self.route_meta.append(key)
        return rid

    def route_of(self, batch) -> np.ndarray:
        """Route ids for a batch of arrivals (vectorized for inquiries)."""
        agency = self.device_agency[batch.device]
        kind = self.device_kind[batch.device]
        db = batch.database
        ids = self.inquiry_route_id(agency, kind, np.maximum(db, 0))
        admin = np.flatnonzero(db < 0)
        for j in admin.tolist():
            ids[j] = self.admin_route_id(int(agency[j]), int(kind[j]), int(batch.dest_agency[j]))
        return ids

    # ------------------------------------------------------------------ decoding route ids
    def describe_routes(self, route_ids: np.ndarray) -> dict[str, np.ndarray]:
        """agency index, device kind, database index (-1 admin) and destination agency per message."""
        r = np.asarray(route_ids, dtype=np.int64)
        inquiry = r < self.n_inquiry_routes
        agency = np.where(inquiry, r // (2 * NDB), 0)
        kind = np.where(inquiry, (r // NDB) % 2, 0)
        db = np.where(inquiry, r % NDB, -1)
        dest = np.full(len(r), -1, dtype=np.int64)
        if (~inquiry).any():
            meta = np.asarray(self.route_meta, dtype=np.int64).reshape(-1, 3)
            k = r[~inquiry] - self.n_inquiry_routes
            agency[~inquiry] = meta[k, 0]
            kind[~inquiry] = meta[k, 1]
            dest[~inquiry] = meta[k, 2]
        return {"agency": agency, "device_kind": kind, "database": db, "dest_agency": dest}
