"""`clets check`: validate a scenario and say how big it is, without running it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sim.cli.common import FORCE_HELP, app, check_size, out, user_errors
from sim.config import load_scenario


@app.command()
@user_errors
def check(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Validate a scenario file without running it, and print its size estimate: devices,
    subjects, operators, simulated days, journal rows, messages and peak memory of one run,
    against the documented limits (docs/limits.md) and this machine's available memory."""
    from sim.budget import LIMITS, UNITS, available_memory

    scenario = load_scenario(scenario_file)
    e = check_size(scenario, force=force)
    t = Table(title=f"{scenario.name}: size of one run (model: {scenario.model}; estimates)",
              title_justify="left")
    for col in ("quantity", "estimate", "documented limit"):
        t.add_column(col, justify="left" if col == "quantity" else "right")
    for name, value in e.rows():
        if name == "memory_bytes":
            continue
        limit = LIMITS.get(name)
        t.add_row(UNITS.get(name, name), f"{value:,.0f}", f"{limit:,}" if limit else "")
    gb = 1024 ** 3
    t.add_row("peak memory (GB)", f"{e.memory_bytes / gb:,.2f}", f"{available_memory() / gb:,.1f} available")
    out.print(t)
    out.print(f"{scenario_file}: ok (scenario {scenario.name!r})")
