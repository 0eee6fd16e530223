"""The oversight loop on small worlds: deadlines, schedules, budgets, ladder, feedback, metrics."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.config import parse_scenario
from sim.metrics import detection_metrics
from sim.oversight import OversightModel, cal
from sim.oversight.cases import statutes_for
from sim.rng import Streams
from sim.world import day_number

COUNTIES = ["Alpine", "Sierra", "Modoc", "Mono", "Inyo"]


def scenario(oversight: dict, years=1, **extra) -> dict:
    d = {"name": "o", "seed": 4, "model": "oversight", "topology": {"counties": COUNTIES},
         "journal": {"start_date": "2018-01-01"},
         "oversight": {"years": years, "warmup_days": 30, **oversight}}
    d.update(extra)
    return d


def run(d: dict, seed=4):
    model = OversightModel(parse_scenario(d), Streams(seed))
    return model, model.run()


def day_of(d: date) -> int:
    return day_number(d)


PROACTIVE_2018 = {"regime": "proactive", "bulletin_date": "2018-04-17", "public_listing": True,
                  "refer_to_cac": True}
NEVER_FILE = {"base_propensity": 0.0, "habit": 0.0,
              "effects": {k: 0.0 for k in ("bulletin", "reminder", "call", "audit", "listing", "censure")}}


def test_feb_1_deadline_follow_up_and_census():
    model, r = run(scenario({"follow_up": {"regime": "proactive"}}, years=2))
    rep = r.reports
    for year in (2018, 2019):
        opens, deadline = day_of(date(year + 1, 1, 1)), day_of(date(year + 1, 2, 1))
        mine = rep[rep["report_year"] == year]
        assert (mine["submitted_day"] >= opens).all()
        calls = r.follow_ups[(r.follow_ups["report_year"] == year) & (r.follow_ups["kind"] == "outreach_call")]
        late = mine[mine["submitted_day"] >= deadline]
        # every late form follows an outreach call to that agency
        for _, row in late.iterrows():
            called = calls[(calls["agency"] == row["agency"]) & (calls["day"] < row["submitted_day"])]
            assert len(called) > 0
        reminders = r.follow_ups[(r.follow_ups["report_year"] == year) & (r.follow_ups["kind"] == "reminder")]
        assert (reminders["day"] == deadline - 30).all()
        census = r.compliance[r.compliance["report_year"] == year].iloc[0]
        cutoff = deadline + 120
        assert census["reported"] == (mine["submitted_day"] < cutoff).sum()
        assert census["reported_share"] == pytest.approx(census["reported"] / census["agencies"])


def test_cac_meets_on_schedule_and_refers_non_reporters_after_outreach():
    model, r = run(scenario({"cac": {"meeting_days_of_year": [40, 200]}, "follow_up": PROACTIVE_2018,
                             "reporting": {**NEVER_FILE, "base_propensity": 0.3}}))
    days = sorted(r.cac_meetings["day"])
    expected = [day_of(date(y, 1, 1)) + d - 1 for y in (2018, 2019, 2020) for d in (40, 200)]
    assert days == [d for d in expected if model.first_day <= d < model.first_day + model.n_days]
    # referred (and posted) the day after the last outreach call, not at the deadline
    outreach_end = day_of(date(2019, 2, 1)) + 3 * 14  # the fourth call, 14 days apart from the deadline
    listed = r.public_list[r.public_list["report_year"] == 2018]
    filed = r.reports[r.reports["report_year"] == 2018]
    on_time = set(filed.loc[filed["submitted_day"] <= outreach_end + 1, "agency"])
    units = set(r.agencies["reporting_unit"])
    assert len(listed) > 0 and set(listed["agency"]) == units - on_time
    assert (listed["listed_day"] == outreach_end + 1).all()
    items = r.cac_items[r.cac_items["report_year"] == 2018]
    assert set(items["agency"]) == set(listed["agency"])
    assert (items["referred_day"] == outreach_end + 1).all()


def test_no_sanction_by_mid_2019_even_if_nobody_files():
    """The record: items referred and discussed, no sanction imposed by mid-2019 (seed 004)."""
    _, r = run(scenario({"follow_up": PROACTIVE_2018, "reporting": NEVER_FILE}, years=2))
    items = r.cac_items
    assert len(items) >= len(set(r.agencies["reporting_unit"]))
    mid_2019 = day_of(date(2019, 7, 1))
    assert not (r.sanctions["day"] < mid_2019).any()
    discussed = items[items["referred_day"] < mid_2019]
    assert (discussed["discussed"] >= 1).all()
    # later the CAC does act on some persistent items, but never on all of them
    acted = items[items["status"] == "acted"]
    assert 0 < len(acted) < len(items)


def test_sanction_ladder_climbs_only_on_repeated_items_and_cuts_traffic():
    d = scenario({"reporting": NEVER_FILE, "follow_up": {"regime": "passive", "refer_to_cac": True},
                  "audits": {"cyclical": False},
                  "cac": {"deliberation_meetings": 1,
                          "act_probability": {"non_reporting": 1.0, "persistent_non_reporting": 1.0}}},
                 years=3)
    model, r = run(d)
    s = r.sanctions[r.sanctions["step"].isin(["censure", "suspension", "removal"])]
    items = r.cac_items.set_index("item_id")
    assert len(s) > 0
    for _agency, g in s.groupby("agency"):
        steps = list(g.sort_values("day")["step"])
        assert steps == ["censure", "suspension", "removal"][: len(steps)]
        assert len(steps) == 3  # three years without a form: removed
        acted = items[(items["agency"] == _agency) & (items["status"] == "acted")]
        assert acted["report_year"].nunique() == len(acted) == 3  # one step per distinct item
    assert r.agencies["removed"].all()
    # a removed agency's people and devices stop generating traffic
    last = model.first_day + model.n_days - 1
    assert len(model.lawful.operator_rows(last)["time"]) == 0
    assert len(model.lawful.automated_rows(last)["time"]) == 0
    # suspensions ended with service restored before the removal
    restored = r.sanctions[r.sanctions["step"] == "service_restored"]
    assert len(restored) == len(set(r.agencies["reporting_unit"]))
    # removed agencies stay in the compliance denominator
    c = r.compliance.set_index("report_year")
    assert (c["agencies"] == len(set(r.agencies["reporting_unit"]))).all()


def test_suspended_agency_stops_and_resumes():
    model = OversightModel(parse_scenario(scenario({})), Streams(1))
    lawful = model.lawful
    day = model.first_day
    agency = int(np.bincount(model.world.operators.agency).argmax())
    before = lawful.operator_rows(day)
    assert (model.world.operators.agency[before["operator"]] == agency).any()
    lawful.agency_active[agency] = False
    during = lawful.operator_rows(day)
    assert not (model.world.operators.agency[during["operator"]] == agency).any()
    auto = lawful.automated_rows(day)
    assert not (model.world.device_agency[auto["device"]] == agency).any()
    lawful.agency_active[agency] = True
    after = lawful.operator_rows(day)
    assert (model.world.operators.agency[after["operator"]] == agency).any()


@pytest.mark.parametrize("overflow", ["wait", "drop"])
def test_investigator_budget_caps_reviews(overflow):
    d = scenario({"detection": {"random_audit_rate": 0.05},
                  "investigation": {"budget_base": 1.0, "budget_per_100_operators": 0.0,
                                    "overflow": overflow}})
    model, r = run(d)
    a = r.alerts
    reviewed = a[a["status"] == "reviewed"]
    assert len(reviewed) > 0
    months = pd.to_datetime(reviewed["day"], unit="D").dt.to_period("M")
    # reviews happen on the 1st of the month for the alerts queued before; at most 1 per agency-month
    by = model.cases.reviewed
    review_days = pd.Series([d for _, d in by])
    assert (pd.to_datetime(review_days, unit="D").dt.day == 1).all()
    per = pd.DataFrame({"agency": a.set_index("alert_id").loc[[i for i, _ in by], "agency"].to_numpy(),
                        "day": review_days}).groupby(["agency", "day"]).size()
    assert per.max() <= 1
    if overflow == "drop":
        assert (a["status"] == "dropped").sum() > 0
    else:
        assert (a["status"] == "dropped").sum() == 0 and (a["status"] == "pending").sum() > 0
    assert len(months) == len(reviewed)


def test_outcomes_follow_the_configured_shares():
    d = scenario({"detection": {"random_audit_rate": 0.03},
                  "investigation": {"budget_base": 500, "open_if_lawful": 1.0, "confirm_if_lawful": 1.0,
                                    "open_if_misuse": 1.0, "confirm_if_misuse": 1.0, "mean_days": 5},
                  "behaviour": {"deterrence": False}},
                 misuse={"lone_snooper": {"incidents_per_year": 40}, "data_for_hire": {"incidents_per_year": 30}})
    model, r = run(d)
    inv = r.investigations
    confirmed = inv[(inv["confirmed"] == True) & ~inv["severe"].astype(bool)]  # noqa: E712
    n = len(confirmed)
    assert n > 300
    shares = parse_scenario(d).oversight.investigation.outcome_shares
    total = sum(shares.values())
    for outcome, w in shares.items():
        p = w / total
        k = int((confirmed["outcome"] == outcome).sum())
        assert abs(k - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1, outcome
    # dismissed operators stop querying for good
    gone = r.discipline[r.discipline["outcome"].isin(["termination", "resignation"])]["operator"]
    assert not model.lawful.active[gone.to_numpy()].any()
    rows = model.lawful.operator_rows(model.first_day + model.n_days)
    assert not np.isin(rows["operator"], gone.to_numpy()).any()
    # referrals name the statutes
    refs = {x for ref in r.discipline["referral"].dropna() for x in ref.split("; ")}
    assert refs and refs <= {"Vehicle Code 1808.45", "Penal Code 11141-11143", "Penal Code 13302-13304",
                             "Government Code 6200"}
    # severe cases (serial snooper, data for hire, the serious case) end in dismissal more often
    sev = inv[(inv["confirmed"] == True) & inv["severe"].astype(bool)]  # noqa: E712
    dismiss = ["resignation", "termination"]
    assert len(sev) >= 10
    assert sev["outcome"].isin(dismiss).mean() > confirmed["outcome"].isin(dismiss).mean() + 0.2


def test_statutes_follow_the_data_touched():
    assert statutes_for(["DL", "RV"]) == "Vehicle Code 1808.45"
    assert statutes_for(["QH"]) == "Penal Code 11141-11143"
    assert statutes_for(["QW", "RO"]) == "Penal Code 13302-13304"
    assert statutes_for(["EW"]) == "Government Code 6200"
    assert statutes_for(["QR", "DL"]) == "Vehicle Code 1808.45; Penal Code 11141-11143"


def test_filing_follows_the_propensity_mechanism():
    """Passive: one decision per unit, filed share within binomial bounds of the mean recorded
    propensity; proactive: every contact raises a unit's propensity and the share rises."""
    shares = {}
    for regime in ("passive", "proactive"):
        model, r = run(scenario({"follow_up": {"regime": regime}, "cac": {"enforce": False},
                                 "audits": {"cyclical": False}}, years=3), seed=9)
        dec = r.filing_decisions
        first = dec[dec["point"] == "season_opens"]
        n, p = len(first), first["propensity"].mean()
        sd = math.sqrt((first["propensity"] * (1 - first["propensity"])).sum())
        assert abs(first["filed"].sum() - n * p) <= 4 * sd + 1
        if regime == "passive":
            assert set(dec["point"]) == {"season_opens"}
        else:
            # the same unit, later in the same season: contacts raised its propensity
            key = ["report_year", "agency"]
            opens = first.set_index(key)["propensity"]
            later = dec[dec["point"] == "call"].groupby(key)["propensity"].max()
            assert (later > opens.reindex(later.index)).all()
        shares[regime] = r.compliance["reported"].sum() / r.compliance["agencies"].sum()
    assert shares["proactive"] > shares["passive"] + 0.1


