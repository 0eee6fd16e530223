"""The case viewer page: one self-contained HTML file (inline CSS and JavaScript, the data as
embedded JSON; no server, no network), for a projector in a classroom."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from jinja2 import Environment

from sim.caseviewer.data import RunTables, build_cases
from sim.errors import ScenarioError

PAGE_SIZE = 12  # journal rows per page: readable from the back of a room


def render_cases(data: dict) -> str:
    """The page for `build_cases` data."""
    template = resources.files("sim.templates").joinpath("cases.html.j2").read_text()
    # inside <script>, "</" could close the element: JSON allows "<\/"
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    blob = blob.replace("<!--", "<\\!--")
    run = data["run"]
    return Environment(autoescape=True).from_string(template).render(
        title=f"CLETS case viewer - {run['scenario']}", scenario=run["scenario"],
        data_json=_Raw(blob), page_size=PAGE_SIZE)


class _Raw(str):
    """Already safe for a <script type="application/json"> element (jinja's Markup protocol)."""

    def __html__(self) -> str:
        return str(self)


def write_case_viewer(run_dir, out=None) -> Path:
    """Build and write ``cases.html`` for a finished oversight run; returns its path."""
    tables = RunTables(run_dir)
    data = build_cases(tables)
    if not data["incidents"]:
        raise ScenarioError(f"{run_dir}: this oversight run has no misuse incidents to show")
    path = Path(out) if out is not None else Path(run_dir) / "cases.html"
    html = render_cases(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise ScenarioError(f"cannot write {path}: {err.strerror}") from None
    return path
