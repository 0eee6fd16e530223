"""Read finished runs back as pandas DataFrames: the public API for notebooks and scripts.

``load(folder)`` opens any folder the ``clets`` command writes and gives its tables by
name. Every kind of folder answers the same questions::

    r = load(folder)
    r.kind            # network_run, oversight_run, sweep, capacity, calibration, journal,
                      # availability
    r.manifest        # resolved scenario, seeds, versions, timings, summary (a dict)
    r.tables()        # every table name the folder has (per-run tables included)
    r["yearly"]       # a table as a DataFrame (cached; r.read(name, columns=...) is not)
    r.define("p95_s")   # what a measure means: label, unit, window, definition
    r.measures()      # every measure's definition, as a DataFrame

Single runs (``clets run`` of a network or oversight scenario)::

    r = load("results/baseline_peak_hour/20260101T120000-s7")
    r["nodes"].sort_values("utilization").tail()       # network_run
    r = load("results/passive_2017/20260101T120000-s7")
    r["yearly"][["year", "reported_share"]]            # oversight_run

Replicated runs, ``model: both`` scenarios (``make run``) and sweeps (kind ``sweep``) hold one
folder per run under ``runs/``. Their top-level tables are the sweep's own
(``sweep_runs``, ``sweep_summary``, ``sweep_differences``); a per-run table is every run's
table stacked, led by the columns ``point``, ``label``, ``replication`` and ``seed``::

    r = load("results/default/20260101T120000-s2026")     # make run: 3 replications, both models
    r.runs()                                  # one row per run: key, point, replication, seed, measures
    r["sweep_summary"]                        # mean and 95% CI per point and measure
    r["yearly"]                               # oversight/yearly.csv of every replication
    r["nodes"].groupby("node")["utilization"].mean()   # network/nodes of every replication
    r.run(0)["timeline"]                      # one run (by position, key, or point=/replication=)
    r["sweep_differences"]                    # paired differences (empty with one point)

With ``model: both`` each run has a ``network/`` and an ``oversight/`` part; a name found in
only one part needs no prefix, a name found in both (``measures``) needs one:
``r["oversight/measures"]``.

Capacity sweeps (``clets capacity``), calibrations (``clets calibrate``) and journals
(``clets journal``)::

    r = load("results/mdt_growth/capacity-20260101T120000-s1")
    r["capacity"][["load_factor", "p95_s"]], r.manifest["knee"], r["capacity_nodes"]
    r = load("results/calibration/20260101T120000-s0")
    r["calibration"][["figure", "record", "mean", "ci_low", "ci_high", "inside"]]
    r = load("results/baseline_peak_hour/journal-20260101T120000-s7")
    r["truth"], r["incidents"], r["operators"]
    r = load("results/availability_year/availability-20260101T120000-s12")   # clets availability
    r["availability"].query("kind == 'direct_connect'")[["name", "uptime", "cac_report"]]
    r.read("journal", columns=["time", "operator", "key"], filters=[("month", "=", "2018-01")])

Only finished folders load: a missing folder, a folder that is not a run, an unfinished
sweep or a run still being written raises :class:`sim.errors.ScenarioError` with what was
found. A missing table raises ``KeyError`` listing what the folder has.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Iterator

import pandas as pd

from sim.errors import ScenarioError

__all__ = ["RunResults", "Results", "TableNotFound", "load", "RUN_COLUMNS", "KINDS"]

KINDS = ("network_run", "oversight_run", "sweep", "capacity", "calibration", "journal",
         "availability", "both_run")
"""Kinds of folder: the first seven have a ``manifest.json`` saying so; ``both_run`` is one run of
a ``model: both`` scenario inside a sweep (``runs/<key>/`` with ``network/`` and ``oversight/``)."""

RUN_COLUMNS = ("point", "label", "replication", "seed")
"""Leading columns of a per-run table read from a sweep or replicated run."""

PARTS = ("network", "oversight")

# columns of tables that may be written as an empty CSV (no header): read back with them
_KNOWN_COLUMNS = {
    "sweep_differences": ["point", "label", "measure", "baseline", "difference", "ci_low",
                          "ci_high", "pairs"],
    "sweep_summary": ["point", "label", "measure", "mean", "ci_low", "ci_high", "replications"],
}


class TableNotFound(KeyError):
    """A table name the folder does not have; the message lists the names it has."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


