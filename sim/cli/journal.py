"""`clets journal`: the labelled audit journal and its answer key."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from sim.cli.common import (
    FORCE_HELP,
    LazyBar,
    _out_dir,
    _seed,
    app,
    check_size,
    err,
    out,
    user_errors,
)
from sim.config import load_scenario
from sim.config.scenario import LAST_DAY
from sim.errors import ScenarioError


def _counts_table(title: str, label: str, counts: dict[str, int]) -> Table:
    t = Table(title=title)
    t.add_column(label)
    t.add_column("rows", justify="right")
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        t.add_row(name, f"{n:,}")
    return t


@app.command()
@user_errors
def journal(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="scenario YAML file"),
    days: Optional[int] = typer.Option(None, help="days to generate (default: journal.days)"),
    mode: Optional[str] = typer.Option(None, help="full | sample | none (default: journal.mode)"),
    sample_rate: Optional[float] = typer.Option(None, help="lawful rows kept in sample mode"),
    seed: Optional[int] = typer.Option(None, help="root seed (default: the scenario's, else drawn)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Generate the labelled audit journal: month-partitioned Parquet plus a separate answer key."""
    from sim.journal import JournalGenerator, write_journal
    from sim.outputs import run_directory, write_manifest
    from sim.rng import Streams

    scenario = load_scenario(scenario_file)
    jc = scenario.journal
    if days is not None and days < 1:
        raise ScenarioError(f"--days: must be >= 1 (got {days})")
    if mode is not None and mode not in ("full", "sample", "none"):
        raise ScenarioError(f"--mode: expected full, sample or none (got {mode!r})")
    if sample_rate is not None and not 0 < sample_rate <= 1:
        raise ScenarioError(f"--sample-rate: must be in (0, 1] (got {sample_rate})")
    n_days = days or jc.days
    if days is not None and days > (LAST_DAY - jc.start_date).days:
        raise ScenarioError(f"--days: {days} days from {jc.start_date} would run past {LAST_DAY}")
    sized = scenario.model_copy(update={"journal": jc.model_copy(update={
        "mode": mode or jc.mode, "sample_rate": sample_rate or jc.sample_rate})})
    check_size(sized, journal_days=n_days, force=force, flags={
        q: f"--days = {days}" for q in ("simulated_days", "journal_rows")} if days else None)
    mode = mode or jc.mode
    rate = sample_rate if sample_rate is not None else jc.sample_rate
    root = _seed(scenario, seed)
    target = _out_dir(scenario, out_dir, root, "journal-")
    with run_directory(target) as tmp:
        err.print(f"building the world for {scenario.name} (seed {root}) ...")
        gen = JournalGenerator(scenario, Streams(root), days=n_days)
        with LazyBar(f"journal, {n_days} days, mode {mode}", total=n_days) as bar:
            bar.update(completed=0)
            summary = write_journal(gen, tmp, mode, rate, progress=lambda k: bar.update(advance=k))
        write_manifest(tmp, kind="journal", scenario_name=scenario.name, scenario_file=str(scenario_file),
                       scenario=scenario.model_dump(mode="json"), seed=root, days=n_days, mode=mode,
                       sample_rate=rate if mode == "sample" else None,
                       start_date=str(jc.start_date), summary=summary.__dict__)
    t = Table(title=f"{scenario.name}: journal ({n_days} days from {jc.start_date}, seed {root})")
    t.add_column("rows", justify="right")
    t.add_column("written", justify="right")
    t.add_column("misuse rows", justify="right")
    t.add_column("incidents", justify="right")
    t.add_column("rows/s", justify="right")
    t.add_row(f"{summary.rows:,}", f"{summary.written_rows:,}", f"{summary.misuse_rows:,}",
              f"{summary.incidents:,}", f"{summary.rows / max(summary.seconds, 1e-9):,.0f}")
    out.print(t)
    out.print(_counts_table("misuse rows by category (answer key)", "category", summary.by_category))
    out.print(_counts_table("misuse rows by archetype", "archetype", summary.by_archetype))
    out.print(f"results: [bold]{target}[/]" + ("" if mode != "none" else " (mode none: manifest only)"))


