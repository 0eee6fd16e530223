"""Fidelity to the seed documents (issue 9, item 9): the Carlsbad case, the ACHS right to
know, case numbers recommended not required, the County Control Agency, the immigration
rule's effective date, the occasional-misuse prevalence bounds and ICE Orange County.

Fixed seeds; statistical checks allow 4 binomial standard deviations."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sim.catalogue import (
    ANSWER_KEY_FIELDS,
    ARCHETYPES,
    CATEGORY_NAMES,
    KEY_NAMES,
    PURPOSES,
    RIGHT_TO_KNOW,
)
from sim.config import Scenario, parse_scenario
from sim.config.journal import Misuse, Occasional, Queries
from sim.config.topology import Agencies
from sim.journal import JOURNAL_SCHEMA, TRUTH_SCHEMA, JournalGenerator
from sim.rng import Streams
from sim.traffic import ACHS_KEY_IDX
from sim.world import EX_PARTNER, QUERY_ROLES, day_number
from topology import HUB, build_topology

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400


def generator(misuse=None, start="2019-01-01", days=365, seed=3, counties=("Orange",), queries=None):
    d = {"name": "f", "topology": {"counties": list(counties)}, "misuse": misuse or {},
         "journal": {"start_date": start, "days": days, "queries": queries or {}}}
    return JournalGenerator(parse_scenario(d), Streams(seed), automated=False)


def within(k: int, n: int, p: float) -> bool:
    """k successes of n is within 4 binomial sd of p (+1 for discreteness)."""
    return abs(k - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1


# ---------------------------------------------------------------------- a) Carlsbad


def test_serious_case_is_an_unrelated_lookup_found_by_an_outside_investigation():
    gen = generator({"serious_case": {"incidents_per_year": 40}}, days=730, seed=11)
    w, r, inc = gen.world, gen.misuse.rows, gen.misuse.incidents
    cfg = gen.scenario.misuse.serious_case
    serious = inc[inc["archetype"] == "serious_case"]
    assert len(serious) > 40
    with_ex = 0
    for row in serious.itertuples():
        sel = r["incident_id"] == row.incident_id
        (actor,) = np.unique(r["operator"][sel])
        subj, kinds = w.relations.of(int(actor))
        exes = subj[kinds == EX_PARTNER]
        with_ex += len(exes) > 0
        # a few rows (default one), never of the ex-partner, of a friend or a personal DMV lookup
        assert cfg.lookups.min <= sel.sum() <= cfg.lookups.max
        assert not np.isin(r["subject"][sel], exes).any()
        assert {CATEGORY_NAMES[c] for c in r["category"][sel]} == {row.category}
        assert row.category in ("friend_lookup", "dmv_personal_lookup")
        # the internal-affairs investigation opens days to weeks after the last lookup
        delay = row.external_investigation_day - r["time"][sel].max() // DAY
        assert cfg.investigation_delay_days.min <= delay <= cfg.investigation_delay_days.max
    assert with_ex > len(serious) / 4  # the ex-partner check is not vacuous
    assert set(serious["category"]) == {"friend_lookup", "dmv_personal_lookup"}
    # the column is -1 for every other archetype, and the table keeps its other columns
    assert (inc.loc[inc["archetype"] != "serious_case", "external_investigation_day"] == -1).all()
    assert list(inc.columns) == ["incident_id", "archetype", "category", "agency_ori", "actors",
                                 "victims", "start_day", "end_day", "n_queries",
                                 "external_investigation_day"]


# ---------------------------------------------------------------------- b) right to know


@pytest.fixture(scope="module")
def week():
    """A week of Orange County's operator rows, misuse made common."""
    gen = generator({"prevalence_scale": 20}, days=7, seed=5)
    chunks = list(gen.days())
    return (gen, pa.concat_tables([c.journal for c in chunks]),
            pa.concat_tables([c.truth for c in chunks]))