def load(path: str | Path) -> RunResults:
    """Open a finished results folder of any kind; its tables come back as DataFrames.

    ``path`` is the folder ``clets`` printed after ``results:`` (or passed as ``--out``), a run
    inside a sweep (``runs/<key>``, or its ``network``/``oversight`` part), or a
    ``manifest.json`` in one of them.

    Examples (each after the command in its comment; folders are yours)::

        from sim.results import load

        # clets run scenarios/baseline_peak_hour.yaml --out /tmp/net
        net = load("/tmp/net")                      # kind 'network_run'
        net["nodes"].nlargest(5, "utilization")[["node", "utilization", "p95_s"]]
        net.define("p95_s").definition

        # clets run scenarios/trainer_demo.yaml --out /tmp/ov
        ov = load("/tmp/ov")                        # kind 'oversight_run'
        ov["yearly"].set_index("year")[["alerts", "investigations_confirmed"]]

        # clets run scenarios/default.yaml --replications 2 --out /tmp/both   (make run)
        both = load("/tmp/both")                    # kind 'sweep', model 'both'
        both.runs()[["point", "replication", "seed", "network.p95_s"]]
        both["yearly"]                              # every replication's oversight/yearly
        both["network/nodes"]                       # a part named explicitly
        both.run(1).kind                            # 'both_run'

        # clets sweep scenarios/audit_frequency.yaml --out /tmp/sweep
        sw = load("/tmp/sweep")
        sw["sweep_differences"].query("measure == 'investigations_confirmed'")
        sw.run(point=1, replication=0)["alerts"]

        # clets capacity scenarios/mdt_growth.yaml --county Mono --out /tmp/cap
        cap = load("/tmp/cap")                      # kind 'capacity'
        cap["capacity"].plot(x="load_factor", y="p95_s")

        # clets journal scenarios/baseline_peak_hour.yaml --days 3 --out /tmp/jr
        jr = load("/tmp/jr")                        # kind 'journal'
        jr["journal"].merge(jr["truth"], on="query_id")   # the labelled rows

    Raises :class:`sim.errors.ScenarioError` when the folder is missing, is not a run folder,
    or is not finished (an interrupted sweep: rerun the same command to resume it).
    """
    p = Path(path).expanduser()
    if p.is_file():
        if p.name not in ("manifest.json", "result.json"):
            raise ScenarioError(f"{p}: a file, not a results folder (pass the folder that holds "
                                "manifest.json)")
        p = p.parent
    if not p.exists():
        raise ScenarioError(f"{p}: no such results folder")
    if not p.is_dir():
        raise ScenarioError(f"{p}: not a folder")
    if ".partial-" in p.name:
        raise ScenarioError(_not_a_run(p))
    if (p / "result.json").exists() or any((p / part / "manifest.json").exists() for part in PARTS):
        return _sweep_member(p, None)
    if (p / "manifest.json").exists():
        return RunResults(p)
    raise ScenarioError(_not_a_run(p))


def _not_a_run(p: Path) -> str:
    if ".partial-" in p.name:
        return (f"{p}: a run still being written, or one that was interrupted (its final folder "
                f"is {p.name.split('.partial-')[0].lstrip('.')})")
    runs = p / "runs"
    if runs.is_dir():
        done = sum(1 for d in runs.iterdir() if _record_status(d) == "complete")
        failed = sum(1 for d in runs.iterdir() if _record_status(d) == "failed")
        total = sum(1 for d in runs.iterdir() if d.is_dir())
        return (f"{p}: an unfinished sweep or replicated run (no manifest.json; {done} run(s) "
                f"finished, {failed} failed, {total} started); rerun the same command with "
                f"--out {p} to finish it")
    if p.name == "runs" and (p.parent / "manifest.json").exists():
        return (f"{p}: the runs of the sweep {p.parent}; load that folder and pick a run with "
                "r.run(i), or load one of the runs/<key> folders")
    inside = sorted((d for d in p.iterdir() if (d / "manifest.json").exists()),
                    key=lambda d: d.stat().st_mtime)
    if inside:
        names = ", ".join(d.name for d in inside[-5:])
        return (f"{p}: a folder of {len(inside)} results folder(s), not one; pass one of them "
                f"(newest last: {names})")
    return f"{p}: not a results folder (no manifest.json)"


