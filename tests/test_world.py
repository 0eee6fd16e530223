"""The synthetic world: people, roles, training, relations; fast, seeded and vectorized."""

from __future__ import annotations

import math
import time
from datetime import date

import numpy as np
import pytest

from sim.config import Scenario, parse_scenario
from sim.rng import Streams
from sim.world import (
    EX_PARTNER,
    FAMILY,
    FULL_ACCESS,
    HOUSEHOLD,
    NEIGHBOUR,
    QUERY_ROLES,
    build_world,
    day_number,
)
from topology import build_topology

REF = date(2018, 1, 1)


def world_for(counties, seed=1, **world_cfg):
    s = parse_scenario({"name": "w", "topology": {"counties": counties}, "world": world_cfg})
    streams = Streams(seed)
    return build_world(build_topology(s.topology, s.network, streams), s.world, streams, REF)


@pytest.fixture(scope="module")
def orange():
    return world_for(["Orange"])


def within(observed: int, n: int, p: float, sds: float = 4.0) -> bool:
    return abs(observed - n * p) <= sds * math.sqrt(n * p * (1 - p)) + 1


def test_statewide_world_builds_fast_and_large_enough():
    s = Scenario(name="w")
    streams = Streams(2)
    graph = build_topology(s.topology, s.network, streams)
    t0 = time.perf_counter()
    w = build_world(graph, s.world, streams, REF)
    elapsed = time.perf_counter() - t0
    assert len(w.subjects) >= 5_000_000
    assert len(w.operators) >= 80_000
    assert elapsed < 60
    # several ORIs for large agencies, one for small ones
    per_agency = w.oris.groupby("agency").size()
    assert per_agency.max() > 10 and per_agency.min() == 1


def test_same_seed_same_people_different_seed_differs():
    a, b, c = world_for(["Mono"], 5), world_for(["Mono"], 5), world_for(["Mono"], 6)
    np.testing.assert_array_equal(a.subject_names(np.arange(100)), b.subject_names(np.arange(100)))
    np.testing.assert_array_equal(a.streets, b.streets)
    np.testing.assert_array_equal(a.operators.test_day, b.operators.test_day)
    assert not np.array_equal(a.subject_names(np.arange(100)), c.subject_names(np.arange(100)))


def test_roles_and_compliance_fractions(orange):
    ops = orange.operators
    n = len(ops)
    shares = Scenario(name="d").world.roles.as_array()
    for role, p in enumerate(shares):
        assert within(int((ops.role == role).sum()), n, p), role
    comp = Scenario(name="d").world.compliance
    assert within(int((~ops.renews_test).sum()), n, comp.proficiency_lapsed)
    assert within(int((~ops.renews_confidentiality).sum()), n, comp.confidentiality_lapsed)
    assert within(int((ops.test_score < 70).sum()), n, comp.proficiency_failed)
    assert within(int((~ops.background_check).sum()), n, comp.no_background_check)
    late = (ops.training_day - ops.hire_day) > 180
    assert within(int(late.sum()), n, comp.late_training)
    assert ((ops.training_day - ops.hire_day) >= 0).all()
    # lapsed operators exist and keep their credentials (they can still query)
    lapsed = ~ops.certified_on(day_number(REF) + 400)
    can_query = np.isin(ops.role, QUERY_ROLES)
    assert (lapsed & can_query).sum() > 0.1 * can_query.sum()
    assert all(u.startswith("U") for u in ops.user_ids(np.flatnonzero(lapsed & can_query)[:50]))
    assert set(ops.user_ids(np.flatnonzero(~can_query)[:50])) == {""}


def test_operators_live_in_their_agencys_county_and_are_distinct(orange):
    ops, subj = orange.operators, orange.subjects
    county = orange.agencies["county_idx"].to_numpy()[ops.agency]
    local = county >= 0
    assert (subj.county[ops.subject[local]] == county[local]).all()
    assert len(np.unique(ops.subject[local])) == local.sum()


def test_relations_are_natural(orange):
    rel, subj, ops = orange.relations, orange.subjects, orange.operators
    me = ops.subject[rel.operator]
    hh = rel.kind == HOUSEHOLD
    assert hh.any() and (subj.household[rel.subject[hh]] == subj.household[me[hh]]).all()
    assert (subj.street[rel.subject[hh]] == subj.street[me[hh]]).all()
    fam = rel.kind == FAMILY
    assert (subj.last[rel.subject[fam]] == subj.last[me[fam]]).all()
    nb = rel.kind == NEIGHBOUR
    assert (subj.street[rel.subject[nb]] == subj.street[me[nb]]).all()
    ex = rel.kind == EX_PARTNER
    assert (subj.sex[rel.subject[ex]] != subj.sex[me[ex]]).mean() > 0.9
    assert (rel.subject != me).all()
    # CSR pointers agree with the rows
    counts = np.diff(rel.ptr)
    np.testing.assert_array_equal(np.repeat(np.arange(len(ops)), counts), rel.operator)
    assert counts.mean() > 8


def test_subject_records_are_complete(orange):
    s = orange.subjects
    frame = orange.subject_frame(np.arange(0, len(s), 997))
    assert frame["name"].str.contains(" ").all()
    assert frame["driver_licence"].str.match(r"^[A-Z]\d{7}$").all()
    assert frame["address"].str.match(r"^\d+ \S").all()
    assert 0.7 < (s.vehicles > 0).mean() < 0.8
    assert s.high_profile.sum() == round(100 * len(s) / 1e6)
    assert (np.diff(s.county_start) > 0).all()
    assert s.county_start[-1] == len(s)


def test_full_access_can_update_less_than_full_cannot():
    from sim.catalogue import MESSAGE_KEYS

    s = Scenario(name="d")
    lt = s.journal.queries.key_mix["less_than_full_access"]
    updates = {k.key for k in MESSAGE_KEYS if k.update}
    assert not updates & set(lt)
    assert updates & set(s.journal.queries.key_mix["full_access"])
    assert FULL_ACCESS in QUERY_ROLES