def test_right_to_know_is_entered_on_lawful_achs_rows_at_the_configured_rate(week):
    gen, j, truth = week
    assert j.schema == JOURNAL_SCHEMA
    key = np.asarray(KEY_NAMES)[j.column("key").combine_chunks().indices.to_numpy()]
    rtk = j.column("right_to_know").combine_chunks()
    entered = rtk.is_valid().to_numpy(zero_copy_only=False)
    achs = np.isin(key, ("QH", "QR"))
    lawful = ~np.isin(j.column("query_id").to_numpy(), truth.column("query_id").to_numpy())
    assert not entered[~achs].any()  # null on every non-ACHS row
    n = int((achs & lawful).sum())
    assert n > 1000
    assert within(int(entered[achs & lawful].sum()), n, gen.scenario.journal.queries.achs_right_to_know_probability)
    values = np.asarray(rtk.to_pylist(), dtype=object)[entered & lawful]
    assert set(values) == {"PC 11105"}


def test_right_to_know_is_not_part_of_the_answer_key(week):
    _, j, truth = week
    assert "right_to_know" not in ANSWER_KEY_FIELDS
    assert "right_to_know" not in TRUTH_SCHEMA.names and truth.schema == TRUTH_SCHEMA
    assert "right_to_know" in j.column_names


def test_misuse_rows_enter_right_to_know_less_often_and_the_ccw_rule_cites_licensing():
    gen = generator({"occasional": {"user_share": 0.5}, "misunderstood_rule": {"incidents_per_year": 15}},
                    seed=8)
    r, m = gen.misuse.rows, gen.scenario.misuse
    achs = np.isin(r["key"], ACHS_KEY_IDX)
    assert (r["right_to_know"][~achs] == -1).all()
    entered = r["right_to_know"] >= 0
    rule = r["archetype"] == ARCHETYPES.index("misunderstood_rule")
    other = achs & ~np.isin(r["archetype"], [ARCHETYPES.index("misunderstood_rule"),
                                              ARCHETYPES.index("mass_rule")])
    assert rule.sum() > 300 and other.sum() > 100
    assert within(int(entered[rule].sum()), int(rule.sum()), m.misunderstood_rule.right_to_know_probability)
    assert within(int(entered[other].sum()), int(other.sum()), m.right_to_know_probability)
    assert m.right_to_know_probability < gen.scenario.journal.queries.achs_right_to_know_probability
    licensing = r["purpose"] == PURPOSES.index("licensing")
    code = np.asarray(RIGHT_TO_KNOW)[r["right_to_know"][entered]]
    assert (code[licensing[entered]] == "PC 26150").all() and licensing[entered & rule].sum() > 50
    assert (code[~licensing[entered]] == "PC 11105").all()


def test_right_to_know_draws_leave_every_other_column_unchanged():
    """Its own streams: entering it never or always changes nothing else in the journal."""
    def journal(p_lawful, p_misuse):
        gen = generator({"prevalence_scale": 20, "right_to_know_probability": p_misuse,
                         "misunderstood_rule": {"right_to_know_probability": p_misuse},
                         "mass_rule": {"right_to_know_probability": p_misuse}},
                        queries={"achs_right_to_know_probability": p_lawful}, days=2, seed=6,
                        counties=("Mono", "Inyo"))
        return pa.concat_tables([c.journal for c in gen.days()])

    never, always = journal(0.0, 0.0), journal(1.0, 1.0)
    assert never.drop(["right_to_know"]).equals(always.drop(["right_to_know"]))
    assert never.column("right_to_know").null_count == never.num_rows
    key = np.asarray(KEY_NAMES)[always.column("key").combine_chunks().indices.to_numpy()]
    has_op = always.column("operator").is_valid().to_numpy(zero_copy_only=False)
    valid = always.column("right_to_know").is_valid().to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(valid, np.isin(key, ("QH", "QR")) & has_op)


# ---------------------------------------------------------------------- c), d) wording


def repo_text_files():
    for base in ("sim", "docs", "topology", "scenarios", "notebooks", "tests"):
        for p in (ROOT / base).rglob("*"):
            if p.suffix in (".py", ".md", ".yaml", ".ipynb") and p.resolve() != Path(__file__).resolve():
                yield p
    yield ROOT / "README.md"


