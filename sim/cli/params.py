"""`clets params`: every assumed parameter of a scenario with its source and plausible range."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import app, out, user_errors
from sim.config import load_scenario


def shown(v) -> str:
    """A parameter value for the table: null, an integer with separators, a float in 6 digits."""
    if v is None:
        return "null"
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 1e3 and float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.6g}"


@app.command()
@user_errors
def params(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO"),
    all_: bool = typer.Option(False, "--all", help="also list the run controls, levers and scheduled "
                              "events that are not assumptions (with the reason)"),
) -> None:
    """Every assumed numeric parameter of a scenario: its value, the default, where it comes from
    (a named public source, or "assumption") and its plausible range; values outside their range
    are marked "!" (docs/parameters.md)."""
    from sim.params import declared_parameters

    scenario = load_scenario(scenario_file)
    rows = declared_parameters(scenario, include_excluded=all_)
    t = Table(title=f"{escape(scenario.name)}: assumed parameters", title_justify="left")
    t.add_column("name", max_width=56, overflow="fold")
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("default", justify="right", no_wrap=True)
    t.add_column("range", justify="right", no_wrap=True)
    t.add_column("source", min_width=40, ratio=1)
    outside = 0
    for p in rows:
        value = shown(p.value)
        if p.in_range is False:
            outside += 1
            value = f"[bold red]! {value}[/]"
        elif p.value != p.default:
            value = f"[bold]{value}[/]"
        rng = f"[{shown(p.low)}, {shown(p.high)}]" if p.range else ""
        source = f"(not assumed: {p.excluded})" if p.excluded else (p.source or "[red]undeclared[/]")
        t.add_row(escape(p.name), value, shown(p.default) if p.default is not None else "",
                  escape(rng), escape(source) if p.source or p.excluded else source)
    out.print(t)
    assumed = [p for p in rows if not p.excluded]
    named = sum(p.named_source for p in assumed)
    out.print(f"{len(assumed)} parameters: {named} with a named source, {len(assumed) - named} "
              f"assumptions; {sum(p.range is not None for p in assumed)} with a plausible range; "
              f"{outside} outside it" + ("" if all_ else "; --all also lists the run controls"),
              highlight=False)
