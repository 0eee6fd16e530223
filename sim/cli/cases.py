"""`clets cases`: the trainer's case viewer of an oversight run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sim.cli.common import app, out, user_errors
from sim.errors import ScenarioError


@app.command()
@user_errors
def cases(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR",
                                   help="a finished oversight run (clets run ... prints its folder)"),
    out_file: Optional[Path] = typer.Option(None, "--out", help="HTML file to write "
                                            "(default: RUN_DIR/cases.html)"),
) -> None:
    """Write the trainer's case viewer: one self-contained HTML page (no server, works offline)
    walking through each misuse incident of an oversight run: operator, victims, journal rows
    with the flagged ones highlighted, why each alert fired, the review queue, the
    investigation, the HDC 0010 form, and what would have caught a missed incident."""
    from sim.caseviewer import write_case_viewer

    try:
        return _write(run_dir, out_file, write_case_viewer)
    except ScenarioError as e:  # name the argument the message is about
        text = str(e)
        raise ScenarioError(text if text.startswith("--out") else f"RUN_DIR {text}") from None


def _write(run_dir: Path, out_file: Optional[Path], write_case_viewer) -> None:
    """Check the folder and the --out file, write the page, say where it is."""
    if not run_dir.exists():
        raise ScenarioError(f"run directory not found: {run_dir} (run e.g. `clets run "
                            f"scenarios/trainer_demo.yaml` and pass the folder it prints)")
    if not run_dir.is_dir():
        raise ScenarioError(f"{run_dir}: not a directory (pass the run folder, not a file)")
    if out_file is not None and out_file.is_dir():
        raise ScenarioError(f"--out: {out_file} is a directory (give a file name, e.g. cases.html)")
    path = write_case_viewer(run_dir, out_file)
    out.print(f"cases: [bold]{path}[/]")
