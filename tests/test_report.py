"""The HTML report: key numbers equal the Parquet outputs, every figure renders in a real
browser (headless Chromium), and the trainer case book covers every archetype."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.catalogue import ARCHETYPES
from sim.cli import app
from sim.results import load
from tests.browser import body_attributes, dump_dom, screenshot

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(scope="module")
def trainer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("td") / "run"
    r = CliRunner().invoke(app, ["run", str(SCENARIOS / "trainer_demo.yaml"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert f"report: {out / 'report.html'}" in r.output.replace("\n", "")
    return out


def keys(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-key="([^"]+)">([^<]+)<', html))


def test_key_numbers_equal_the_parquet_outputs(trainer_run):
    html = (trainer_run / "report.html").read_text()
    k = keys(html)
    r = load(trainer_run)
    y = r["yearly"].iloc[0]
    year = int(y["year"])
    assert k[f"true_misuse_rows_{year}"] == f"{int(y['true_misuse_rows']):,}"
    assert k[f"confirmed_{year}"] == f"{int(y['investigations_confirmed']):,}"
    assert k[f"reported_misuse_found_{year}"] == f"{int(y['reported_misuse_found']):,}"
    c = r["compliance"].set_index("report_year").loc[year]
    assert k[f"reported_share_{year}"] == f"{c['reported_share']:.1%}"
    s = pd.read_parquet(trainer_run / "sanctions.parquet")
    assert k["sanctions_total"] == str(int(s["step"].isin(["censure", "suspension", "removal"]).sum()))
    assert k["cac_items_total"] == str(len(pd.read_parquet(trainer_run / "cac_items.parquet")))
    # and the funnel narrows: confirmed cases are among the closed ones, misuse found by
    # investigations is among the true misuse
    assert y["investigations_confirmed"] <= y["investigations_closed"]
    assert y["investigations_confirmed"] <= y["true_misuse_rows"]


def test_figures_are_embedded_pngs(trainer_run):
    html = (trainer_run / "report.html").read_text()
    figs = re.findall(r'src="data:image/png;base64,([^"]+)"[^>]*data-figure="([^"]+)"', html)
    names = {n for _, n in figs}
    assert {"funnel", "compliance", "recall_by_category", "recall_vs_budget", "cac"} <= names
    for data, _ in figs:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_trainer_case_book_covers_every_archetype(trainer_run):
    html = (trainer_run / "report.html").read_text()
    cases = re.findall(r'data-case="([^"]+)"', html)
    assert set(cases) == set(ARCHETYPES)
    assert "Detection:" in html and "Investigation:" in html and "Annual report:" in html
    book = html[html.index('id="casebook"'):]
    # precise words, people by name, values shown for people (no NaN, no float ids, no day numbers)
    assert "Detected" not in book and "flagged by an alert" in book and "missed" in book
    people = pd.read_parquet(trainer_run / "incident_people.parquet")
    victims = people[people["part"] == "victim"]
    assert victims["name"].iloc[0] in book
    assert not re.search(r"\bNaN\b|\d{4,}\.0\b|\d{1,3}(,\d{3}){2,}\.\d{3}", book)
    assert not re.search(r"\b1[78]\d{3}\b", re.sub(r"\d{4}-\d{2}-\d{2}", "", book))  # days
    assert "showing 12 of" in book  # a cut table says so


def test_report_renders_in_headless_chromium(trainer_run, tmp_path):
    url = (trainer_run / "report.html").as_uri()
    dom, stderr = dump_dom(url, tmp_path / "profile")
    body = body_attributes(dom)
    assert int(body["data-figures"]) >= 5
    assert body["data-figures-ok"] == "true"  # every image decoded and laid out
    assert "Uncaught" not in stderr  # no script errors
    shot = screenshot(url, tmp_path / "report.png", tmp_path / "profile", size="1200,2400")
    assert shot.stat().st_size > 20_000
