"""Global sensitivity analysis over the declared parameter ranges (SALib), on the experiment runner.

Which assumptions drive an answer, and by how much. The factors are declared parameters
(`sim.params`): each varies over its plausible range (or one given with ``name=LOW:HIGH``),
uniformly, or log-uniformly when the range spans a factor of 10 or more; integer parameters
(servers, buffers) are rounded after sampling, and the indices refer to the design.

* **Morris** (elementary effects; screening): `samples` trajectories of ``levels`` grid
  levels, ``N x (k+1)`` runs for k factors. mu* is the mean absolute change of the output
  when the factor moves across its whole range (SALib divides each step by its share of the
  range); sigma is the spread of those changes (interactions or non-linearity). CIs: bootstrap.
* **Sobol** (variance shares): Saltelli's scheme on a scrambled Sobol' sequence,
  ``N x (k+2)`` runs, N a power of 2. S1: the share of the output's variance due to the
  factor alone; ST: with all its interactions. 95% CIs by bootstrap (SALib).
* **Tornado** (one at a time): the scenario as written, then each factor at its low and its
  high end with the others as written: ``2k+1`` runs.

Every run is an ordinary experiment run (`sim.experiment`): keyed by its resolved scenario,
seed and task, written to ``runs/<key>/result.json`` when it finishes, so a killed analysis
resumes without redoing finished runs and gives the same indices. Replication r of every
sample uses the same seed (common random numbers): the indices measure the parameters, not
sampling noise. docs/sensitivity.md.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import Scenario, parse_scenario
from sim.errors import ScenarioError
from sim.experiment import RunSpec, replication_seed, run_all, run_key, set_dotted

METHODS = ("morris", "sobol")
LOG_SPAN = 10.0  # a range at least this many times wide is sampled log-uniformly
CONF_LEVEL = 0.95
# the sections each model reads: a default analysis varies only these
MODEL_SECTIONS = {"network": ("topology.", "network.", "traffic."),
                  "oversight": ("world.", "journal.", "misuse.", "oversight.")}
MODEL_SECTIONS["both"] = MODEL_SECTIONS["network"] + MODEL_SECTIONS["oversight"]
MAX_FACTORS = 500


@dataclass(frozen=True)
class Factor:
    """One parameter varied by the analysis: its range (natural units) and how it is sampled."""

    name: str
    low: float
    high: float
    value: float | int | None  # as the scenario has it (the tornado's centre)
    integer: bool
    log: bool
    source: str

    @property
    def bounds(self) -> list[float]:
        """The range in the sampling space (log10 for a log-uniform factor)."""
        return [math.log10(self.low), math.log10(self.high)] if self.log else [self.low, self.high]

    def natural(self, x: float) -> float | int:
        """A design value back in the parameter's own units (rounded for an integer)."""
        v = 10.0 ** x if self.log else x
        v = min(max(v, self.low), self.high)
        return int(round(v)) if self.integer else float(v)


def parse_params(spec: str | None) -> tuple[list[str] | None, dict[str, tuple[float, float]]]:
    """'a,b=0.1:0.5' -> (['a', 'b'], {'b': (0.1, 0.5)}); None -> (None, {})."""
    if spec is None:
        return None, {}
    names, ranges = [], {}
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            continue
        name, eq, rng = item.partition("=")
        name = name.strip()
        if eq:
            lo, colon, hi = rng.partition(":")
            try:
                low, high = float(lo), float(hi)
            except ValueError:
                low = high = float("nan")
            if not colon or not (math.isfinite(low) and math.isfinite(high)):
                raise ScenarioError(f"--params: {item!r}: a range is written NAME=LOW:HIGH with two "
                                    "finite numbers")
            if low >= high:
                raise ScenarioError(f"--params: {item!r}: the low end must be below the high end")
            ranges[name] = (low, high)
        if name in names:
            raise ScenarioError(f"--params: {name!r} is given twice")
        names.append(name)
    if not names:
        raise ScenarioError(f"--params: no parameter named in {spec!r}")
    return names, ranges