def _record_status(d: Path) -> str | None:
    try:
        return json.loads((d / "result.json").read_text()).get("status")
    except (OSError, ValueError):
        return None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read ({e.strerror})") from None
    except ValueError as e:
        raise ScenarioError(f"{path}: not valid JSON ({e}); the folder is damaged") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: not a manifest")
    return data


def _scan(directory: Path) -> dict[str, Path]:
    """Tables in one folder: name -> Parquet file, CSV file or Parquet dataset folder."""
    found: dict[str, Path] = {}
    if not directory.is_dir():
        return found
    for f in sorted(directory.iterdir()):
        if f.name.startswith("."):
            continue
        if f.is_file() and f.suffix == ".parquet":
            found[f.stem] = f
        elif f.is_file() and f.suffix == ".csv":
            found.setdefault(f.stem, f)
        elif f.is_dir() and f.name not in ("runs", *PARTS) and next(f.rglob("*.parquet"), None):
            found[f.name] = f  # a partitioned dataset (the journal's month=YYYY-MM/)
    return found


def _read_file(name: str, path: Path, columns=None, filters=None) -> pd.DataFrame:
    if path.suffix == ".csv":
        if filters is not None:
            raise ValueError(f"{name}: filters apply to Parquet tables; this one is CSV ({path.name})")
        try:
            df = pd.read_csv(path)
        except pd.errors.EmptyDataError:  # a table with no rows written without a header
            df = pd.DataFrame(columns=_KNOWN_COLUMNS.get(name, []))
        return df[list(columns)] if columns is not None else df
    kwargs = {}
    if columns is not None:
        kwargs["columns"] = list(columns)
    if filters is not None:
        kwargs["filters"] = filters
    return pd.read_parquet(path, **kwargs)


