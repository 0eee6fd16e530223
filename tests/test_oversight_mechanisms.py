"""The mechanisms of the oversight loop, one by one, on small worlds (5 counties, 1 year).

Each test states a property the model claims (docstrings of `sim.oversight.*`) and checks it
against quantities computed here from the run's outputs, never against numbers the code
under test produced for itself:

* common random numbers: a policy that changes audits leaves other processes' draws alone;
* deterrence thins the potential misuse rows (the misuse generator's whole horizon, drawn
  before the loop starts: ``model.gen.misuse.rows``); a realised row is a row of
  ``result.truth`` joined to its journal row (``result.misuse_journal``) for its operator;
* audits are a sampling procedure with a budget and consequences; forms, the CAC, Carlsbad.

Statistical checks use 4-standard-deviation binomial bounds (false alarm < 1e-4 a check).
A row's fate on the day a case closes depends on the order of two same-day SimPy events,
so those boundary days are left out of the counts.

Runs are shared between tests (about ten runs of 1 year; ~1.5 minutes on 2 cores).
"""

from __future__ import annotations

import math
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
import pytest

from sim.catalogue import ARCHETYPES
from sim.config.oversight import Behaviour
from sim.oversight import STREAMS
from sim.oversight.cases import STATUTES
from tests.test_oversight import day_of, run, scenario

RULE_ARCHETYPES = ("misunderstood_rule", "mass_rule")
# a lot of background misuse, so that every mechanism acts on thousands of rows
HEAVY = {"occasional": {"user_share": 0.5, "lookups_per_year": 30}}


def four_sd(k: float, mean: float, var: float) -> bool:
    """|k - mean| within 4 standard deviations (+1 for discreteness)."""
    return abs(k - mean) <= 4 * math.sqrt(var) + 1


def only_behaviour(**kw) -> dict:
    """Deterrence on with every general effect (any ``*_effect``) and retraining off, then `kw`."""
    b = {f: 0.0 for f in Behaviour.model_fields if f.endswith("_effect")}
    b.update(retraining_probability=0.0, deterrence=True)
    b.update(kw)
    return b


# ---------------------------------------------------------------------- the runs

# no operator or agency is ever taken out (dismissed, suspended, sanctioned): every potential
# misuse row is stopped by deterrence or by nothing
NO_REMOVAL = {"detection": {"random_audit_rate": 0.02},
              "investigation": {"budget_base": 1000, "mean_days": 10,
                                "outcome_shares": {"counselling": 1}},
              "cac": {"enforce": False}}
NO_REMOVAL_MISUSE = {**HEAVY, "serious_case": {"incidents_per_year": 0}}  # Carlsbad: terminated


def crn_config(cycle_years: int, underreport_share: float, auditor_days: float = 1000.0) -> dict:
    many_complaints = {c: 0.3 for c in ("family_lookup", "friend_lookup", "dmv_personal_lookup",
                                        "ex_partner_lookup", "high_profile_lookup")}
    return scenario({"audits": {"cycle_years": cycle_years, "cover_story_probability": 0.0,
                                "cover_story_by_category": {}, "auditor_days_per_year": auditor_days},
                     "follow_up": {"regime": "proactive"},
                     "reporting": {"underreport_share": underreport_share},
                     "investigation": {"mean_days": 3},
                     "detection": {"complaints": {"learn_probability": many_complaints,
                                                  "unfounded_per_million": 500}}},
                    misuse=HEAVY)


AUDIT_CONFIG = {"cycle_years": 1, "retention_days": 150, "sample_per_operator": 100_000,
                "lawful_unjustified": 0.0, "cover_story_by_category": {}}
ALL_FILE = {"base_propensity": 0.999, "heterogeneity_sd": 0.0, "underreport_share": 0.0}


def audit_config(cover: float) -> dict:
    return scenario({"audits": {**AUDIT_CONFIG, "cover_story_probability": cover, "cover_without_case": 1.0},
                     "reporting": ALL_FILE},
                    misuse={"occasional": {"user_share": 0.3, "lookups_per_year": 10},
                            "serious_case": {"incidents_per_year": 20}})