def test_case_number_is_recommended_not_required():
    # "case/call number ... required" within a clause (the old wording), but not "not required"
    required = re.compile(r"(case|call)[ /_-]*(call[ /_-]*)?number[^.;\n|]{0,40}(?<!not )requir", re.I)
    for p in repo_text_files():
        for line in p.read_text(errors="replace").splitlines():
            assert not required.search(line), f"{p.relative_to(ROOT)}: {line.strip()}"
    assert "recommended" in Queries.model_fields["achs_case_number_probability"].description
    assert "right to know" in Queries.model_fields["achs_right_to_know_probability"].description


def test_the_seed_says_county_control_agency():
    wrong = "client control " + "agency"  # spelled apart so this file does not match itself
    for p in repo_text_files():
        assert wrong not in p.read_text(errors="replace").lower(), p.relative_to(ROOT)
    assert "County Control Agency" in (ROOT / "README.md").read_text()


# ---------------------------------------------------------------------- e) immigration rule


def immigration_rows(start, **ap):
    gen = generator({"agency_purpose": ap} if ap else None, start=start, days=365, seed=4)
    r = gen.misuse.rows
    sel = r["category"] == CATEGORY_NAMES.index("immigration_enforcement")
    return r["time"][sel] // DAY


def test_immigration_lookups_are_misuse_only_after_the_ppp_rule():
    effective = day_number(Misuse().agency_purpose.rule_effective)
    assert effective == day_number(date(2019, 2, 1))
    assert len(immigration_rows("2017-01-01")) == 0
    in_2019 = immigration_rows("2019-01-01")
    assert len(in_2019) > 1000 and in_2019.min() >= effective
    # straddling the date: only the days after it; and the date, not the year, decides
    straddle = immigration_rows("2018-06-01")
    assert len(straddle) > 0 and straddle.min() >= effective
    assert len(immigration_rows("2017-01-01", rule_effective="2017-01-01")) > 1000


# ---------------------------------------------------------------------- f) prevalence


def test_occasional_default_lies_between_the_minnesota_bounds():
    documented = 88 / 11_000  # misuses documented per user in FY2012 (lower bound)
    questionable = 0.5 * 1.2  # over half the users, ~1.2 questionable lookups each (upper bound)
    o = Occasional()
    assert documented < o.user_share * o.lookups_per_year < questionable
    gen = generator(days=730, seed=9, counties=("Orange", "San Diego"))
    n_ops = int(np.isin(gen.world.operators.role, QUERY_ROLES).sum())
    occ = gen.misuse.rows["archetype"] == ARCHETYPES.index("occasional")
    per_user_year = occ.sum() / n_ops / 2
    assert documented < per_user_year < questionable
    # and it is the configured rate: lognormal x Poisson, relative sd < 10% here
    users = n_ops * o.user_share
    rel_sd = math.sqrt((math.exp(o.heavy_tail_sigma**2) + 1 / (2 * o.lookups_per_year)) / users)
    assert abs(per_user_year / (o.user_share * o.lookups_per_year) - 1) < 4 * rel_sd
    doc = (ROOT / "docs" / "journal.md").read_text()
    assert "### Prevalence" in doc and "88 / 11,000" in doc


# ---------------------------------------------------------------------- g) ICE Orange County


def test_ice_orange_county_is_a_dhs_ori_and_runs_immigration_lookups():
    s = Scenario(name="t")
    G = build_topology(s.topology, s.network, Streams(1))
    direct = {d["name"]: n for n, d in G.nodes(data=True) if d.get("direct_connect")}
    assert len(direct) == len(Agencies().direct_connect)
    node = direct["DHS ICE Orange County"]
    assert G.nodes[node]["dhs"] and G.has_edge(node, HUB) and G.nodes[node]["county"] == ""
    gen = generator(start="2019-03-01", days=60, seed=2)
    ag = gen.world.agencies
    idx = int(np.flatnonzero(ag["name"] == "DHS ICE Orange County")[0])
    r = gen.misuse.rows
    mine = (gen.world.operators.agency[r["operator"]] == idx) \
        & (r["archetype"] == ARCHETYPES.index("agency_purpose"))
    assert mine.sum() > 0.5 * gen.scenario.misuse.agency_purpose.lookups_per_agency_day * 60
