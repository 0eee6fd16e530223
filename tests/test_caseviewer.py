"""The trainer's case viewer: the demo's incidents and people, the `clets cases` command, and
the page itself in headless Chromium (every incident renders, the highlighted rows are exactly
the rows with an alert, the step buttons move the cursor)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.catalogue import ARCHETYPES
from sim.cli import app
from sim.config import load_scenario, parse_scenario
from sim.errors import ScenarioError
from sim.world import RELATION_KINDS
from tests.browser import body_attributes, dump_dom, screenshot
from tests.conftest import small_scenario_dict

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "trainer_demo.yaml"
SHERIFF = "Mono County Sheriff's Office"
WORDS = {"household": "household member", "family": "relative", "ex_partner": "ex-partner",
         "friend": "friend", "neighbour": "neighbour"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cases") / "run"
    r = CliRunner().invoke(app, ["run", str(DEMO), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert f"cases: {out / 'cases.html'}" in r.output.replace("\n", "")
    return out


def incident_rows(run: Path) -> dict[int, pd.DataFrame]:
    """Per incident, the journal rows the viewer should show, computed from the tables: every
    row of an operator on a day with one of the incident's misuse rows, in time order."""
    truth = pd.read_parquet(run / "truth.parquet")
    mj = pd.read_parquet(run / "misuse_journal.parquet")
    ij = pd.read_parquet(run / "incident_journal.parquet")
    ij_day = ij["time"].dt.floor("D")
    out = {}
    for iid, t in truth.groupby("incident_id"):
        rows = mj[mj["query_id"].isin(t["query_id"])]
        keys = set(zip(rows["operator"], rows["time"].dt.floor("D")))
        ctx = ij[[(o, d) in keys for o, d in zip(ij["operator"], ij_day)]]
        both = pd.concat([ctx, rows[~rows["query_id"].isin(ctx["query_id"])]])
        out[int(iid)] = both.sort_values(["time", "query_id"]).reset_index(drop=True)
    return out


# ---------------------------------------------------------------------- the demo itself


def test_demo_has_one_incident_of_each_archetype_in_one_agency(demo):
    inc = pd.read_parquet(demo / "incidents.parquet")
    assert sorted(inc["archetype"]) == sorted(ARCHETYPES)
    assert (inc["n_queries"] > 0).all()
    agencies = pd.read_parquet(demo / "agencies.parquet").set_index("ori")["name"]
    where = inc.set_index("archetype")["agency_ori"].map(agencies)
    assert where.drop("agency_purpose").eq(SHERIFF).all()
    assert where["agency_purpose"].startswith("DHS ICE")
    actors = [a for row in inc["actors"] for a in row]
    assert len(actors) == len(set(actors))  # one story per operator
    # the oversight loop ran on: alerts reviewed, cases closed, a 2019 form from the sheriff
    alerts = pd.read_parquet(demo / "alerts.parquet")
    assert (alerts["status"] == "reviewed").any()
    assert (alerts["reviewed_day"].dropna() >= alerts.loc[alerts["reviewed_day"].notna(), "day"]).all()
    assert pd.read_parquet(demo / "investigations.parquet")["closed_day"].notna().any()
    reports = pd.read_parquet(demo / "reports.parquet")
    assert ((reports["report_year"] == 2019) & (reports["agency_name"] == SHERIFF)).any()
    # six weeks of journal: nothing logged after 2019-04-14
    assert pd.read_parquet(demo / "misuse_journal.parquet")["time"].max() < pd.Timestamp("2019-04-15")