class RunResults:
    """The tables of one results folder, by name (see :func:`load` and the module docstring).

    Attributes: ``directory`` (the folder); ``manifest`` (its manifest.json as a dict; for a
    ``both_run``, its result.json record with the scenario); ``record`` (for a run inside a
    sweep, its result.json: key, point, label, replication, seed, status, measures; else None);
    ``kind``, ``model``, ``scenario`` and ``is_sweep``.
    """

    def __init__(self, directory: str | Path, *, manifest: dict | None = None,
                 record: dict | None = None, parts: dict[str, RunResults] | None = None):
        self.directory = Path(directory)
        if manifest is None:
            if not (self.directory / "manifest.json").exists():
                raise ScenarioError(_not_a_run(self.directory) if self.directory.is_dir()
                                    else f"{self.directory}: no such results folder")
            manifest = _read_json(self.directory / "manifest.json")
            if manifest.get("status") != "complete":
                raise ScenarioError(f"{self.directory}: run is not complete (manifest status "
                                    f"{manifest.get('status')!r})")
        self.manifest: dict = manifest
        self.record: dict | None = record  # point, label, replication, seed of a sweep member
        self._parts: dict[str, RunResults] = parts or {}
        self._files = _scan(self.directory) if not self._parts else {}
        self._cache: dict[str, pd.DataFrame] = {}
        self._members: dict[str, RunResults] = {}
        self._run_table: pd.DataFrame | None = None
        self._groups: dict[str, list[str]] | None = None

    # ------------------------------------------------------------------ what it is

    @property
    def kind(self) -> str:
        """network_run, oversight_run, sweep, capacity, calibration, journal, availability or
        both_run."""
        return self.manifest.get("kind", "")

    @property
    def scenario(self) -> dict:
        """The resolved scenario (every default filled in) as a dict."""
        if self.manifest.get("scenario"):
            return self.manifest["scenario"]
        for part in self._parts.values():
            if part.manifest.get("scenario"):
                return part.manifest["scenario"]
        return {}

    @property
    def model(self) -> str:
        """network, oversight or both; '' for journals and calibrations."""
        kinds = {"network_run": "network", "oversight_run": "oversight", "both_run": "both",
                 "capacity": "network"}
        return kinds.get(self.kind) or (self.scenario.get("model", "") if self.is_sweep else "")

    @property
    def is_sweep(self) -> bool:
        """True for sweeps and replicated runs (folders with ``runs/``)."""
        return self.kind == "sweep"

    def __repr__(self) -> str:
        name = self.manifest.get("scenario_name") or self.scenario.get("name", "")
        what = self.kind
        if self.is_sweep:
            what += f" of {len(self.runs())} runs, model {self.model}"
        return f"<RunResults {what} {name!r} at {self.directory}: {len(self.tables())} tables>"

    # ------------------------------------------------------------------ table names

    def table_groups(self) -> dict[str, list[str]]:
        """Table names by where they are: ``top-level``, and for sweeps ``per run`` (or, with
        ``model: both``, ``per run, network/`` and ``per run, oversight/``)."""
        groups: dict[str, list[str]] = {}
        top = sorted(self._files)
        if self._parts:
            for part, sub in self._parts.items():
                groups[part + "/"] = sorted(sub._files)
            return groups
        groups["top-level"] = top
        if self.is_sweep:
            for label, names in self._member_groups().items():
                groups[label] = names
        return groups

    def _member_groups(self) -> dict[str, list[str]]:
        if self._groups is None:  # a finished folder does not change: scan the runs once
            self._groups = self._scan_members()
        return self._groups

    def _scan_members(self) -> dict[str, list[str]]:
        union: dict[str, set[str]] = {}
        for d in self._member_dirs():
            if any((d / part).is_dir() for part in PARTS):
                for part in PARTS:
                    union.setdefault(f"per run, {part}/", set()).update(_scan(d / part))
            else:
                union.setdefault("per run", set()).update(_scan(d))
        return {k: sorted(v) for k, v in union.items()}

    def tables(self) -> list[str]:
        """Every name ``r[name]`` accepts: top-level tables, then per-run tables (with
        ``model: both``, a name in both parts is listed as ``network/name`` and
        ``oversight/name``)."""
        names: list[str] = []
        groups = self.table_groups()
        for label, group in groups.items():
            if label == "top-level":
                names += group
        part_groups = {k.split(", ")[-1].rstrip("/"): v for k, v in groups.items()
                       if k.endswith("/")}
        if part_groups:
            counts: dict[str, int] = {}
            for group in part_groups.values():
                for n in group:
                    counts[n] = counts.get(n, 0) + 1
            for part, group in part_groups.items():
                names += [n if counts[n] == 1 else f"{part}/{n}" for n in group]
        elif "per run" in groups:
            names += [n for n in groups["per run"] if n not in names]
        seen: set[str] = set()
        return [n for n in names if not (n in seen or seen.add(n))]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self._locate(name)
        except KeyError:
            return False
        return True

    def _missing(self, name: str, why: str = "") -> TableNotFound:
        lines = [f"{name!r} is not a table of {self.directory} ({self.kind})" + (f": {why}" if why else ".")]
        close = difflib.get_close_matches(name.split("/")[-1], self.tables(), n=3)
        if close and not why:
            lines[0] += " Did you mean " + " or ".join(repr(c) for c in close) + "?"
        lines.append("It has:")
        for label, group in self.table_groups().items():
            suffix = ""
            if label.startswith("per run"):
                suffix = f" (stacked over {len(self._member_dirs())} runs, led by {', '.join(RUN_COLUMNS)})"
            lines.append(f"  {label} tables{suffix}: {', '.join(group) or '(none)'}")
        return TableNotFound("\n".join(lines))

    def _locate(self, name: str) -> tuple[str, object]:
        """('file', path) | ('part', (part, name)) | ('runs', name); KeyError when absent."""
        if name in self._files and not self._parts:
            return "file", self._files[name]
        part, _, rest = name.partition("/")
        if self._parts:
            if rest:
                if part in self._parts and rest in self._parts[part]._files:
                    return "part", (part, rest)
                raise self._missing(name)
            having = [p for p, sub in self._parts.items() if name in sub._files]
            if len(having) == 1:
                return "part", (having[0], name)
            if len(having) > 1:
                raise self._missing(name, "it is in both parts; ask for "
                                    + " or ".join(repr(f"{p}/{name}") for p in having))
            raise self._missing(name)
        if self.is_sweep:
            groups = self._member_groups()
            if rest and part in PARTS:
                if rest in groups.get(f"per run, {part}/", []):
                    return "runs", name
                raise self._missing(name)
            if "per run" in groups and name in groups["per run"]:
                return "runs", name
            having = [p for p in PARTS if name in groups.get(f"per run, {p}/", [])]
            if len(having) == 1:
                return "runs", f"{having[0]}/{name}"
            if len(having) > 1:
                raise self._missing(name, "it is in both parts of every run; ask for "
                                    + " or ".join(repr(f"{p}/{name}") for p in having))
        raise self._missing(name)

    # ------------------------------------------------------------------ reading

    def __getitem__(self, name: str) -> pd.DataFrame:
        """The table as a DataFrame (read once, then cached: copy it before changing it)."""
        if not isinstance(name, str):
            raise TypeError(f"table names are strings (got {name!r})")
        if name not in self._cache:
            self._cache[name] = self.read(name)
        return self._cache[name]

    def get(self, name: str, default=None):
        """``r[name]``, or ``default`` when the folder has no such table."""
        return self[name] if name in self else default

    def read(self, name: str, columns: list[str] | None = None, filters=None) -> pd.DataFrame:
        """Read a table afresh (not cached), optionally only some columns or, for Parquet
        tables, the rows matching pyarrow ``filters`` (e.g. ``[("month", "=", "2018-01")]``
        for the journal); for per-run tables of a sweep, applied to each run."""
        where, what = self._locate(name)
        if where == "file":
            return _read_file(name, what, columns, filters)
        if where == "part":
            part, sub = what
            return self._parts[part].read(sub, columns, filters)
        return self._stack(what, columns, filters)

    def path(self, name: str) -> Path:
        """Where a top-level table is on disk (a file, or the journal's dataset folder)."""
        where, what = self._locate(name)
        if where == "file":
            return what
        if where == "part":
            return self._parts[what[0]].path(what[1])
        raise self._missing(name, "it is a per-run table; see r.run(i).path(name)")

    def _stack(self, name: str, columns=None, filters=None) -> pd.DataFrame:
        frames = []
        for row, run in self.iter_runs():
            if name not in run:
                continue
            df = run.read(name, columns, filters)
            own = {c: f"{name.split('/')[-1]}_{c}" for c in RUN_COLUMNS if c in df.columns}
            df = df.rename(columns=own)
            for i, col in enumerate(RUN_COLUMNS):
                df.insert(i, col, row[col])
            frames.append(df)
        if not frames:
            return pd.DataFrame(columns=list(RUN_COLUMNS))
        filled = [f for f in frames if len(f)]
        if not filled:
            return frames[0]
        return pd.concat(filled, ignore_index=True)

    # ------------------------------------------------------------------ runs of a sweep

    def runs(self) -> pd.DataFrame:
        """One row per run of a sweep or replicated run (``sweep_runs``): key, point, label,
        replication, seed, status, every measure, error."""
        if not self.is_sweep:
            raise ValueError(f"{self.directory} is a {self.kind or 'results'} folder, not a sweep "
                             "or replicated run: it has no runs; read its tables with r[name]")
        if self._run_table is None:
            if "sweep_runs" in self._files:
                self._run_table = _read_file("sweep_runs", self._files["sweep_runs"])
            else:  # a sweep written before sweep_runs existed: the records themselves
                records = [_read_json(d / "result.json") for d in sorted((self.directory / "runs").iterdir())
                           if (d / "result.json").exists()]
                self._run_table = pd.DataFrame(
                    [{k: r.get(k) for k in ("key", *RUN_COLUMNS, "status")} | (r.get("measures") or {})
                     for r in records]).sort_values(["point", "replication"], ignore_index=True)
        return self._run_table

    def _member_dirs(self) -> list[Path]:
        if not self.is_sweep:
            return []
        table = self.runs()
        keep = table["status"] == "complete" if "status" in table else slice(None)
        return [self.directory / "runs" / str(k) for k in table.loc[keep, "key"]]

    def run(self, which: int | str | None = None, *, point: int | None = None,
            replication: int | None = None) -> RunResults:
        """One run of a sweep: by position in ``runs()`` (``r.run(0)``), by key (or a unique
        prefix of it), or by ``point=`` and ``replication=`` (each defaults to 0)."""
        table = self.runs()
        if which is None:
            p, rep = point or 0, replication or 0
            hit = table[(table["point"] == p) & (table["replication"] == rep)]
            if not len(hit):
                raise KeyError(f"no run with point={p}, replication={rep} (points "
                               f"{sorted(table['point'].unique())}, replications "
                               f"{sorted(table['replication'].unique())})")
            key = str(hit["key"].iloc[0])
        elif isinstance(which, (int,)) and not isinstance(which, bool):
            if not -len(table) <= which < len(table):
                raise IndexError(f"run {which}: this folder has {len(table)} runs (0 to {len(table) - 1})")
            key = str(table["key"].iloc[which])
        else:
            keys = [str(k) for k in table["key"] if str(k).startswith(str(which))]
            if len(keys) != 1:
                raise KeyError(f"run {which!r}: " + ("no run has that key" if not keys else
                               f"{len(keys)} runs start with it") + f" (keys: {', '.join(map(str, table['key'][:6]))}"
                               + (" ..." if len(table) > 6 else "") + ")")
            key = keys[0]
        return self._member(key)

    def iter_runs(self) -> Iterator[tuple[dict, RunResults]]:
        """(row of ``runs()`` as a dict, the run) for every complete run, in order."""
        for row in self.runs().to_dict(orient="records"):
            if row.get("status", "complete") == "complete":
                yield row, self._member(str(row["key"]))

    def _member(self, key: str) -> RunResults:
        if key not in self._members:
            self._members[key] = _sweep_member(self.directory / "runs" / key, self)
        return self._members[key]

    # ------------------------------------------------------------------ measures

    def _tail_days(self):
        if "tail_days" in self.manifest:
            return self.manifest["tail_days"]
        for part in self._parts.values():
            if "tail_days" in part.manifest:
                return part.manifest["tail_days"]
        return None

    def define(self, name: str):
        """The definition of a measure (a column of ``yearly``, a key of ``sweep_runs`` such as
        ``oversight.reported_share``): a :class:`sim.measures.Measure` with name, label, unit,
        kind, window and definition. KeyError lists the known measures."""
        from sim import measures

        m = measures.get(name)
        tail = self._tail_days()
        if "{tail_days}" in m.window:
            m = dataclasses.replace(m, window=m.window.replace("{tail_days}",
                                                               "N" if tail is None else str(tail)))
        return m

    def measures(self, names=None) -> pd.DataFrame:
        """Definitions of the measures: every one (the run's ``measures.csv`` when it wrote
        one, else the registry), or those ``names`` (e.g. ``summary["measure"].unique()``),
        indexed by the given name, with label, unit, kind, window, definition and model."""
        if names is not None:
            rows = []
            for n in dict.fromkeys(map(str, names)):
                m = dataclasses.asdict(self.define(n))
                m.pop("name")
                rows.append({"measure": n} | m)
            cols = ["measure", "label", "unit", "kind", "window", "definition", "model", "headline"]
            return pd.DataFrame(rows, columns=cols).set_index("measure")
        for candidate in self._measure_files():
            return _read_file("measures", candidate)
        from sim.measures import catalogue_frame

        return catalogue_frame(self._tail_days())

    def _measure_files(self) -> Iterator[Path]:
        if "measures" in self._files:
            yield self._files["measures"]
        for part in self._parts.values():
            yield from part._measure_files()
        if self.is_sweep:
            for d in self._member_dirs()[:1]:
                for sub in (d, d / "oversight", d / "network"):
                    if (sub / "measures.csv").exists():
                        yield sub / "measures.csv"


Results = RunResults


def _sweep_member(d: Path, parent: RunResults | None) -> RunResults:
    """One run of a sweep: ``runs/<key>/`` (its result.json record, and a manifest or two parts)."""
    if not d.is_dir():
        raise ScenarioError(f"{d}: run folder missing (was it deleted?)")
    record = _read_json(d / "result.json") if (d / "result.json").exists() else None
    if record is not None and record.get("status") != "complete":
        raise ScenarioError(f"{d}: this run failed: {record.get('error', 'no error recorded')}")
    if (d / "manifest.json").exists():
        return RunResults(d, record=record)
    parts = {p: RunResults(d / p) for p in PARTS if (d / p / "manifest.json").exists()}
    if not parts:
        raise ScenarioError(f"{d}: " + ("an unfinished run (no result.json)" if record is None
                                        else "no tables (no manifest.json, no network/ or oversight/)"))
    manifest = {"kind": "both_run", "status": "complete"} | (record or {})
    for part in parts.values():  # the scenario and its name, from either part
        for k in ("scenario_name", "scenario", "tail_days"):
            if k in part.manifest and k not in manifest:
                manifest[k] = part.manifest[k]
    return RunResults(d, manifest=manifest, record=record, parts=parts)