def test_dhs_self_report_and_targeted_audit():
    d = scenario({"follow_up": {"regime": "proactive"},
                  "audits": {"cyclical": False,
                             "targeted": [{"agencies": "dhs", "day_of_year": 70, "years": [2019]}]},
                  "cac": {"deliberation_meetings": 1, "act_probability": {"agency_misuse": 1.0},
                          "first_step": {"agency_misuse": "suspension"}}},
                 years=2)
    model, r = run(d)
    dhs = set(np.flatnonzero(r.agencies["dhs"]))
    ice = set(np.flatnonzero(r.agencies["dhs"] & r.agencies["name"].str.contains("ICE")))
    assert ice
    truth_ice = r.truth[r.truth["archetype"] == "agency_purpose"]
    assert len(truth_ice) > 1000
    dhs_reports = r.reports[r.reports["agency"].isin(dhs)]
    assert len(dhs_reports) > 0 and dhs_reports["investigations"].sum() == 0
    audits = r.audits[(r.audits["kind"] == "targeted")]
    assert set(audits["agency"]) == dhs
    assert (audits.loc[audits["agency"].isin(ice), "archetypes"].str.contains("agency_purpose")).any()
    suspended = r.sanctions[(r.sanctions["step"] == "suspension") & r.sanctions["agency"].isin(ice)]
    assert len(suspended) > 0
    assert (suspended["day"] > day_of(date(2019, 3, 11))).all()


