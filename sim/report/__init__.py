"""One self-contained HTML report per run or sweep (jinja2, figures embedded as PNG).

The report reads the run's own output files through `sim.results.load`, so every number
in the page is one a reader can find in the Parquet/CSV tables next to it. Key figures
carry a ``data-key`` attribute (tested against the tables). One module per kind of section.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
from jinja2 import Environment

from sim.report.availability import availability_sections
from sim.report.common import REPORT_DIR, Section, html_table
from sim.report.experiments import (
    calibration_sections,
    comparison_sections,
    first_run_sections,
    sweep_sections,
)
from sim.report.network import capacity_sections, network_sections
from sim.report.oversight import oversight_sections
from sim.report.sensitivity import sensitivity_sections
from sim.results import RunResults, load

__all__ = ["calibration_sections", "write_report"]


def scenario_section(r: RunResults) -> Section:
    """What was run: the settings a reader needs to interpret the rest."""
    scen = r.manifest.get("scenario") or {}
    o = scen.get("oversight", {})
    rows = [
        ("scenario", r.manifest.get("scenario_name", scen.get("name", ""))),
        ("kind of run", r.kind),
        ("root seed", r.manifest.get("root_seed", r.manifest.get("seed", ""))),
        ("model", scen.get("model", "")),
        ("counties", ", ".join(scen.get("topology", {}).get("counties") or ["all 58"])),
        ("journal start", scen.get("journal", {}).get("start_date", "")),
        ("oversight years", o.get("years", "")),
        ("DOJ follow-up", o.get("follow_up", {}).get("regime", "")),
        ("detection rules", ", ".join(o.get("detection", {}).get("rules", {}).get("enabled", [])) or "none"),
        ("random audit rate", o.get("detection", {}).get("random_audit_rate", "")),
        ("misuse prevalence scale", scen.get("misuse", {}).get("prevalence_scale", "")),
        ("package versions", ", ".join(f"{k} {v}" for k, v in r.manifest.get("versions", {}).items())),
        ("wall time (s)", r.manifest.get("wall_s", "")),
    ]
    df = pd.DataFrame(rows, columns=["setting", "value"]).astype(str)
    return Section("scenario", "Scenario", scen.get("description", ""), tables=[html_table(df)])




def write_report(run_dir: Path, calibration: pd.DataFrame | None = None) -> Path:
    """Render `report.html` into a finished run or sweep directory."""
    token = REPORT_DIR.set(Path(run_dir).resolve())
    try:
        return _write(Path(run_dir), calibration)
    finally:
        REPORT_DIR.reset(token)


def seed_text(manifest: dict) -> str:
    """What the header says about seeds: the root seed, and the replications' when there are some."""
    root = manifest.get("root_seed", manifest.get("seed"))
    seeds = manifest.get("seeds") or []
    text = f"seed {root if root is not None else 'n/a'}"
    if len(seeds) > 1:
        text += f" (replication seeds {', '.join(map(str, seeds[:5]))}{' ...' if len(seeds) > 5 else ''})"
    return text


def _write(run_dir: Path, calibration: pd.DataFrame | None) -> Path:
    r = load(run_dir)
    kind = r.kind
    scen = r.manifest.get("scenario", {}) or {}
    if kind == "calibration":
        sections = calibration_sections(r["calibration"])
    elif kind == "capacity":
        sections = capacity_sections(r)
    elif kind == "oversight_run":
        sections = oversight_sections(r)
    elif kind == "network_run":
        sections = network_sections(r)
    elif kind == "comparison":
        sections = comparison_sections(r)
    elif kind == "availability":
        sections = availability_sections(r)
    elif kind == "sweep":
        sections = sweep_sections(r) + first_run_sections(r)
    elif kind == "sensitivity":
        sections = sensitivity_sections(r)
    else:
        sections = []
    sections.insert(0, scenario_section(r))
    if calibration is not None and len(calibration):
        sections += calibration_sections(calibration)
    template = resources.files("sim.templates").joinpath("report.html.j2").read_text()
    html = Environment(autoescape=False).from_string(template).render(
        title=f"CLETS testbed — {r.manifest.get('scenario_name', scen.get('name', ''))}",
        description=scen.get("description", ""), seed=seed_text(r.manifest), kind=kind,
        written=r.manifest.get("written_at", ""), git=r.manifest.get("git"), sections=sections)
    path = Path(run_dir) / "report.html"
    path.write_text(html)
    return path