def choose_factors(scenario: Scenario, spec: str | None) -> list[Factor]:
    """The factors named by --params (or every ranged parameter of the scenario's model), each
    with its declared range or the one given; unknown names and unusable ranges are refused."""
    from sim.params import declared_parameters

    names, ranges = parse_params(spec)
    params = {p.name: p for p in declared_parameters(scenario, include_excluded=True)}
    if names is None:
        sections = MODEL_SECTIONS[scenario.model]
        names = [n for n, p in params.items()
                 if not p.excluded and p.range is not None and n.startswith(sections)
                 and ".overrides." not in n and not any(s.isdigit() for s in n.split("."))]
    factors = []
    for name in names:
        p = params.get(name)
        if p is None:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ScenarioError(f"--params: unknown parameter {name!r}{hint}; `clets params "
                                "SCENARIO --all` lists them")
        if p.excluded:
            raise ScenarioError(f"--params: {name!r} is not an assumed parameter ({p.excluded})")
        if any(s.isdigit() for s in name.split(".")):
            raise ScenarioError(f"--params: {name!r} is an item of a list; vary the list's "
                                "section instead")
        low, high = ranges.get(name, (p.low, p.high))
        if low is None:
            raise ScenarioError(f"--params: {name!r} has no declared range; give one as "
                                f"{name}=LOW:HIGH")
        integer = isinstance(p.default if p.default is not None else p.value, int)
        if integer and math.floor(high) - math.ceil(low) < 1:
            raise ScenarioError(f"--params: {name}={low:g}:{high:g} holds fewer than two whole "
                                "numbers (an integer parameter)")
        factors.append(Factor(name, float(low), float(high), p.value, integer,
                              low > 0 and high / low >= LOG_SPAN, p.source or ""))
    if len(factors) < 2:
        raise ScenarioError(f"--params: a sensitivity analysis needs at least 2 parameters (got "
                            f"{len(factors)}: {', '.join(f.name for f in factors) or 'none'})")
    if len(factors) > MAX_FACTORS:
        raise ScenarioError(f"--params: {len(factors)} parameters; at most {MAX_FACTORS}")
    return factors


def check_samples(method: str, samples: int, levels: int) -> None:
    """What SALib can use: Morris at least 2 trajectories on an even grid; Sobol a power of 2."""
    if method not in METHODS:
        raise ScenarioError(f"--method: unknown method {method!r} (one of: {', '.join(METHODS)})")
    if method == "morris":
        if samples < 2:
            raise ScenarioError(f"--samples: Morris needs at least 2 trajectories (got {samples})")
        if levels < 2 or levels % 2:
            raise ScenarioError(f"--levels: Morris needs an even number of grid levels >= 2 (got {levels})")
    elif samples < 2 or samples & (samples - 1):
        near = 2 ** max(1, round(math.log2(max(samples, 1))))
        raise ScenarioError(f"--samples: Sobol needs a power of 2 (got {samples}; try {near})")


def run_count(method: str, samples: int, factors: int, replications: int, tornado: bool) -> int:
    per = factors + 1 if method == "morris" else factors + 2
    return (samples * per + (2 * factors + 1 if tornado else 0)) * replications


@dataclass
class Design:
    method: str
    factors: list[Factor]
    samples: int
    levels: int
    seed: int
    X: np.ndarray  # one row per sample, in the sampling space (SALib's design)

    @property
    def problem(self) -> dict:
        return {"num_vars": len(self.factors), "names": [f.name for f in self.factors],
                "bounds": [f.bounds for f in self.factors]}

    def overrides(self, row: np.ndarray) -> dict:
        return {f.name: f.natural(x) for f, x in zip(self.factors, row)}


def make_design(method: str, factors: list[Factor], samples: int, seed: int, levels: int = 4) -> Design:
    """SALib's sample for the method, seeded (the same command draws the same design)."""
    problem = {"num_vars": len(factors), "names": [f.name for f in factors],
               "bounds": [f.bounds for f in factors]}
    if method == "morris":
        from SALib.sample import morris

        X = morris.sample(problem, samples, num_levels=levels, seed=seed)
    else:
        from SALib.sample import sobol

        X = sobol.sample(problem, samples, calc_second_order=False, scramble=True, seed=seed)
    return Design(method, factors, samples, levels, seed, np.asarray(X, dtype=float))


@dataclass(frozen=True)
class Planned:
    """One run of the analysis: which sample (or tornado end) and which replication."""

    role: str  # sample | base | low | high
    sample: int  # row of the design (-1 for the tornado's runs)
    factor: str  # the tornado's factor ("" otherwise)
    overrides: dict
    spec: RunSpec