def test_victims_names_and_relations_match_the_world(demo):
    from sim.oversight import OversightModel
    from sim.rng import Streams

    scenario = load_scenario(DEMO)
    world = OversightModel(scenario, Streams(scenario.seed)).world  # the same world, rebuilt
    people = pd.read_parquet(demo / "incident_people.parquet")
    victims = people[people["part"] == "victim"]
    assert len(victims) >= 9
    seen = set()
    for v in victims.itertuples():
        op, subj = int(v.operator), int(v.subject)
        assert v.name == str(world.subject_names(np.array([subj]))[0])
        assert v.sex == ("F" if world.subjects.sex[subj] == 0 else "M")
        theirs, kinds = world.relations.of(op)
        expected = [WORDS[RELATION_KINDS[k]] for k in sorted(set(kinds[theirs == subj].tolist()))]
        if world.subjects.high_profile[subj]:
            expected.append("media figure")
        if subj == world.operators.subject[op]:
            expected = ["self"]
        assert v.relation == (", ".join(expected) or "stranger"), (v.incident_id, v.name)
        seen.add(v.relation)
    assert "media figure" in seen and len(seen - {"stranger"}) >= 2  # not every victim a stranger
    ops = people[people["person_kind"] == "operator"]
    assert set(ops["role"]) <= {"full-access operator", "less-than-full-access operator",
                                "practitioner (no CLETS login)", "administrator (no CLETS login)"}
    first = pd.read_parquet(demo / "truth.parquet").groupby("incident_id")["day"].min()
    for o in ops.itertuples():
        on_day = world.operators.certified_on(int(first[o.incident_id]), np.array([int(o.operator)]))
        assert bool(o.certified) == bool(on_day[0])
        assert bool(o.certified) == (o.lapses == "")


def test_detection_stays_blind_to_the_recorder():
    import sim.detection

    src = Path(sim.detection.__file__).read_text()
    assert "caseviewer" not in src and "incident_people" not in src


