"""The HTML report: key numbers equal the Parquet outputs, every figure renders in a real
browser (headless Chromium), and the trainer case book covers every archetype."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.catalogue import ARCHETYPES
from sim.cli import app
from sim.results import load

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


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "headless Chromium is needed (make test installs Debian's chromium package)"
    return path


def test_report_renders_in_headless_chromium(trainer_run, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (trainer_run / "report.html").as_uri()
    dom = subprocess.run([chromium(), *flags, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout).group(1)
    n = int(re.search(r'data-figures="(\d+)"', body).group(1))
    assert n >= 5 and 'data-figures-ok="true"' in body  # every image decoded and laid out
    assert "Uncaught" not in dom.stderr  # no script errors
    shot = tmp_path / "report.png"
    subprocess.run([chromium(), *flags, f"--screenshot={shot}", "--window-size=1200,2400", url],
                   capture_output=True, text=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000
