"""One definition per measure: every place that shows a headline number agrees with the
number recomputed here from the Parquet outputs (never from the code that wrote them)."""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.measures import MEASURES, OVERSIGHT_SUMMARY, by_year_frame, catalogue_frame, fmt, get
from sim.results import load
from sim.world import day_number

YEARS = [2018, 2019]
STEPS = ("censure", "suspension", "removal")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """Two years in a small region; the CAC acts on every non-reporting item after one
    discussion, so actions about 2019 fall in 2020, after the counted years."""
    d = {"name": "measures", "seed": 11, "model": "oversight",
         "topology": {"counties": ["San Diego", "Imperial"]},
         "journal": {"start_date": "2018-01-01"},
         "oversight": {"years": 2, "warmup_days": 30,
                       "follow_up": {"regime": "passive", "bulletin_date": "2018-04-17",
                                     "public_listing": True, "refer_to_cac": True},
                       "detection": {"random_audit_rate": 0.002,
                                     "rules": {"enabled": ["high_profile", "surname_or_address"]}},
                       "cac": {"deliberation_meetings": 1,
                               "act_probability": {"non_reporting": 1.0, "persistent_non_reporting": 1.0}}}}
    tmp = tmp_path_factory.mktemp("measures")
    scen = tmp / "s.yaml"
    scen.write_text(yaml.safe_dump(d))
    out = tmp / "out"
    res = CliRunner().invoke(app, ["run", str(scen), "--out", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return out, res.output


def in_year(df: pd.DataFrame, col: str, y: int) -> pd.DataFrame:
    lo, hi = day_number(date(y, 1, 1)), day_number(date(y + 1, 1, 1))
    return df[(df[col] >= lo) & (df[col] < hi)]


def recomputed(out) -> pd.DataFrame:
    """The headline measures per year, from the event tables alone."""
    truth = pd.read_parquet(out / "truth.parquet")
    alerts = pd.read_parquet(out / "alerts.parquet")
    inv = pd.read_parquet(out / "investigations.parquet")
    reports = pd.read_parquet(out / "reports.parquet")
    sanctions = pd.read_parquet(out / "sanctions.parquet")
    agencies = pd.read_parquet(out / "agencies.parquet")
    units = agencies["reporting_unit"].nunique()
    flagged = set(alerts["query_id"].dropna().astype("int64"))
    rows = []
    for y in YEARS:
        t = in_year(truth, "day", y)
        closed = in_year(inv, "closed_day", y)
        rep = reports[reports["report_year"] == y]
        s = sanctions[(sanctions["conduct_year"] == y) & sanctions["step"].isin(STEPS)]
        rows.append(dict(year=y, true_misuse_rows=len(t),
                         misuse_rows_flagged=int(t["query_id"].astype("int64").isin(flagged).sum()),
                         alerts=len(in_year(alerts, "day", y)),
                         investigations_confirmed=int(closed["confirmed"].sum()),
                         reported_misuse_found=int(rep["misuse_found"].sum()),
                         reported_share=rep["agency"].nunique() / units,
                         sanctions=len(s)))
    return pd.DataFrame(rows)


def test_yearly_table_and_results_api_agree_with_the_event_tables(run_dir):
    out, _ = run_dir
    truth = recomputed(out)
    for source in (pd.read_csv(out / "yearly.csv"), load(out)["yearly"]):
        for col in truth.columns:
            assert list(source[col].round(6)) == list(truth[col].round(6)), col
    # every headline measure is defined once, with a unit and a window
    defs = pd.read_csv(out / "measures.csv").set_index("name")
    for name in truth.columns.drop("year"):
        assert defs.loc[name, "label"] == get(name).label and defs.loc[name, "window"]
    assert {m.name for m in MEASURES.values() if m.headline and m.model == "oversight"} <= set(truth.columns)


def test_console_shows_the_same_numbers(run_dir):
    out, console = run_dir
    truth = recomputed(out)
    lines = console.splitlines()
    for name in ("true_misuse_rows", "misuse_rows_flagged", "investigations_confirmed",
                 "reported_misuse_found", "reported_share", "sanctions"):
        row = next(ln for ln in lines if re.match(rf"\W*{re.escape(get(name).label)}\s*[│|]", ln))
        cells = [c.strip() for c in re.split(r"[│|]", row) if c.strip()]
        assert cells[1:] == [fmt(name, v) for v in truth[name]], (name, row)


def test_report_shows_the_same_numbers(run_dir):
    out, _ = run_dir
    truth = recomputed(out)
    html = (out / "report.html").read_text()

    def keyed(key: str) -> str:
        m = re.search(rf'data-key="{key}">([^<]*)<', html)
        assert m, key
        return m.group(1)

    for _, row in truth.iterrows():
        y = int(row["year"])
        assert keyed(f"true_misuse_rows_{y}") == fmt("true_misuse_rows", row["true_misuse_rows"])
        assert keyed(f"misuse_rows_flagged_{y}") == fmt("misuse_rows_flagged", row["misuse_rows_flagged"])
        assert keyed(f"confirmed_{y}") == fmt("investigations_confirmed", row["investigations_confirmed"])
        assert keyed(f"reported_misuse_found_{y}") == fmt("reported_misuse_found", row["reported_misuse_found"])
        assert keyed(f"sanctions_{y}") == fmt("sanctions", row["sanctions"])
    assert keyed("sanctions_total") == fmt("sanctions", truth["sanctions"].sum())
    # the by-year table in the report is the registry's own rendering of yearly.csv
    table = by_year_frame(pd.read_csv(out / "yearly.csv"))
    for label, value in zip(table["measure"], table[str(YEARS[0])]):
        assert f'<td class="t">{label}</td>' in html and f"<td>{value}</td>" in html


def test_actions_after_the_counted_years_still_count(run_dir):
    """CAC actions about 2019's missing forms are taken in 2020, after the last counted year:
    they are counted against 2019, inside the window the manifest states."""
    out, _ = run_dir
    manifest = json.loads((out / "manifest.json").read_text())
    s = pd.read_parquet(out / "sanctions.parquet")
    late = s[(s["conduct_year"] == 2019) & s["step"].isin(STEPS)]
    assert len(late) > 0 and (late["day"] >= day_number(date(2020, 1, 1))).all()
    assert (late["day"] < manifest["reported_days"][1] + manifest["tail_days"]).all()
    yearly = pd.read_csv(out / "yearly.csv").set_index("year")
    assert yearly.loc[2019, "sanctions"] == len(late)
    window = catalogue_frame(manifest["tail_days"]).set_index("name").loc["sanctions", "window"]
    assert f"{manifest['tail_days']} days" in window


def test_detection_table_covers_the_same_window_as_the_yearly_alerts(run_dir):
    out, _ = run_dir
    pol = pd.read_csv(out / "metrics_by_policy.csv").set_index("policy")
    yearly = pd.read_csv(out / "yearly.csv")
    assert pol.loc["random_audit", "alerts"] == yearly["alerts_random_audit"].sum()
    assert pol.loc["complaint", "alerts"] <= yearly["alerts_complaint"].sum()


def test_summary_rows_are_all_registered():
    for name in OVERSIGHT_SUMMARY:
        m = get(name)
        assert m.unit and m.window and m.definition


def test_summary_intervals_stay_inside_what_a_measure_can_take():
    """A t-interval of a count near 0 or a share near 1 is cut to the possible values;
    the paired differences are not cut."""
    from sim.experiment import summarise

    recs = [dict(key=f"k{p}{r}", point=p, label=str(p), replication=r, seed=r, status="complete",
                 measures={"sanctions": v, "reported_share": s})
            for p, vals in ((0, [(0, 1.0), (0, 0.95), (2, 1.0)]), (1, [(3, 0.5), (0, 0.99), (1, 0.6)]))
            for r, (v, s) in enumerate(vals)]
    _, summary, diffs = summarise(recs, [{}, {}], 0, labels=["a", "b"])
    s = summary.set_index(["point", "measure"])
    assert s.loc[(0, "sanctions"), "ci_low"] == 0.0 and s.loc[(0, "reported_share"), "ci_high"] == 1.0
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
    d = diffs.set_index("measure")
    assert d.loc["reported_share", "ci_low"] < -0.5  # differences keep their full interval