def test_recorded_people_match_the_world_on_a_two_county_year():
    """Every row of `incident_people` of a larger run (San Diego and Imperial, a year: ~900
    operator rows, ~20,000 subject rows), checked against the world one row at a time."""
    from sim.oversight import OversightModel
    from sim.rng import Streams

    d = small_scenario_dict(model="oversight", seed=3, topology={"counties": ["San Diego", "Imperial"]},
                            journal={"start_date": "2019-01-01"}, oversight={"years": 1},
                            outputs={"messages": False})
    m = OversightModel(parse_scenario(d), Streams(3))
    r = m.run()
    w, people = m.world, r.incident_people
    ops, s, ag = w.operators, w.subjects, w.agencies
    t = r.truth[["query_id", "incident_id", "day"]].merge(r.misuse_journal[["query_id", "operator", "subject"]])
    t["incident_id"] = t["incident_id"].astype(int)
    first = t.groupby("incident_id")["day"].min()
    roles = {0: "full-access operator", 1: "less-than-full-access operator",
             2: "practitioner (no CLETS login)", 3: "administrator (no CLETS login)"}
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

    # operators: each incident's are the ids its rows carry, then its other actors
    op_rows = people[people["person_kind"] == "operator"]
    assert len(op_rows) > 500 and (~op_rows["certified"].astype(bool)).sum() > 20
    incidents = r.incidents.set_index("incident_id")
    for iid, g in op_rows.groupby("incident_id"):
        carried = list(dict.fromkeys(t.loc[t["incident_id"] == iid, "operator"].astype(int)))
        info = incidents.loc[iid]
        sharing = info["archetype"] == "credential_sharing"
        others = [int(a) for a in info["actors"] if int(a) not in carried]
        assert g["operator"].astype(int).tolist() == carried + others, iid
        expected = ([("login owner (the rows carry this id)" if sharing else "operator")] * len(carried)
                    + [("used the login (not in the journal)" if sharing else "operator")] * len(others))
        assert g["part"].tolist() == expected, iid
    for o in op_rows.itertuples():
        op, me, day, a = int(o.operator), int(o.subject), int(first[o.incident_id]), int(ops.agency[o.operator])
        assert me == ops.subject[op]
        assert o.name == str(w.subject_names(np.array([me]))[0])
        assert (o.surname, o.sex) == (str(w.last_names[s.last[me]]), "F" if s.sex[me] == 0 else "M")
        assert o.age == int((day - int(s.birth_day[me])) // 365.25)
        assert o.address == f"{int(s.house_number[me])} {w.streets[s.street[me]]}"
        assert o.county == w.counties[int(s.county[me])] and o.relation == ""
        assert o.role == roles[int(ops.role[op])]
        assert o.user_id == str(ops.user_ids(np.array([op]))[0])
        assert (o.agency_name, o.agency_ori, o.agency_county) == tuple(ag[["name", "ori", "county"]].iloc[a])
        assert (o.hire_day, o.training_day, o.test_day, o.test_score, o.confidentiality_day) == (
            ops.hire_day[op], ops.training_day[op], ops.test_day[op], ops.test_score[op],
            ops.confidentiality_day[op])
        certified = bool(ops.certified_on(day, np.array([op]))[0])
        assert bool(o.certified) == certified and bool(o.background_check) == bool(ops.background_check[op])
        assert (o.lapses != "") == (not certified)
        assert ("failed the proficiency test" in o.lapses) == (not certified and ops.test_score[op] < 70)
        assert ("no background check" in o.lapses) == (not certified and not ops.background_check[op])
        assert o.shift_end == (int(ops.shift_start[op]) + 10) % 24
        assert o.workdays == ", ".join(d for i, d in enumerate(days) if int(ops.workdays[op]) >> i & 1)

    # subjects: the victims are the people the incident's misuse rows looked up
    subs = people[people["person_kind"] == "subject"]
    victims = subs[subs["part"] == "victim"]
    assert set(zip(victims["incident_id"], victims["subject"])) == set(zip(t["incident_id"], t["subject"]))
    assert set(subs["part"]) == {"victim", "other lookup"}
    for v in subs.itertuples():
        op, subj = int(v.operator), int(v.subject)
        assert v.name == str(w.subject_names(np.array([subj]))[0])
        assert v.age == int((int(first[v.incident_id]) - int(s.birth_day[subj])) // 365.25)
        theirs, kinds = w.relations.of(op)
        expected = [WORDS[RELATION_KINDS[k]] for k in sorted(set(kinds[theirs == subj].tolist()))]
        if s.high_profile[subj]:
            expected.append("media figure")
        if subj == ops.subject[op]:
            expected = ["self"]
        assert v.relation == (", ".join(expected) or "stranger")
    assert {"self", "stranger"} <= set(subs["relation"]) and len(set(subs["relation"])) >= 5
    # in each incident: its operators, then its victims, then the other lookups
    rank = people["person_kind"].map({"operator": 0}).fillna(people["part"].map({"victim": 1}).fillna(2))
    assert (people.assign(rank=rank).groupby("incident_id")["rank"].is_monotonic_increasing).all()
    assert people["incident_id"].is_monotonic_increasing


# ---------------------------------------------------------------------- the viewer's data


def test_viewer_data_words_and_values(demo):
    from sim.caseviewer.data import build_cases

    data = build_cases(demo)
    cases = {c["archetype"]: c for c in data["incidents"]}
    assert set(cases) == set(ARCHETYPES)
    assert {c["status"] for c in cases.values()} <= {"investigated", "flagged by an alert", "missed"}
    assert "missed" in {c["detection"] for c in cases.values()}
    alerts = pd.read_parquet(demo / "alerts.parquet")
    for c in cases.values():
        for a in c["alerts"]:
            assert a["reasons"] and all(len(t) > 20 for t in a["reasons"])  # words, not codes
            row = alerts.set_index("alert_id").loc[a["id"]]
            if pd.notna(row["reviewed_day"]):
                assert a["wait_days"] == int(row["reviewed_day"]) - int(row["day"])
        for r in c["rows"]:
            assert len(r["date"]) == 10 and r["date"][4] == "-"
            assert r["case"] == "" or r["case"].isdigit()
    snoop = cases["lone_snooper"]
    assert {v["sex"] for v in snoop["victims"]} == {"woman"}
    assert any("reached 3 within 30 days" in t for a in snoop["alerts"] for t in a["reasons"])
    assert cases["curiosity_burst"]["victims"][0]["relation"] == "media figure"
    assert any("media figure" in t for a in cases["curiosity_burst"]["alerts"] for t in a["reasons"])
    rule = cases["misunderstood_rule"]
    assert any("stating the purpose 'licensing'" in t or "stating the purpose 'employment'" in t
               for a in rule["alerts"] for t in a["reasons"])
    # a missed incident says which rule would have caught it, and at what cost
    missed = [c for c in cases.values() if c["detection"] == "missed" and c["missed"]["options"]]
    assert missed
    opt = missed[0]["missed"]["options"][0]
    assert "would have flagged" in opt["text"] and "more alert" in opt["text"]
    shadow = pd.read_parquet(demo / "shadow_rules.parquet").set_index("rule")
    assert f"{int(shadow.loc[opt['rule'], 'new_alerts']):,} more alert" in opt["text"]
    assert not set(shadow.index) & {e["rule"] for e in data["run"]["enabled"]}  # shadow: the others
    # what reached the form
    inv = cases["lone_snooper"]
    assert inv["cases"] and "form for 2019" in inv["form"]["text"]


def test_oversight_days_must_fit_the_reported_years():
    d = small_scenario_dict(model="oversight", journal={"start_date": "2019-12-01"},
                            oversight={"days": 60})
    with pytest.raises(ScenarioError, match="oversight.days"):
        parse_scenario(d)


# ---------------------------------------------------------------------- the command


def test_cases_command_writes_the_page_and_rejects_bad_input(demo, tmp_path):
    runner = CliRunner()
    out = tmp_path / "copy" / "viewer.html"
    r = runner.invoke(app, ["cases", str(demo), "--out", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" in page
    assert "http://" not in page and "https://" not in page  # offline: nothing fetched
    for args, words in (([str(tmp_path / "nowhere")], "not found"),
                        ([str(DEMO)], "not a directory"),
                        ([str(tmp_path)], "not a run directory")):
        r = runner.invoke(app, ["cases", *args])
        assert r.exit_code == 2, r.output
        assert words in r.output and "Traceback" not in r.output
        assert len(r.output.strip().splitlines()) <= 2
    # a network run has no incidents
    net = tmp_path / "net.yaml"
    net.write_text(yaml.safe_dump(small_scenario_dict(outputs={"messages": False})))
    r = runner.invoke(app, ["run", str(net), "--out", str(tmp_path / "netrun")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["cases", str(tmp_path / "netrun")])
    assert r.exit_code == 2 and "no incidents" in r.output


# ---------------------------------------------------------------------- in a browser


def test_every_incident_renders_and_only_flagged_rows_are_highlighted(demo, tmp_path):
    url = (demo / "cases.html").as_uri() + "#selftest"
    dom, stderr = dump_dom(url, tmp_path / "profile")
    body = body_attributes(dom)
    assert body.get("data-selftest") == "pass", body.get("data-selftest-log")
    assert "Uncaught" not in stderr
    inc = pd.read_parquet(demo / "incidents.parquet")
    assert int(body["data-rendered"]) == int(body["data-incidents"]) == len(inc) == 9
    # highlighted rows == rows with an alert in alerts.parquet, computed here independently
    alerted = set(pd.read_parquet(demo / "alerts.parquet")["query_id"].dropna().astype(int))
    rows = incident_rows(demo)
    shown = json.loads(body["data-highlighted"])
    assert set(shown) == {str(i) for i in rows}
    for iid, r in rows.items():
        expected = {str(q) for q in r["query_id"] if int(q) in alerted}
        assert set(shown[str(iid)]) == expected, iid
        assert len(shown[str(iid)]) == len(expected)  # each once: paging shows every row once
    assert sum(len(v) for v in shown.values()) >= 10
    # step-through: next/previous row move by one; next alert visits the flagged rows in order
    steps = json.loads(body["data-steps"])
    assert (steps["start"], steps["next_row"], steps["next_row2"], steps["prev_row"]) == (0, 1, 2, 1)
    r = rows[int(steps["incident"])]
    flagged_at = [i for i, q in enumerate(r["query_id"]) if int(q) in alerted and i > 0]
    assert steps["alert_rows"] == flagged_at and len(flagged_at) >= 2
    assert steps["after_last_alert"] == flagged_at[-1]
    assert steps["key_left"] == flagged_at[-1] - 1
    shot = screenshot((demo / "cases.html").as_uri() + "#incident-1", tmp_path / "cases.png",
                      tmp_path / "profile")
    assert shot.stat().st_size > 20_000