def test_eff_fields_on_the_form():
    d = scenario({"reporting": {"eff_fields": True}, "follow_up": {"regime": "proactive"},
                  "detection": {"random_audit_rate": 0.02},
                  "investigation": {"budget_base": 100}})
    _, r = run(d)
    rep = r.reports
    assert "individuals" in rep and "category_achs_licensing" in rep
    found = rep[rep["misuse_found"] > 0]
    assert len(found) > 0
    assert (found["individuals"] <= found["misuse_found"]).all()
    cats = [c for c in rep if c.startswith("category_")]
    assert (rep[cats].sum(axis=1) <= rep["violations"]).all()


def test_metrics_are_recomputable_from_the_parquet_outputs(tmp_path):
    d = scenario({"detection": {"random_audit_rate": 0.01,
                                "rules": {"enabled": ["off_shift", "surname_or_address"]}}})
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump(d, default_flow_style=False))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(scen), "--out", str(out)])
    assert res.exit_code == 0, res.output
    lo, hi = json.loads((out / "manifest.json").read_text())["reported_days"]
    alerts = pd.read_parquet(out / "alerts.parquet")
    truth = pd.read_parquet(out / "truth.parquet")
    assert (alerts["day"] < lo).any()  # the warm-up raised alerts: the window matters
    alerts = alerts[alerts["day"].between(lo, hi - 1)]  # metrics cover the reported years
    truth = truth[truth["day"].between(lo, hi - 1)]
    incidents = pd.read_parquet(out / "incidents.parquet")
    reviews = int((alerts["status"] == "reviewed").sum())
    again = detection_metrics(alerts, truth, incidents, reviews)
    for name, df in again.items():
        written = pd.read_csv(out / f"metrics_{name}.csv")
        pd.testing.assert_frame_equal(df.reset_index(drop=True), written, check_dtype=False,
                                      check_categorical=False)
    # and the precision figures are what the answer key says
    pol = again["by_policy"].set_index("policy")
    flagged = alerts[(alerts["kind"] == "random_audit")]
    tp = flagged["query_id"].astype("int64").isin(set(truth["query_id"])).sum()
    assert pol.loc["random_audit", "true_positives"] == tp
    assert "oversight by year" in res.output


