"""The topology: all 58 counties, calibrated sizes, the CLETS layout, determinism."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest

from sim.config import Scenario, parse_scenario
from sim.errors import ScenarioError
from sim.rng import Streams
from sim.runner import prepare
from topology import BACKUP_HUB, HUB, build_topology, counts_by_kind, load_counties, msc_node


@pytest.fixture(scope="module")
def statewide():
    s = Scenario(name="t")
    return build_topology(s.topology, s.network, Streams(1))


def test_counties_file_is_the_2020_census():
    counties = load_counties()
    assert len(counties) == 58
    assert len({c.name for c in counties}) == 58
    # California's 2020 census population (the published state total)
    assert sum(c.population for c in counties) == 39_538_223
    by = {c.name: c for c in counties}
    assert by["Los Angeles"].population == 10_014_009
    assert by["Alpine"].seat == "Markleeville"
    assert [c.code for c in counties] == list(range(1, 59))


def test_layout_follows_clets(statewide):
    G = statewide
    kinds = counts_by_kind(G)
    assert kinds["hub"] == 2 and kinds["database"] == 8 and kinds["msc"] == 58
    # >1,000 subscribing agencies (directive went to >1,200)
    assert 1000 <= kinds["agency"] <= 1300
    for c in load_counties():
        msc = msc_node(c.name)
        assert G.has_edge(msc, HUB) and G.has_edge(msc, BACKUP_HUB)
        ccas = [n for n in G.predecessors(msc) if G.nodes[n].get("is_cca")]
        assert len(ccas) == 1 and G.nodes[ccas[0]]["agency_type"] == "sheriff"
    direct = [n for n, d in G.nodes(data=True) if d.get("direct_connect")]
    assert any(G.nodes[n]["name"].startswith("DHS") for n in direct)
    for n in direct:
        assert G.has_edge(n, HUB)
        assert not any(G.nodes[m]["kind"] == "msc" for m in G.successors(n))
    for _u, _v, d in G.edges(data=True):
        assert d["bandwidth_bps"] > 0 and d["latency_s"] >= 0 and d["up"] is True
    # every device reaches a database through its agency
    for n, d in G.nodes(data=True):
        if d["kind"] in ("terminal", "mdt"):
            assert list(G.successors(n)) == [d["agency"]]
    assert nx.has_path(G, "mdt:CA0100000:0", "db:DMV")


def test_sizes_scale_with_population(statewide):
    G = statewide
    per_county = Counter(d["county"] for _, d in G.nodes(data=True) if d["kind"] == "terminal")
    pops = {c.name: c.population for c in load_counties()}
    assert per_county["Los Angeles"] > per_county["Orange"] > per_county["Fresno"] > per_county["Alpine"]
    # terminals per 10k residents ~ the configured 4.0 in large counties
    assert per_county["Los Angeles"] / pops["Los Angeles"] * 1e4 == pytest.approx(4.0, rel=0.05)


def test_default_volume_is_calibrated_to_2_8_million_a_day():
    model, source, _ = prepare(Scenario(name="t", seed=1))
    per_day = source.total_rate * 86400
    assert per_day == pytest.approx(2.8e6, rel=0.05)


def test_same_seed_same_graph_different_seed_differs():
    s = Scenario(name="t")
    a = build_topology(s.topology, s.network, Streams(3))
    b = build_topology(s.topology, s.network, Streams(3))
    c = build_topology(s.topology, s.network, Streams(4))
    assert nx.utils.graphs_equal(a, b)

    def term(G):
        return Counter(d["agency"] for _, d in G.nodes(data=True) if d["kind"] == "terminal")

    assert term(a) == term(b)
    assert term(a) != term(c)


def test_mdt_multiplier_doubles_mdts():
    base = Scenario(name="t")
    doubled = parse_scenario({"name": "t", "topology": {"devices": {"mdt_multiplier": 2.0}}})
    a = counts_by_kind(build_topology(base.topology, base.network, Streams(1)))
    b = counts_by_kind(build_topology(doubled.topology, doubled.network, Streams(1)))
    assert b["mdt"] == pytest.approx(2 * a["mdt"], rel=0.01)
    assert b["terminal"] == a["terminal"]


def test_unknown_county_is_a_scenario_error():
    s = parse_scenario({"name": "t", "topology": {"counties": ["Orange", "Atlantis"]}})
    with pytest.raises(ScenarioError, match="Atlantis"):
        build_topology(s.topology, s.network, Streams(1))
