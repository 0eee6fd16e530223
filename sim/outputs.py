"""Result directories: written under a hidden partial name, renamed when complete.

A run directory only appears under its final name, with a ``manifest.json`` whose
``status`` is ``complete``, once every table is on disk; a failed or interrupted
run leaves nothing that looks finished (its partial directory is removed).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Iterator

from sim.errors import ScenarioError

MANIFEST_VERSION = 1
PACKAGES = ("simpy", "numpy", "networkx", "pyarrow", "pandas", "pydantic", "scipy")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "clets-testbed": _version("clets-testbed")}
    out.update({p: _version(p) for p in PACKAGES})
    return out


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"


def git_hash() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def new_run_id(seed: int) -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-s{seed}"


@contextmanager
def folder_lock(lock: Path, what: str) -> Iterator[None]:
    """One writer at a time: `lock` holds the writer's PID and start time. A second writer
    stops at once with a clear message; a lock left by a dead process is taken over."""
    lock = Path(lock)
    me = f"{os.getpid()} {datetime.now(timezone.utc).isoformat(timespec='seconds')}"
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid_text, _, since = lock.read_text().partition(" ")
                pid = int(pid_text)
            except (OSError, ValueError):
                pid, since = -1, "?"
            if pid > 0 and _alive(pid):
                raise ScenarioError(f"{what} is locked by PID {pid} since {since.strip()} (another "
                                    f"clets command is writing it); wait for it or choose another --out"
                                    ) from None
            lock.unlink(missing_ok=True)  # stale: its writer is gone
            continue
        except OSError as err:
            raise ScenarioError(f"{what}: cannot create the lock {lock} ({err.strerror})") from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    else:
        raise ScenarioError(f"{what}: could not take the lock {lock}")
    try:
        yield
    finally:
        try:
            if lock.read_text() == me:
                lock.unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def run_directory(final: Path) -> Iterator[Path]:
    """Yield a partial directory; rename it to `final` on success, delete it on failure.
    A lock next to it keeps a second writer of the same `final` out from the start."""
    final = Path(final)
    if "\x00" in str(final) or any(len(part) > 255 for part in final.parts) or len(str(final)) > 4000:
        raise ScenarioError(f"--out: not a usable directory name: {str(final)[:100]!r}")
    if os.path.lexists(final):  # a dangling or looping symlink counts: it cannot become the folder
        raise ScenarioError(f"output directory already exists: {final} (choose another --out)")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ScenarioError(f"output directory {final.parent} is not writable: {err.strerror}") from None
    with folder_lock(final.parent / f".{final.name}.lock", f"output directory {final}"):
        if os.path.lexists(final):
            raise ScenarioError(f"output directory already exists: {final} (choose another --out)")
        try:
            partial = final.parent / f".{final.name}.partial-{os.getpid()}"
            if partial.exists():
                shutil.rmtree(partial)
            partial.mkdir()
        except OSError as err:
            raise ScenarioError(f"output directory {final.parent} is not writable: {err.strerror}") from None
        try:
            yield partial
            os.replace(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise


def write_manifest(directory: Path, **fields) -> Path:
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "status": "complete",
        "written_at": datetime.now(timezone.utc).isoformat(),
        "versions": versions(),
        "git": git_hash(),
        **fields,
    }
    path = Path(directory) / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, default=_jsonable))
    return path


def _jsonable(x):
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return str(x)


def write_network_run(run, directory: Path, scenario_path: str | None = None) -> None:
    """Tables of a message-level run (Parquet; small ones also as CSV) plus the manifest."""
    import pyarrow.parquet as pq

    directory = Path(directory)
    if run.scenario.outputs.messages:
        pq.write_table(run.messages, directory / "messages.parquet")
    tables = [("nodes", run.nodes), ("e2e_by_county", run.by_county),
              ("e2e_by_database", run.by_database), ("faults", run.faults),
              ("timeline", run.timeline)]
    twin = getattr(run, "baseline", None)
    if twin is not None:  # the no-fault twin's timeline and the fault-window comparison
        tables += [("timeline_baseline", twin.timeline), ("fault_comparison", run.fault_comparison)]
    for name, df in tables:
        df.to_parquet(directory / f"{name}.parquet", index=False)
        df.to_csv(directory / f"{name}.csv", index=False)
    write_manifest(
        directory,
        kind="network_run",
        scenario_name=run.scenario.name,
        scenario_file=scenario_path,
        scenario=run.scenario.model_dump(mode="json"),
        seed=run.seed,
        load_factor=run.load_factor,
        horizon_s=run.horizon_s,
        warmup_s=run.warmup_s,
        wall_s=run.summary.get("wall_s"),
        summary=run.summary,
        fault_windows=getattr(run, "fault_windows", []),
        baseline=None if twin is None else {
            "what": "no-fault twin: same scenario and seed with the faults removed (same arrivals)",
            "summary": twin.summary},
    )


OVERSIGHT_TABLES = ("alerts", "complaints", "investigations", "discipline", "reports", "follow_ups",
                    "compliance", "public_list", "audits", "cac_meetings", "sanctions", "truth",
                    "misuse_journal", "incidents", "agencies", "yearly", "cac_items",
                    "filing_decisions", "behaviour_events", "incident_journal", "incident_people",
                    "shadow_rules", "shadow_hits")


def write_oversight_run(result, directory: Path, scenario_path: str | None = None) -> dict:
    """Event tables (Parquet; summaries also CSV), detection metrics and the manifest."""
    import pandas as pd

    from sim.measures import catalogue_frame
    from sim.metrics import detection_metrics

    directory = Path(directory)
    for name in OVERSIGHT_TABLES:
        df = getattr(result, name)
        df = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
        df.to_parquet(directory / f"{name}.parquet", index=False)
    for name in ("yearly", "reports", "compliance", "sanctions", "public_list", "cac_items", "audits"):
        getattr(result, name).to_csv(directory / f"{name}.csv", index=False)
    catalogue_frame(result.tail_days).to_csv(directory / "measures.csv", index=False)
    # detection quality over the reported years, the window of every yearly measure
    alerts, truth = result.in_reported_years(result.alerts), result.in_reported_years(result.truth)
    reviews = int((alerts["status"] == "reviewed").sum()) if len(alerts) else 0
    metrics = detection_metrics(alerts, truth, result.incidents, reviews)
    for name, df in metrics.items():
        df.to_csv(directory / f"metrics_{name}.csv", index=False)
    removed = result.agencies.loc[result.agencies["removed"], "ori"].tolist()
    cut_off = result.agencies.loc[~result.agencies["active_at_end"], "ori"].tolist()
    (directory / "post_sanction.yaml").write_text(
        "# Agencies without CLETS service at the end of this oversight run (removed or suspended).\n"
        "# Merge into a network scenario to run the message-level model on the post-sanction\n"
        "# topology, e.g. copy this block into scenarios/baseline_peak_hour.yaml.\n"
        "topology:\n  excluded_oris: [" + ", ".join(cut_off) + "]\n")
    write_manifest(
        directory, kind="oversight_run", scenario_name=result.scenario.name,
        scenario_file=scenario_path, scenario=result.scenario.model_dump(mode="json"),
        seed=result.seed, first_day=result.first_day, days=result.days,
        removed_agency_oris=removed, wall_s=result.summary.get("wall_s"),
        reported_days=list(result.reported_days), tail_days=result.tail_days,
        yearly=result.yearly.to_dict(orient="records"),
    )
    return metrics