def plan_runs(scenario: Scenario, raw: dict, design: Design, out: Path, replications: int,
              task: str, tornado: bool, source: str) -> list[Planned]:
    """Every run, validated (a sample that is not a valid scenario stops with its values)."""
    raw = dict(raw)
    raw.pop("sweep", None)
    out_raw = dict(raw.get("outputs") or {})
    out_raw["messages"] = False  # indices need the measures, not every message of every run
    raw["outputs"] = out_raw
    root = scenario.seed if scenario.seed is not None else 0
    seeds = [replication_seed(root, r) for r in range(replications)]
    todo: list[tuple[str, int, str, dict]] = [("sample", i, "", design.overrides(row))
                                              for i, row in enumerate(design.X)]
    if tornado:
        todo.append(("base", -1, "", {}))
        for f in design.factors:
            todo += [("low", -1, f.name, {f.name: f.natural(f.bounds[0])}),
                     ("high", -1, f.name, {f.name: f.natural(f.bounds[1])})]
    planned = []
    resolved_cache: dict[str, dict] = {}
    for role, i, fname, overrides in todo:
        key = repr(sorted(overrides.items()))
        if key not in resolved_cache:
            resolved_cache[key] = _resolved(raw, overrides, source)
        resolved = resolved_cache[key]
        label = f"sample {i}" if role == "sample" else "as written" if role == "base" else f"{fname} {role}"
        for r, seed in enumerate(seeds):
            k = run_key(resolved, seed, task)
            spec = RunSpec(k, i, label, r, seed, resolved, str(out / "runs" / k), task)
            planned.append(Planned(role, i, fname, overrides, spec))
    return planned


def _resolved(raw: dict, overrides: dict, source: str) -> dict:
    """The scenario with one parameter set applied, fully resolved (defaults included)."""
    d = copy.deepcopy(raw)
    for k, v in overrides.items():
        set_dotted(d, k, v)
    try:
        return parse_scenario(d, source).model_dump(mode="json")
    except ScenarioError as e:
        values = ", ".join(f"{k}={v:g}" for k, v in overrides.items())
        raise ScenarioError(f"--params: the parameter set ({values[:600]}) is not a valid scenario "
                            f"({str(e)[:400]}); narrow the ranges") from None


@dataclass
class Analysis:
    """What one analysis computed: every run's outputs, the indices, the spread and the tornado."""

    design: Design
    outputs: list[str]
    runs: pd.DataFrame  # one row per run (outputs_table)
    records: list[dict]  # every unique run's result record
    indices: pd.DataFrame | None = None  # None when a run failed
    spread: pd.DataFrame | None = None
    tornado: pd.DataFrame | None = None

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "complete"]

    @property
    def resumed(self) -> int:
        return sum(bool(r.get("resumed")) for r in self.records)


def run_analysis(planned: list[Planned], design: Design, outputs: list[str], resamples: int = 1000,
                 workers: int = 1, scheduler: str | None = None, dask: bool = False,
                 on_done=None) -> Analysis:
    """Run every planned run once (finished ones are reused) on the chosen executor, then
    compute the indices, unless a run failed (they need every run)."""
    unique = list({p.spec.key: p.spec for p in planned}.values())
    records = run_all(unique, workers, scheduler, dask, on_done=on_done)
    table = outputs_table(planned, {r["key"]: r for r in records}, outputs)
    result = Analysis(design, outputs, table, records)
    if len(result.failed):
        return result
    result.indices = analyse(design, table, outputs, resamples)
    result.spread = spread_table(table, outputs)
    if (table["role"] == "base").any():
        result.tornado = tornado_table(table, design.factors, outputs)
    return result


def unique_runs(planned: list[Planned]) -> int:
    return len({p.spec.key for p in planned})


def outputs_table(planned: list[Planned], records: dict[str, dict], outputs: list[str]) -> pd.DataFrame:
    """One row per run: its role, sample, factor, the parameter values and each output."""
    rows = []
    for p in planned:
        rec = records[p.spec.key]
        measures = rec.get("measures") or {}
        rows.append({"role": p.role, "sample": p.sample, "factor": p.factor,
                     "replication": p.spec.replication, "seed": p.spec.seed, "key": p.spec.key,
                     "status": rec.get("status"), "error": rec.get("error", "")}
                    | {f"param:{k}": v for k, v in p.overrides.items()}
                    | {o: _number(measures.get(o)) for o in outputs})
    return pd.DataFrame(rows)


