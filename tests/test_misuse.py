"""Injected misuse: every category and archetype, configured rates, archetype shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.catalogue import ARCHETYPES, CATEGORY_NAMES, KEY_NAMES, PURPOSES
from sim.config import parse_scenario
from sim.journal import JournalGenerator
from sim.rng import Streams
from sim.traffic import cum
from sim.world import EX_PARTNER, QUERY_ROLES, day_number

DAYS = 730


def generator(misuse: dict | None = None, counties=("Orange",), seed=3, days=DAYS,
              start="2018-01-01"):
    s = parse_scenario({"name": "m", "topology": {"counties": list(counties)},
                        "misuse": misuse or {}, "journal": {"days": days, "start_date": start}})
    return JournalGenerator(s, Streams(seed)), s


@pytest.fixture(scope="module")
def long_run():
    # the rare mass_rule archetype (0.2 a year by default) made common enough to appear, and the
    # occasional background at its upper bound (Minnesota's questionable share) for power
    return generator({"mass_rule": {"incidents_per_year": 1.5, "lookups": {"min": 300, "max": 700}},
                      "occasional": {"user_share": 0.5, "lookups_per_year": 1.2}})


def rows_of(gen, archetype):
    r = gen.misuse.rows
    sel = r["archetype"] == ARCHETYPES.index(archetype)
    return {f: v[sel] for f, v in r.items()}


def test_every_category_and_archetype_appears(long_run):
    gen, _ = long_run
    r = gen.misuse.rows
    assert set(np.unique(r["category"])) == set(range(len(CATEGORY_NAMES)))
    assert set(np.unique(r["archetype"])) == set(range(len(ARCHETYPES)))
    first = day_number(gen.scenario.journal.start_date)
    assert (r["time"] >= first * 86400).all() and (r["time"] < (first + DAYS) * 86400).all()
    assert (np.diff(r["time"]) >= 0).all()


def test_occasional_categories_match_the_configured_mix(long_run):
    gen, s = long_run
    occ = rows_of(gen, "occasional")
    n = len(occ["time"])
    assert n > 5000
    p = np.diff(np.concatenate([[0], cum(s.misuse.occasional.category_mix, CATEGORY_NAMES)]))
    counts = np.bincount(occ["category"], minlength=len(CATEGORY_NAMES))
    for c, name in enumerate(CATEGORY_NAMES):  # each category count is Binomial(n, p_c)
        assert abs(counts[c] - n * p[c]) <= 4 * math.sqrt(n * p[c] * (1 - p[c])) + 1, name


def test_occasional_volume_matches_prevalence(long_run):
    gen, s = long_run
    o = s.misuse.occasional
    n_query_ops = np.isin(gen.world.operators.role, QUERY_ROLES).sum()
    expected = n_query_ops * o.user_share * o.lookups_per_year * DAYS / 365
    n = len(rows_of(gen, "occasional")["time"])
    # per-user rates are lognormal(mean 1, sigma 1.1) times Poisson: relative sd of the total is
    # sqrt((1 + e^{sigma^2} - 1 + 1/rate) / users) < 3% here; allow 4 sd
    users = n_query_ops * o.user_share
    rel_sd = math.sqrt((math.exp(o.heavy_tail_sigma**2) + 1 / (o.lookups_per_year * 2)) / users)
    assert abs(n / expected - 1) < 4 * rel_sd
    # a few make many: the busiest 5% of users account for far more than 5% of the lookups
    per_user = np.bincount(rows_of(gen, "occasional")["incident_id"])
    per_user = np.sort(per_user[per_user > 0])[::-1]
    assert per_user[: len(per_user) // 20].sum() > 0.15 * per_user.sum()


@pytest.mark.parametrize("archetype", ["lone_snooper", "misunderstood_rule", "serious_case",
                                       "credential_sharing", "curiosity_burst", "data_for_hire"])
def test_incident_counts_follow_the_configured_rate(archetype):
    gen, s = generator({archetype: {"incidents_per_year": 25}},
                       counties=("Orange", "San Diego"), days=365 * 2, seed=11)
    inc = gen.misuse.incidents
    n = int((inc["archetype"] == archetype).sum())
    expected = 25 * 2
    assert abs(n - expected) <= 4 * math.sqrt(expected), (n, expected)


def test_prevalence_scale_multiplies_misuse():
    # after the immigration rule; the occasional background at its upper bound, for power
    occ = {"user_share": 0.5, "lookups_per_year": 1.2}
    base, _ = generator({"occasional": occ}, days=120, seed=4, start="2019-03-01")
    double, _ = generator({"occasional": occ, "prevalence_scale": 2.0}, days=120, seed=4,
                          start="2019-03-01")
    # the high-volume archetypes scale linearly (incident archetypes scale their incident rate,
    # but one mass_rule incident of thousands of rows makes their row totals too noisy to compare)
    for archetype in ("occasional", "agency_purpose"):
        ratio = len(rows_of(double, archetype)["time"]) / len(rows_of(base, archetype)["time"])
        assert 1.8 < ratio < 2.2, archetype
    none, _ = generator({"prevalence_scale": 0.0}, days=120, seed=4)
    assert len(none.misuse.rows["time"]) == 0


def test_archetype_shapes(long_run):
    gen, s = long_run
    w = gen.world
    inc = gen.misuse.incidents.set_index("incident_id")
    r = gen.misuse.rows
    in_shift = lent = 0
    for iid, row in inc.iterrows():
        sel = r["incident_id"] == iid
        ops = np.unique(r["operator"][sel])
        subj = r["subject"][sel]
        if row.archetype == "lone_snooper":
            assert len(ops) == 1 and (w.subjects.sex[subj] == 0).all()
            assert sel.sum() <= 25
            assert w.subjects.sex[w.operators.subject[ops[0]]] == 1
        elif row.archetype in ("misunderstood_rule", "mass_rule"):
            assert len(np.unique(w.operators.agency[ops])) == 1
            keys = {KEY_NAMES[k] for k in np.unique(r["key"][sel])}
            assert keys <= {"QH", "QR"}
            assert (r["purpose"][sel] == PURPOSES.index("licensing")).mean() > 0.4
        elif row.archetype == "serious_case":  # Carlsbad: the lookups are not of the ex-partner
            a, b = w.relations.ptr[ops[0]], w.relations.ptr[ops[0] + 1]
            exes = w.relations.subject[a:b][w.relations.kind[a:b] == EX_PARTNER]
            assert len(ops) == 1 and not np.isin(subj, exes).any()
            assert row.external_investigation_day > r["time"][sel].max() // 86400
        elif row.archetype == "agency_purpose":
            agencies = w.agencies.iloc[np.unique(w.operators.agency[ops])]
            assert agencies["dhs"].all() and agencies["name"].str.contains("ICE").all()
        elif row.archetype == "curiosity_burst":
            assert len(np.unique(subj)) == 1 and w.subjects.high_profile[subj[0]]
        elif row.archetype == "credential_sharing":
            owner, borrower = row.actors
            assert (r["operator"][sel] == owner).all()
            shift = w.operators.shift_start[borrower]
            hours = (r["time"][sel] % 86400) // 3600
            in_shift += int((((hours - shift) % 24) < 10).sum())
            lent += int(sel.sum())
    # lent logins follow the borrower's shift: on it at 1 - off_shift_share (pooled over incidents,
    # 4 binomial sd; one small incident alone is too noisy to test)
    p_on = 1 - s.misuse.credential_sharing.off_shift_share
    assert lent > 200
    assert abs(in_shift - lent * p_on) <= 4 * math.sqrt(lent * p_on * (1 - p_on))


def test_bad_misuse_config_is_rejected():
    from sim.errors import ScenarioError

    for bad, needle in (
        ({"occasional": {"category_mix": {"snooping": 1}}}, "snooping"),
        ({"lone_snooper": {"incidents_per_year": -1, "lookups": {"min": 1, "max": 2}}}, "incidents_per_year"),
        ({"occasional": {"user_share": 1.5}}, "user_share"),
        ({"serious_case": {"incidents_per_year": 1, "lookups": {"min": 5, "max": 2}}}, "max"),
    ):
        with pytest.raises(ScenarioError, match=needle):
            parse_scenario({"name": "b", "misuse": bad})