CONFIGS = {
    # common random numbers: differ only in the audit cycle (units that file all they have)
    "crn_cycle1": lambda: crn_config(1, 0.0),
    "crn_cycle3": lambda: crn_config(3, 0.0),
    # every unit leaves cases out: differ only in the audit budget
    "under_big_budget": lambda: crn_config(1, 1.0),
    "under_small_budget": lambda: crn_config(1, 1.0, auditor_days=5.0),
    # deterrence: only specific deterrence acts; and the same world without deterrence
    "specific": lambda: scenario({**NO_REMOVAL, "behaviour": only_behaviour(specific_factor=0.2)},
                                 misuse=NO_REMOVAL_MISUSE),
    "no_deterrence": lambda: scenario({**NO_REMOVAL, "behaviour": only_behaviour(
        specific_factor=0.2, deterrence=False)}, misuse=NO_REMOVAL_MISUSE),
    # only general deterrence after confirmed cases acts
    "general": lambda: scenario({**NO_REMOVAL, "behaviour": only_behaviour(
        specific_factor=1.0, agency_case_effect=1.0)}, misuse=NO_REMOVAL_MISUSE),
    # every finding leads to a retraining; many long Chula Vista incidents
    "retraining": lambda: scenario(
        {"detection": {"rules": {"enabled": ["achs_noncriminal_purpose"]}},
         "investigation": {"budget_base": 1000, "mean_days": 10},
         "behaviour": {"retraining_probability": 1.0}},
        misuse={"misunderstood_rule": {"incidents_per_year": 6, "lookups": {"min": 100, "max": 200},
                                       "duration_days": 300}}),
    # audits that see every row: nobody covers, or everybody does
    "audit_no_cover": lambda: audit_config(0.0),
    "audit_all_cover": lambda: audit_config(1.0),
}


@cache
def get(name: str):
    return run(CONFIGS[name]())


@pytest.fixture(scope="module", autouse=True)
def _free_runs():
    yield
    get.cache_clear()  # the cached models hold ~0.5 GB: not for the rest of the session


# ---------------------------------------------------------------------- helpers