@pytest.mark.parametrize("over,needle", [
    ({"detection": {"rules": {"enabled": ["mind_reading"]}}}, "mind_reading"),
    ({"investigation": {"budget_base": -1}}, "oversight.investigation.budget_base"),
    ({"cac": {"meeting_days_of_year": []}}, "meet at least once"),
    ({"cac": {"first_step": {"non_reporting": "flogging"}}}, "flogging"),
    ({"cac": {"act_probability": {"rumour": 0.5}}}, "rumour"),
    ({"behaviour": {"specific_factor": 1.5}}, "oversight.behaviour.specific_factor"),
    ({"reporting": {"refusing": ["Nowhere Sheriff"]}}, "Nowhere Sheriff"),
])
def test_bad_oversight_config(tmp_path, over, needle):
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump(scenario(over)))
    res = CliRunner().invoke(app, ["run", str(scen), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and needle in res.output
    assert not (tmp_path / "x").exists()


def test_calendar_helper():
    assert cal(day_of(date(2019, 2, 1))) == date(2019, 2, 1)
    assert cal(day_of(date(2019, 2, 1)) - 1) == date(2019, 2, 1) - timedelta(days=1)


def test_post_sanction_topology_runs_without_the_removed_agencies(tmp_path):
    """The CAC's removals feed back into the message-level model through topology.excluded_oris."""
    from sim.errors import ScenarioError
    from sim.runner import simulate_network

    d = scenario({"reporting": {**NEVER_FILE, "base_propensity": 0.3, "heterogeneity_sd": 3.0},
                  "follow_up": {"refer_to_cac": True}, "audits": {"cyclical": False},
                  "cac": {"deliberation_meetings": 1,
                          "act_probability": {"non_reporting": 1.0, "persistent_non_reporting": 1.0}}},
                 years=3)
    scen = tmp_path / "o.yaml"
    scen.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["run", str(scen), "--out", str(out)]).exit_code == 0
    post = yaml.safe_load((out / "post_sanction.yaml").read_text())
    cut = post["topology"]["excluded_oris"]
    agencies = pd.read_parquet(out / "agencies.parquet")
    assert 0 < len(cut) < len(agencies)
    assert set(agencies.loc[agencies["removed"], "ori"]) <= set(cut)
    net = {"name": "n", "seed": 2, "topology": {"counties": COUNTIES, "excluded_oris": cut},
           "horizon": {"start_hour": 12, "duration_s": 900, "warmup_s": 0}}
    m = simulate_network(parse_scenario(net)).messages.to_pandas()
    origin_ori = m["agency"].astype(str).str.split(":").str[1]
    assert len(m) > 0 and not origin_ori.isin(cut).any()
    with pytest.raises(ScenarioError, match="excluded_oris"):
        simulate_network(parse_scenario({**net, "topology": {"counties": COUNTIES,
                                                             "excluded_oris": ["CA9999999"]}}))


def test_triage_by_score_reviews_the_strongest_alerts_first():
    base = {"detection": {"rules": {"enabled": ["off_shift", "high_profile", "surname_or_address",
                                                "out_of_county_no_case"]}},
            "investigation": {"budget_base": 1.0, "budget_per_100_operators": 0.0}}
    means = {}
    for order in ("fifo", "score"):
        d = scenario({**base, "investigation": {**base["investigation"], "review_order": order}})
        model, r = run(d)
        a = r.alerts
        reviewed = a[a["status"] == "reviewed"]
        assert len(reviewed) > 20 and (a["status"] == "pending").sum() > 0
        means[order] = reviewed["score"].mean()
    # same seed, same alerts: triage reviews alerts on which more rules fired
    assert means["score"] > means["fifo"]


def test_eff_recommendations_suspend_then_remove_ice_orange_county():
    """EFF's escalation (seed 004) as a scenario: ICE Orange County withholds its forms; the
    CAC suspends it at its first discussion, then removes it for the next year's item."""
    raw = yaml.safe_load((Path(__file__).parent.parent / "scenarios" / "eff_recommendations.yaml").read_text())
    raw["topology"] = {"counties": COUNTIES}
    raw["oversight"]["warmup_days"] = 30
    model, r = run(raw, seed=3)
    ice_oc = int(np.flatnonzero(r.agencies["name"] == "DHS ICE Orange County")[0])
    assert bool(r.agencies.loc[ice_oc, "dhs"])
    assert not (r.reports["agency"] == ice_oc).any()
    steps = r.sanctions[r.sanctions["agency"] == ice_oc].sort_values("day")["step"].tolist()
    assert steps[:1] == ["suspension"] and "removal" in steps
    assert r.agencies.loc[ice_oc, "removed"]
    # the removed unit stays in the denominator of the compliance figure
    assert (r.compliance["agencies"] == len(set(r.agencies["reporting_unit"]))).all()