def _number(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def sample_outputs(table: pd.DataFrame, design: Design, output: str) -> np.ndarray:
    """The output per design row, averaged over replications (NaN where a run failed)."""
    s = table[table["role"] == "sample"].groupby("sample")[output].mean()
    return s.reindex(range(len(design.X))).to_numpy(dtype=float)


def analyse(design: Design, table: pd.DataFrame, outputs: list[str], resamples: int = 1000,
            ) -> pd.DataFrame:
    """The method's indices per (output, parameter), with bootstrap 95% CIs and a rank."""
    rows = []
    for output in outputs:
        y = sample_outputs(table, design, output)
        note = ""
        if not np.all(np.isfinite(y)):
            note = f"{int((~np.isfinite(y)).sum())} sample(s) without a value: not computed"
        elif np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):  # (float noise of a difference)
            note = "the output is the same at every sample: no parameter moves it"
        res = _indices(design, y, resamples) if not note else {}
        for j, f in enumerate(design.factors):
            row = {"method": design.method, "output": output, "parameter": f.name, "note": note}
            if design.method == "morris":
                zero = 0.0 if note.startswith("the output is the same") else float("nan")
                for k in ("mu", "mu_star", "sigma", "mu_star_conf"):
                    row[k] = float(res[k][j]) if res else zero
            else:
                zero = 0.0 if note.startswith("the output is the same") else float("nan")
                for k in ("S1", "S1_conf", "ST", "ST_conf"):
                    row[k] = float(res[k][j]) if res else zero
            rows.append(row)
    df = pd.DataFrame(rows)
    key = "mu_star" if design.method == "morris" else "ST"
    df["rank"] = df.groupby("output")[key].rank(ascending=False, method="min").astype("Int64")
    if design.method == "morris":
        df["mu_star_ci_low"] = df["mu_star"] - df["mu_star_conf"]
        df["mu_star_ci_high"] = df["mu_star"] + df["mu_star_conf"]
    else:
        for k in ("S1", "ST"):
            df[f"{k}_ci_low"] = df[k] - df[f"{k}_conf"]
            df[f"{k}_ci_high"] = df[k] + df[f"{k}_conf"]
    return df


def _indices(design: Design, y: np.ndarray, resamples: int) -> dict:
    if design.method == "morris":
        from SALib.analyze import morris

        return morris.analyze(design.problem, design.X, y, num_resamples=resamples,
                              conf_level=CONF_LEVEL, num_levels=design.levels, seed=design.seed)
    from SALib.analyze import sobol

    return sobol.analyze(design.problem, y, calc_second_order=False, num_resamples=resamples,
                         conf_level=CONF_LEVEL, seed=design.seed)


def tornado_table(table: pd.DataFrame, factors: list[Factor], outputs: list[str]) -> pd.DataFrame:
    """Per (output, factor): the output as written, at the factor's low and high end (means over
    replications) and the swing |high - low|, largest swing first."""
    t = table[table["role"].isin(["base", "low", "high"])]
    if not len(t):
        return pd.DataFrame()
    rows = []
    for output in outputs:
        base = t[t["role"] == "base"][output].mean()
        for f in factors:
            lo = t[(t["role"] == "low") & (t["factor"] == f.name)][output].mean()
            hi = t[(t["role"] == "high") & (t["factor"] == f.name)][output].mean()
            rows.append({"output": output, "parameter": f.name, "value": f.value,
                         "low": f.natural(f.bounds[0]), "high": f.natural(f.bounds[1]),
                         "output_as_written": base, "output_at_low": lo, "output_at_high": hi,
                         "swing": abs(hi - lo)})
    df = pd.DataFrame(rows)
    return df.sort_values(["output", "swing"], ascending=[True, False], kind="stable")


def spread_table(table: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """How widely each output ranges over the sampled parameter sets (not a CI: the spread the
    declared ranges imply; for Sobol's quasi-random design, their uniform distribution)."""
    s = table[table["role"] == "sample"].groupby("sample")[outputs].mean()
    rows = []
    for o in outputs:
        v = s[o].dropna().to_numpy()
        q = np.percentile(v, [0, 5, 50, 95, 100]) if len(v) else [np.nan] * 5
        rows.append({"output": o, "samples": len(v), "min": q[0], "p5": q[1], "median": q[2],
                     "p95": q[3], "max": q[4],
                     "share_below_zero": float((v < 0).mean()) if len(v) else np.nan})
    return pd.DataFrame(rows)


def headline_answer(indices: pd.DataFrame, spread: pd.DataFrame, output: str) -> str:
    """One line: how widely the headline output ranges and which parameters drive it."""
    d = indices[indices["output"] == output].sort_values("rank")
    sp = spread[spread["output"] == output].iloc[0]
    span = (f"{output} ranges {sp['p5']:.3g} to {sp['p95']:.3g} (5th-95th percentile over "
            f"{int(sp['samples'])} parameter sets; median {sp['median']:.3g})")
    if output.startswith("difference."):  # a paired effect: how often is it negative?
        span += f"; below zero in {sp['share_below_zero']:.0%} of them"
    if not len(d) or d["note"].iloc[0]:
        return span + (f"; {d['note'].iloc[0]}" if len(d) else "")
    if d["method"].iloc[0] == "morris":
        top = ", ".join(f"{r.parameter} (mu* {r.mu_star:.3g})" for r in d.head(3).itertuples())
        return span + f"; driven most by {top}"
    top = ", ".join(f"{r.parameter} (ST {r.ST:.2f}, S1 {r.S1:.2f})" for r in d.head(3).itertuples())
    return span + f"; driven most by {top}"