def potential_rows(model) -> pd.DataFrame:
    """Every potential misuse row of the horizon: day, operator, agency, archetype name."""
    rows = model.gen.misuse.rows
    op = rows["operator"].astype(np.int64)
    return pd.DataFrame({"day": (rows["time"] // 86400).astype(np.int64), "operator": op,
                         "agency": model.world.operators.agency[op].astype(np.int64),
                         "archetype": np.asarray(ARCHETYPES)[rows["archetype"]]})


def realised_rows(model, r) -> pd.DataFrame:
    """The misuse rows that happened: the answer key joined to their journal rows."""
    j = r.misuse_journal[["query_id", "operator", "time"]]
    t = r.truth.merge(j, on="query_id", how="left", validate="one_to_one")
    assert t["operator"].notna().all()
    op = t["operator"].astype(np.int64).to_numpy()
    day = pd.to_datetime(t["time"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    assert (day == t["day"].to_numpy()).all()
    return pd.DataFrame({"query_id": t["query_id"].to_numpy(), "day": day, "operator": op,
                         "agency": model.world.operators.agency[op].astype(np.int64),
                         "archetype": t["archetype"].astype(str).to_numpy()})


def per_operator_day(df: pd.DataFrame) -> pd.Series:
    return df.groupby(["operator", "day"]).size()


def journal_end(model) -> int:
    return model.first_day + model.journal_days


def confirmed_cases(r) -> pd.DataFrame:
    inv = r.investigations
    return inv[inv["confirmed"] == True]  # noqa: E712  (None while open)


# ---------------------------------------------------------------------- 1. random streams


def test_stream_names():
    assert set(STREAMS) == {"complaints", "review", "investigation", "reporting", "follow_up",
                            "audit", "cac", "deterrence"}
    assert len(STREAMS) == 8


def _first_audit_of_unit(runs) -> dict[int, int]:
    """Reporting unit -> the first day an audit reached any of its agencies, in any of the runs."""
    first: dict[int, int] = {}
    for r in runs:
        unit = r.agencies["reporting_unit"].to_numpy()
        for a, d in zip(r.audits["agency"], r.audits["day"]):
            u = int(unit[a])
            first[u] = min(first.get(u, 10**9), int(d))
    return first


def _decisions_before_audit(r, first: dict[int, int]) -> pd.DataFrame:
    d = r.filing_decisions
    reached = d["agency"].map(lambda u: first.get(int(u), 10**9))
    cols = ["report_year", "point", "day", "agency", "propensity", "filed"]
    return (d[d["day"] < reached][cols].sort_values(["agency", "day", "point"])
            .reset_index(drop=True))


def _assert_same_decisions_for_unaudited(name_a: str, name_b: str) -> None:
    (_, ra), (_, rb) = get(name_a), get(name_b)
    # the policy change is real: the two runs audit different agencies on different days
    audits = [set(zip(r.audits["day"], r.audits["agency"])) for r in (ra, rb)]
    assert audits[0] != audits[1]
    first = _first_audit_of_unit([ra, rb])
    assert (ra.agencies["reporting_unit"].to_numpy() == rb.agencies["reporting_unit"].to_numpy()).all()
    # some units were reached by an audit before some of their decisions (those may differ) ...
    all_a = ra.filing_decisions
    reached = all_a["day"] >= all_a["agency"].map(lambda u: first.get(int(u), 10**9))
    assert reached.any()
    # ... the others decide exactly alike: same points, same propensity, same decision
    da, db = _decisions_before_audit(ra, first), _decisions_before_audit(rb, first)
    assert da["agency"].nunique() >= 10 and da["point"].nunique() >= 2
    pd.testing.assert_frame_equal(da, db)


def test_crn_filing_decisions_of_units_no_audit_reached():
    """Changing the audit cycle (1 vs 3 years) leaves the filing decisions of every unit that
    no audit has reached yet, in either run, exactly as they were (proactive follow-up, so
    each unit decides at several points)."""
    _assert_same_decisions_for_unaudited("crn_cycle1", "crn_cycle3")


def test_crn_filing_decisions_with_underreporting_units():
    """The same property when units leave cases out of their forms (underreport_share 1):
    a change of audit budget must not move the draws of units no audit reached."""
    _assert_same_decisions_for_unaudited("under_big_budget", "under_small_budget")


def test_crn_complaints_before_the_first_audit():
    """Complaints about lookups made before either run's first audit are identical (who
    complains, when, founded or not): their draws are fixed per potential row and per day."""
    (_, ra), (_, rb) = get("crn_cycle1"), get("crn_cycle3")
    first = min(ra.audits["day"].min(), rb.audits["day"].min())
    cols = ["query_id", "operator", "lookup_day", "arrival_day", "founded"]

    def before(r):
        c = r.complaints
        return c[c["lookup_day"] < first][cols].sort_values(cols).reset_index(drop=True)

    ca, cb = before(ra), before(rb)
    assert len(ca) >= 10 and ca["founded"].any() and (~ca["founded"]).any()
    pd.testing.assert_frame_equal(ca, cb)
    # and the runs did diverge afterwards (the comparison is not vacuous)
    later = [r.complaints[r.complaints["lookup_day"] >= first] for r in (ra, rb)]
    assert not later[0][cols].reset_index(drop=True).equals(later[1][cols].reset_index(drop=True))


# ---------------------------------------------------------------------- 2-4. deterrence


def test_no_deterrence_every_potential_row_happens():
    """Deterrence off (and nobody dismissed, suspended or sanctioned): every potential misuse
    row happens, row for row; with deterrence on, in the same world, fewer do."""
    m_off, off = get("no_deterrence")
    m_on, on = get("specific")
    assert len(confirmed_cases(off)) >= 50  # deterrence would have had cases to act on
    assert off.behaviour_events.empty
    assert (off.yearly["true_misuse_rows"] == off.yearly["potential_misuse_rows"]).all()
    assert (off.yearly["potential_misuse_rows"] > 1000).all()
    pot = per_operator_day(potential_rows(m_off))
    real = per_operator_day(realised_rows(m_off, off))
    pd.testing.assert_series_equal(real.sort_index(), pot.sort_index(), check_names=False)
    # on: the same potential rows (drawn before the loop), fewer realised
    assert (on.yearly["potential_misuse_rows"] == off.yearly["potential_misuse_rows"]).all()
    assert (on.yearly["true_misuse_rows"] <= on.yearly["potential_misuse_rows"]).all()
    assert on.yearly["true_misuse_rows"].sum() < on.yearly["potential_misuse_rows"].sum()


def test_true_never_exceeds_potential_with_deterrence_on():
    for name in ("specific", "general", "retraining", "crn_cycle1"):
        _, r = get(name)
        assert r.scenario.oversight.behaviour.deterrence
        y = r.yearly
        assert (y["true_misuse_rows"] <= y["potential_misuse_rows"]).all(), name


def test_specific_deterrence_thins_the_operators_own_rows():
    """Only specific deterrence acting: a confirmed operator's potential rows in the
    `specific_days` after the case closes happen with probability `specific_factor`
    (binomial, 4 sd); all their other rows, and everyone else's, happen."""
    model, r = get("specific")
    b = r.scenario.oversight.behaviour
    assert r.discipline["outcome"].eq("counselling").all()  # nobody taken out
    conf = confirmed_cases(r)
    assert len(conf) >= 100
    pot = potential_rows(model)
    pot = pot[pot["day"] < journal_end(model)]
    in_window = np.zeros(len(pot), dtype=bool)
    boundary = np.zeros(len(pot), dtype=bool)
    p_op, p_day = pot["operator"].to_numpy(), pot["day"].to_numpy()
    for op, closed in zip(conf["operator"], conf["closed_day"]):
        mine = p_op == op
        in_window |= mine & (p_day > closed) & (p_day < closed + b.specific_days)
        boundary |= mine & (p_day == closed)
    real = per_operator_day(realised_rows(model, r))

    def realised_among(mask) -> tuple[int, int]:
        want = per_operator_day(pot[mask])
        return int(want.sum()), int(real.reindex(want.index).fillna(0).sum())

    n, k = realised_among(in_window & ~boundary)
    p = b.specific_factor
    assert n >= 2000
    assert four_sd(k, n * p, n * p * (1 - p)), (k, n, n * p)
    n_out, k_out = realised_among(~in_window & ~boundary)
    assert n_out > 10_000 and k_out == n_out
    # every realised row is accounted for (no row happens that was not potential)
    assert real.sum() == k + k_out + realised_among(boundary)[1]


def test_general_deterrence_after_a_confirmed_case():
    """Only general deterrence after confirmed cases acting (effect E, half-life h): a row of
    agency a on day t happens with probability exp(-sum_cases E 2^(-(t - c)/h)). Colleagues'
    rows in the 60 days after a case happen far less often than rows where the agency had no
    case yet (all of which happen), and the realised count matches the exact expectation."""
    model, r = get("general")
    b = r.scenario.oversight.behaviour
    conf = confirmed_cases(r)
    assert len(conf) >= 50 and conf["agency"].nunique() >= 10
    pot = potential_rows(model)
    pot = pot[pot["day"] < journal_end(model)].reset_index(drop=True)
    p_ag, p_op, p_day = (pot[c].to_numpy() for c in ("agency", "operator", "day"))
    risk = np.zeros(len(pot))
    boundary = np.zeros(len(pot), dtype=bool)
    colleague = np.zeros(len(pot), dtype=bool)
    for a, op, closed in zip(conf["agency"], conf["operator"], conf["closed_day"]):
        same = p_ag == a
        after = same & (p_day > closed)
        risk[after] += b.agency_case_effect * 2.0 ** (-(p_day[after] - closed) / b.agency_half_life_days)
        boundary |= same & (p_day == closed)
        colleague |= after & (p_day <= closed + 60) & (p_op != op)
    pot["m"] = np.exp(-risk)
    real = per_operator_day(realised_rows(model, r))
    keep = pot[~boundary]
    g = keep.groupby(["operator", "day"]).agg(n=("m", "size"), m=("m", "first"))
    g["k"] = real.reindex(g.index).fillna(0).to_numpy()
    g["colleague"] = pd.Series(colleague[~boundary], index=keep.index).groupby(
        [keep["operator"], keep["day"]]).first()
    g["no_case_yet"] = g["m"] == 1.0

    def share(sel):
        s = g[sel]
        mean, var = (s["n"] * s["m"]).sum(), (s["n"] * s["m"] * (1 - s["m"])).sum()
        return int(s["n"].sum()), int(s["k"].sum()), mean, var

    n0, k0, _, _ = share(g["no_case_yet"])
    assert n0 > 5000 and k0 == n0  # no case yet in the agency: every row happens
    n1, k1, mean1, var1 = share(g["colleague"])
    assert n1 >= 1000
    assert k1 / n1 < 1 - 0.2  # far below 1 ...
    assert k1 + 4 * math.sqrt(var1) < n1  # ... significantly
    assert four_sd(k1, mean1, var1), (k1, mean1, math.sqrt(var1))  # and as the formula says
    n, k, mean, var = share(slice(None))
    assert four_sd(k, mean, var), (k, mean, math.sqrt(var))


def test_retraining_ends_a_misunderstood_rule_and_renews_certification():
    """After an agency retrains, none of its misunderstood-rule rows happen any more (there
    were potential ones), and its operators are trained, tested and signed on that day."""
    model, r = get("retraining")
    b = r.scenario.oversight.behaviour
    ev = r.behaviour_events
    ret = ev[ev["kind"] == "retraining"]
    assert len(ret) >= 5
    pot = potential_rows(model)
    real = realised_rows(model, r)
    pot_rule = pot[pot["archetype"].isin(RULE_ARCHETYPES)]
    real_rule = real[real["archetype"].isin(RULE_ARCHETYPES)]
    stopped = 0
    audit_findings = r.audits[r.audits["finding"]]
    ops = model.world.operators
    for a, day in zip(ret["agency"], ret["day"]):
        assert not len(real_rule[(real_rule["agency"] == a) & (real_rule["day"] > day)])
        if len(pot_rule[(pot_rule["agency"] == a) & (pot_rule["day"] > day)]):
            assert len(real_rule[(real_rule["agency"] == a) & (real_rule["day"] <= day)]) > 0
            stopped += 1
        # it followed a confirmed case or an audit finding there, retraining_delay_days before
        trigger = day - b.retraining_delay_days
        assert (((ev["kind"] == "case") & (ev["agency"] == a) & (ev["day"] == trigger)).any()
                or ((audit_findings["agency"] == a) & (audit_findings["day"] == trigger)).any())
        if day == ret.loc[ret["agency"] == a, "day"].max():
            mine = np.flatnonzero(ops.agency == a)
            assert len(mine)
            assert (ops.test_day[mine] == day).all()
            assert (ops.confidentiality_day[mine] == day).all()
            assert (ops.training_day[mine] <= day).all() and (ops.test_score[mine] >= 70).all()
    assert stopped >= 1  # a retraining did stop a rule still being broken


# ---------------------------------------------------------------------- 6. audits


def _rows_in_audit_window(model, r, real: pd.DataFrame) -> np.ndarray:
    ret = r.scenario.oversight.audits.retention_days
    out = []
    for a, day in zip(r.audits["agency"], r.audits["day"]):
        lo = max(model.first_day, day - ret)
        out.append(int(((real["agency"] == a) & (real["day"] >= lo) & (real["day"] < day)).sum()))
    return np.array(out, dtype=np.int64)


def test_audit_finds_every_row_in_the_retention_window_when_nobody_covers():
    model, r = get("audit_no_cover")
    au = r.audits
    real = realised_rows(model, r)
    expected = _rows_in_audit_window(model, r, real)
    assert (au["unjustified"].to_numpy() == expected).all()
    assert (au["misuse_sampled"].to_numpy() == expected).all()
    assert (expected > 0).sum() >= 20
    # the window is the retention period: audits late in the year do not see the early rows
    ret = r.scenario.oversight.audits.retention_days
    assert (au["day"] - ret > model.first_day).sum() >= 20
    assert (au["lawful_unjustified"] == 0).all()
    assert (au["finding"] == ((au["unjustified"] > 0)
                              | (au["noncompliant_share"] > r.scenario.oversight.audits.finding_share))).all()


def test_audit_finds_nothing_when_everybody_covers():
    model, r = get("audit_all_cover")
    au = r.audits
    expected = _rows_in_audit_window(model, r, realised_rows(model, r))
    assert (au["misuse_sampled"].to_numpy() == expected).all() and expected.sum() > 100
    assert (au["unjustified"] == 0).all()
    assert not (r.investigations["source"] == "audit").any()
    assert au["archetypes"].eq("").all()


def test_auditor_days_budget_and_cost():
    (_, big), (_, small) = get("under_big_budget"), get("under_small_budget")
    for r in (big, small):
        au = r.audits
        cfg = r.scenario.oversight.audits
        # cost: a base plus a share per 100 query operators
        assert np.allclose(au["auditor_days"], cfg.days_base + cfg.days_per_100_operators * au["operators"] / 100)
        by_ops = au.groupby("operators")["auditor_days"].agg(["min", "max"]).sort_index()
        assert (by_ops["min"] == by_ops["max"]).all()  # the same size, the same cost
        assert (np.diff(by_ops["min"].to_numpy()) > 0).all()  # more operators cost more
        spent = au.groupby(pd.to_datetime(au["day"], unit="D").dt.year)["auditor_days"].sum()
        assert (spent <= cfg.auditor_days_per_year + 1e-9).all()
        y = r.yearly.set_index("year")["auditor_days"]
        for year, v in y.items():
            assert v == pytest.approx(spent.get(year, 0.0), abs=0.01)
    assert big.audits["operators"].nunique() >= 3
    # the small budget defers: fewer audits, each on its scheduled day or on a later 1 January
    assert len(small.audits) < len(big.audits) / 3
    scheduled = set(zip(big.audits["agency"], big.audits["day"]))
    new_years = {day_of(date(y, 1, 1)) for y in range(2017, 2021)}
    deferred = 0
    for a, d in zip(small.audits["agency"], small.audits["day"]):
        if (a, d) not in scheduled:
            assert d in new_years
            deferred += 1
    assert deferred >= 1


def test_audit_findings_open_cases_fill_the_form_and_reach_the_cac():
    model, r = get("audit_no_cover")
    au, inv = r.audits, r.investigations
    real = realised_rows(model, r)
    ret = r.scenario.oversight.audits.retention_days
    dhs = r.agencies["dhs"].to_numpy()
    audit_cases = inv[inv["source"] == "audit"]
    assert len(audit_cases) >= 20
    checked = 0
    for a, day in zip(au["agency"], au["day"]):
        opened = audit_cases[(audit_cases["agency"] == a) & (audit_cases["opened_day"] == day)]
        lo = max(model.first_day, day - ret)
        failed = set(real.loc[(real["agency"] == a) & (real["day"] >= lo) & (real["day"] < day),
                              "operator"])
        assert set(opened["operator"]) <= failed
        if dhs[a]:
            assert opened.empty  # DHS components open no case
            continue
        for op in failed - set(opened["operator"]):  # already under investigation, or gone
            theirs = inv[inv["operator"] == op]
            busy = (theirs["opened_day"] <= day) & (theirs["closed_day"].isna() | (theirs["closed_day"] >= day))
            gone = (theirs["outcome"].isin(["termination", "resignation"])
                    & (theirs["closed_day"] <= day))
            assert busy.any() or gone.any(), (a, day, op)
        checked += len(failed)
    assert checked >= 20
    assert audit_cases["truly_misuse"].all()
    # the unit's form for the year carries its audits' unjustified counts
    unit = r.agencies["reporting_unit"].to_numpy()
    year = pd.to_datetime(au["day"], unit="D").dt.year
    per_unit = au.assign(unit=unit[au["agency"]], year=year).groupby(["unit", "year"])["unjustified"].sum()
    rep = r.reports.set_index(["agency", "report_year"])["audit_findings"]
    assert rep.sum() > 0
    for (u, y), v in rep.items():
        assert v == per_unit.get((u, y), 0)
    # agency-level findings go to the CAC, which by default acts on none of them
    items = r.cac_items[r.cac_items["kind"] == "audit_finding"]
    found = au[au["finding"]]
    assert len(found) >= 10
    assert sorted(zip(items["agency"], items["referred_day"])) == sorted(zip(found["agency"], found["day"]))
    assert (items["discussed"] >= 1).all()
    assert not (items["status"] == "acted").any()
    assert not r.sanctions["reason"].astype(str).str.startswith("audit_finding").any()


# ---------------------------------------------------------------------- 7. forms


def test_one_form_per_reporting_unit_and_chp_through_headquarters():
    for name in ("audit_no_cover", "crn_cycle1"):
        model, r = get(name)
        ag = r.agencies
        types = ag["agency_type"].to_numpy()
        hq = np.flatnonzero(types == "chp_hq")
        areas = np.flatnonzero(types == "chp_area")
        assert len(hq) == 1 and len(areas) >= 10
        assert (ag["reporting_unit"].to_numpy()[areas] == hq[0]).all()
        units = set(ag["reporting_unit"])
        rep = r.reports
        assert len(rep) > 0
        assert not rep["agency"].isin(areas).any()
        assert set(rep["agency"]) <= units
        assert not rep.duplicated(["agency", "report_year"]).any()
        assert (r.compliance["agencies"] == len(units)).all()
        hq_forms = rep[rep["agency"] == hq[0]]
        assert len(hq_forms) >= (1 if name == "audit_no_cover" else 0)  # there everyone files
        oris = model.world.oris
        area_oris = set(oris.loc[oris["agency"].isin(areas), "ori"])
        for listed in hq_forms["oris"]:
            assert area_oris <= set(listed.split(","))
    # with everybody filing, every unit files exactly once a year
    _, r = get("audit_no_cover")
    n_units = r.agencies["reporting_unit"].nunique()
    assert (r.reports.groupby("report_year").size() == n_units).all()


# ---------------------------------------------------------------------- 8. Carlsbad


def test_carlsbad_internal_affairs_termination_and_referral():
    """A serious case (an officer charged for something else) opens an internal-affairs case
    on the day of the outside investigation; confirmed, it ends in termination with a
    criminal referral naming a statute."""
    model, r = get("audit_no_cover")
    inc = r.incidents[r.incidents["archetype"] == "serious_case"]
    inv = r.investigations
    ia = inv[inv["source"] == "internal_affairs"]
    dhs = r.agencies["dhs"].to_numpy()
    statutes = set(STATUTES.values())
    opened = 0
    for actors, day in zip(inc["actors"], inc["external_investigation_day"]):
        op = int(actors[0])
        if not model.first_day <= day < journal_end(model):
            continue
        mine = ia[(ia["operator"] == op) & (ia["opened_day"] == day)]
        if dhs[model.world.operators.agency[op]]:
            assert mine.empty
            continue
        if mine.empty:  # only if a case on them was already open that day
            theirs = inv[inv["operator"] == op]
            assert ((theirs["opened_day"] <= day)
                    & (theirs["closed_day"].isna() | (theirs["closed_day"] >= day))).any()
            continue
        opened += 1
    assert opened >= 8 and len(ia) == opened
    conf = ia[ia["confirmed"] == True]  # noqa: E712
    assert len(conf) >= 3
    assert (conf["outcome"] == "termination").all()
    for ref in conf["referral"]:
        assert isinstance(ref, str) and ref
        assert set(ref.split("; ")) <= statutes
    disc = r.discipline[r.discipline["case_id"].isin(conf["case_id"])]
    assert (disc["outcome"] == "termination").all() and len(disc) == len(conf)
    assert model.dismissed[conf["operator"].to_numpy()].all()
