"""Shared parts of the `clets` command: the app, user errors, progress bars, seeds, output folders.

Every user mistake (bad YAML, unknown key or name, bad range, missing or unwritable
path) ends with one message on stderr naming the field and the value, and exit
code 2; nothing half-written is left looking complete.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sim.config import Scenario
from sim.errors import ScenarioError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="CLETS testbed: discrete-event simulation of California's law-enforcement network.",
)
out = Console(force_jupyter=False)
err = Console(stderr=True, force_jupyter=False)


def _fit_width() -> None:
    """Console width for this command: $COLUMNS when set, the terminal's own width, else 160
    (piped or captured output - logs, CI, notebooks - keeps one line per table row, and a
    message longer than that is not broken)."""
    cols = os.environ.get("COLUMNS", "")
    width = int(cols) if cols.isdigit() and int(cols) > 0 else None
    if width is None and not sys.stdout.isatty():
        width = 160
    for console in (out, err):
        if width is not None:
            console.width = width
        console.soft_wrap = not console.is_terminal  # a log line stays one line


def user_errors(fn):
    """Turn ScenarioError into one clear line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _fit_width()
        try:
            return fn(*args, **kwargs)
        except ScenarioError as e:
            text = str(e)
            if len(text) > MAX_MESSAGE:  # a message never floods the terminal, whatever the input
                text = text[:MAX_MESSAGE] + f" ... ({len(text) - MAX_MESSAGE:,} more characters)"
            err.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print(INTERRUPTED[0], soft_wrap=True, highlight=False)
            raise typer.Exit(130) from None

    return wrapper


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


class LazyBar:
    """A progress bar that appears on the first update, so input errors found while
    preparing a run are not preceded by an empty bar."""

    def __init__(self, description: str, total: float):
        self.description, self.total = description, total
        self.progress: Progress | None = None
        self.task = None

    def update(self, completed: float | None = None, advance: float | None = None) -> None:
        if self.progress is None:
            self.progress = _progress()
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=self.total)
        if completed is not None:
            self.progress.update(self.task, completed=completed)
        if advance is not None:
            self.progress.advance(self.task, advance)

    def __enter__(self) -> LazyBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


# what Ctrl-C leaves behind, said truthfully (a sweep keeps its finished runs to resume)
INTERRUPTED = ["interrupted; the unfinished results folder was removed"]
MAX_MESSAGE = 2000  # characters of an error message shown
MAX_REPLICATIONS = 1000  # documented limit (README): more is a typo, not a study


def check_workers(workers: int, flag: str = "--workers") -> int:
    """Parallel processes: at least 1, at most this machine's CPU count (more only thrash
    and multiply memory; a remote Dask cluster is sized by its own workers)."""
    cpus = os.cpu_count() or 1
    if workers < 1:
        raise ScenarioError(f"{flag}: must be >= 1 (got {workers})")
    if workers > cpus:
        raise ScenarioError(f"{flag}: {workers} is more than this machine's {cpus} CPUs")
    return workers


FORCE_HELP = ("run even when a size is over its documented limit (docs/limits.md); never over "
              "this machine's memory")


def check_size(scenario: Scenario, *, runs: int = 1, workers: int = 1, force: bool = False,
               local: bool = True, **kw):
    """Refuse, before anything is built, what is over a documented limit (unless --force) or
    over this machine's memory with `workers` runs at once (sim.budget). Returns the estimate."""
    from sim.budget import check

    return check(scenario, runs=runs, parallel=workers, force=force, local=local, **kw)


def check_replications(replications: int | None, flag: str = "--replications") -> None:
    if replications is None:
        return
    if replications < 1:
        raise ScenarioError(f"{flag}: must be >= 1 (got {replications})")
    if replications > MAX_REPLICATIONS:
        raise ScenarioError(f"{flag}: {replications} is more than the limit of {MAX_REPLICATIONS}")


def _resolve_county(name: str) -> str:
    from topology.counties import county_names

    for c in county_names():
        if c.lower() == name.strip().lower():
            return c
    raise ScenarioError(f"--county: unknown county {name!r} (expected one of the 58, e.g. 'Orange')")


def _seed(scenario: Scenario, seed: Optional[int]) -> int:
    from sim.rng import draw_root_seed

    if seed is not None and seed < 0:
        raise ScenarioError(f"--seed: must be >= 0 (got {seed})")
    if seed is not None:
        return seed
    return scenario.seed if scenario.seed is not None else draw_root_seed()


def _out_dir(scenario: Scenario, out_opt: Optional[Path], seed: int, what: str = "") -> Path:
    from sim.outputs import new_run_id

    if out_opt is not None:
        return out_opt
    return Path(scenario.outputs.dir) / scenario.name / (what + new_run_id(seed))


def check_prior_manifest(target: Path, kind: str) -> None:
    """A results folder being resumed must hold results of this kind and manifest version; an
    unreadable manifest is noted (it is rewritten when the command completes)."""
    import json

    from sim.outputs import MANIFEST_VERSION

    old = Path(target) / "manifest.json"
    if not old.exists():
        return
    try:
        prior = json.loads(old.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        err.print(f"{old} was unreadable (corrupt); it is rewritten when the {kind} completes")
        return
    if not isinstance(prior, dict):
        prior = {}
    if prior.get("manifest_version") != MANIFEST_VERSION or prior.get("kind") != kind:
        raise ScenarioError(f"--out: {target} holds results of another kind or version "
                            f"({prior.get('kind')}, v{prior.get('manifest_version')}); choose another")


def check_writable(target: Path) -> None:
    """Make the results folder and prove a file can be written there, before any run."""
    try:
        Path(target).mkdir(parents=True, exist_ok=True)
        probe = Path(target) / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ScenarioError(f"--out: {target} is not writable ({e.strerror})") from None


def _report(target: Path) -> None:
    """Write report.html into a finished run directory and say where it is."""
    from sim.report import write_report

    path = write_report(target)
    out.print(f"report: [bold]{path}[/]")


