"""Posterior calibration of the oversight loop: ABC-SMC (pyabc) over the free parameters.

`sim.calibration` fits the four free parameters (``calibration.FREE``) to a point by least
squares. This module gives them a *posterior* instead, by likelihood-free inference:

* **Priors**: uniform on the transformed scale calibration.py fits on, over each parameter's
  declared plausible range (`sim.params.declared_parameters`): log-uniform for the two
  complaint scales (``log``), logit-uniform for the two probabilities (``logit``).
* **Distance**: the Euclidean norm of calibration.py's residuals (log(model/record) for
  counts, logit differences for shares) over the scalar FITTED figures
  (``calibration.SCALAR_FIGURES``, what calibration.py's least squares fits these four
  parameters to). Held-out figures are never simulated for, nor read by, the distance
  (`ResidualDistance` refuses them). One simulation (one replication, its own seed) per
  particle: the run's randomness is part of the likelihood, not averaged away.
* **Sampler**: `SeededSampler`, pyabc's multicore sampler base with a fixed seed. pyabc's own
  multicore samplers reseed every worker from the operating system, so two runs never give the
  same posterior; here candidate *i* of generation *t* draws its parameters and its
  simulation seed from ``SeedSequence([seed, t + 1, i])`` and a generation keeps, in index
  order, the candidates up to its n-th acceptance. The posterior depends on the seed only,
  not on the number of workers or on their timing.
* **Schedule**: generation 0 accepts the prior sample (epsilon = infinity, no extra
  calibration sample); each later epsilon is the weighted median of the previous generation's
  distances (`QuantileEpsilon`, alpha 0.5); multivariate normal perturbation kernels. Stops
  after `generations`, when epsilon reaches `min_epsilon`, or when a generation's acceptance
  rate would fall below `min_acceptance_rate` (a generation may evaluate at most
  population / min_acceptance_rate candidates; if that is not enough, it is dropped and
  the previous generation is the posterior).

The posterior (weighted particles, natural scale) is written as Parquet with a JSON header in
the file's metadata (`write_posterior`, `read_posterior`): the parameters, their priors, the
fitted figures and every scenario of the calibration with a fingerprint of its settings other
than the free parameters, so that `clets run --posterior` refuses a file made for another
scenario or parameter set. docs/oversight.md, "Posterior calibration".
"""

from __future__ import annotations

import copy
import hashlib
import json
import multiprocessing
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from sim.calibration import (
    FREE,
    HELD_OUT,
    SCALAR_FIGURES,
    Figure,
    _from_x,
    _residual,
    _to_x,
    column,
)
from sim.errors import ScenarioError

FORMAT = "clets-posterior"
FORMAT_VERSION = 1
HEADER_KEY = b"clets_posterior"
FIGURES = SCALAR_FIGURES  # what the distance compares: the scalar fitted figures only
# where a calibration scenario's fingerprint does not look (run controls, labels, outputs)
NOT_FINGERPRINTED = ("name", "description", "seed", "outputs", "sweep")


# ---------------------------------------------------------------------- priors
@dataclass(frozen=True)
class Prior:
    """Uniform on the `transform` scale (log or logit) over the declared range [low, high]."""

    name: str  # dotted scenario key
    transform: str  # "log" or "logit"
    low: float
    high: float

    @property
    def bounds_x(self) -> tuple[float, float]:
        return _to_x(self.low, self.transform), _to_x(self.high, self.transform)

    def describe(self) -> str:
        return f"{self.transform}-uniform on [{self.low:g}, {self.high:g}]"


def declared_priors(scenario, free=FREE) -> list[Prior]:
    """The priors of the free parameters: their declared plausible ranges in `scenario`."""
    from sim.params import declared_parameters

    declared = {p.name: p for p in declared_parameters(scenario)}
    priors = []
    for key, how in free:
        p = declared.get(key)
        if p is None or p.low is None or p.high is None:
            raise ScenarioError(f"{key}: no declared plausible range to use as a prior "
                                "(sim.params, docs/parameters.md)")
        if not p.low < p.high or (how == "log" and p.low <= 0) or (how == "logit" and not 0 < p.low < p.high < 1):
            raise ScenarioError(f"{key}: declared range {p.low}-{p.high} cannot be a {how}-uniform prior")
        priors.append(Prior(key, how, float(p.low), float(p.high)))
    return priors


def _abc_name(i: int) -> str:
    return f"p{i}"  # pyabc's column for priors[i] (on the transformed scale)


def to_natural(abc_params, priors: list[Prior]) -> dict[str, float]:
    return {p.name: _from_x(float(abc_params[_abc_name(i)]), p.transform) for i, p in enumerate(priors)}


# ---------------------------------------------------------------------- distance
class ResidualDistance:
    """sqrt(sum of squared calibration residuals) over `figures`, which must all be fitted
    figures (a held-out figure here would be fitted: refused). `seen` records the figure
    names it has read (tests: a spy for held-out leakage)."""

    def __init__(self, figures: Iterable[Figure]):
        self.figures = tuple(figures)
        held = [f.name for f in self.figures if f in HELD_OUT]
        if held:
            raise ValueError(f"held-out figures cannot enter the distance: {held}")
        self.seen: set[str] = set()

    def residuals(self, x: dict) -> np.ndarray:
        self.seen.update(f.name for f in self.figures)
        return np.array([_residual(float(x[f.name]), f) for f in self.figures])

    def __call__(self, x: dict, x_0: dict | None = None) -> float:
        r = self.residuals(x)
        return float(np.sqrt(np.sum(r * r))) if np.all(np.isfinite(r)) else float("inf")


# ---------------------------------------------------------------------- sampler
_JOB: Callable | None = None  # pyabc's simulate_one, inherited by forked workers


def candidate_seed(seed: int, t: int, i: int) -> int:
    """The seed of candidate `i` of generation `t` (t = -1: a calibration sample)."""
    return int(np.random.SeedSequence([int(seed), int(t) + 1, int(i)]).generate_state(1)[0])


def _evaluate(s: int, job: Callable | None = None):
    random.seed(s)
    np.random.seed(s)
    return (job or _JOB)()


def _sampler_class():
    from pyabc.sampler.multicorebase import MultiCoreSampler

    class SeededSampler(MultiCoreSampler):
        """pyabc multicore sampling with per-candidate seeds (module docstring): the same seed
        gives the same populations on any number of workers."""

        def __init__(self, seed: int, workers: int = 1, on_evaluation: Callable | None = None,
                     on_generation: Callable | None = None):
            super().__init__(n_procs=workers, daemon=True, pickle=False)
            self.seed = int(seed)
            self.on_evaluation = on_evaluation
            self.on_generation = on_generation
            self.failed: int | None = None  # the generation dropped for its acceptance rate
            self.total = 0  # simulations run, a dropped generation's included

        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf,
                                    all_accepted=False, ana_vars=None):  # noqa: ARG002
            global _JOB
            sample = self._create_empty_sample()
            accepted = evaluated = 0
            limit = max_eval if np.isfinite(max_eval) else float("inf")

            def take(particle) -> None:
                nonlocal accepted, evaluated
                sample.append(particle)
                evaluated += 1
                accepted += bool(particle.accepted)
                if self.on_evaluation:
                    self.on_evaluation(bool(particle.accepted))

            if self.n_procs <= 1:
                i = 0
                while accepted < n and i < limit:
                    take(_evaluate(candidate_seed(self.seed, t, i), simulate_one))
                    i += 1
            else:
                _JOB = simulate_one
                try:
                    with multiprocessing.get_context("fork").Pool(self.n_procs) as pool:
                        pending: deque = deque()
                        nxt = 0
                        window = 2 * self.n_procs  # keeps every worker busy while results are taken in order
                        while accepted < n:
                            while len(pending) < window and nxt < limit:
                                pending.append(pool.apply_async(_evaluate, (candidate_seed(self.seed, t, nxt),)))
                                nxt += 1
                            if not pending:
                                break
                            take(pending.popleft().get())
                        pool.terminate()  # candidates after the n-th acceptance are not used
                finally:
                    _JOB = None
            self.nr_evaluations_ = evaluated
            self.total += evaluated
            if accepted < n:
                sample.ok = False
                self.failed = t
            if self.on_generation:
                self.on_generation(t, accepted, evaluated, accepted >= n)
            return sample

    return SeededSampler


def seeded_sampler(seed: int, workers: int = 1, on_evaluation=None, on_generation=None):
    return _sampler_class()(seed, workers, on_evaluation, on_generation)


# ---------------------------------------------------------------------- ABC-SMC
@dataclass
class PosteriorResult:
    particles: pd.DataFrame  # one row per particle: weight, then each parameter (natural scale)
    priors: list[Prior]
    figures: tuple[Figure, ...]
    generations: pd.DataFrame  # t, epsilon, particles, simulations, acceptance rate
    simulations: int
    wall_s: float
    stopped: str
    settings: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        return summarise_particles(self.particles, self.priors)


def abc_posterior(simulate: Callable[[dict, int], dict], figures: Iterable[Figure], priors: list[Prior], *,
                  population: int, generations: int, min_epsilon: float = 0.0,
                  min_acceptance_rate: float = 0.0, workers: int = 1, seed: int = 0,
                  db_path: Path, distance: ResidualDistance | None = None,
                  on_evaluation: Callable | None = None, on_generation: Callable | None = None,
                  ) -> PosteriorResult:
    """ABC-SMC of `priors` given `figures` (module docstring). `simulate(params, seed)` runs the
    model at `params` (dotted key -> natural value) with simulation seed `seed` and returns
    {figure name: model value} for (at least) `figures`."""
    import logging

    import pyabc

    for name in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Epsilon", "ABC.Distance",
                 "ABC.Transition", "ABC.Population", "ABC.Adaptation", "ABC.Predictor"):
        logging.getLogger(name).setLevel(logging.WARNING)
    figures = tuple(figures)
    if population < 1:
        raise ScenarioError(f"--population: must be >= 1 (got {population})")
    if generations < 1:
        raise ScenarioError(f"--generations: must be >= 1 (got {generations})")
    distance = distance or ResidualDistance(figures)

    def model(abc_params):
        params = to_natural(abc_params, priors)
        sim_seed = int(np.random.randint(0, 2**31 - 1))  # drawn from the candidate's seeded state
        got = simulate(params, sim_seed)
        return {f.name: float(got[f.name]) for f in figures}

    prior = pyabc.Distribution(**{_abc_name(i): pyabc.RV("uniform", lo, hi - lo)
                                  for i, (lo, hi) in enumerate(p.bounds_x for p in priors)})
    sampler = seeded_sampler(seed, workers, on_evaluation, on_generation)
    abc = pyabc.ABCSMC(model, prior, distance, population_size=population,
                       eps=pyabc.QuantileEpsilon(initial_epsilon=np.inf, alpha=0.5), sampler=sampler)
    db_path = Path(db_path)
    db_path.unlink(missing_ok=True)
    abc.new("sqlite:///" + str(db_path.resolve()), {f.name: float(f.value) for f in figures})
    t0 = time.perf_counter()
    import warnings

    with warnings.catch_warnings():  # pyabc compares epsilon infinity with itself after generation 0
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        history = abc.run(minimum_epsilon=min_epsilon, max_nr_populations=generations,
                          min_acceptance_rate=min_acceptance_rate)
    wall = time.perf_counter() - t0
    if history.max_t < 0:
        raise ScenarioError("--min-acceptance-rate: not even the first generation was accepted")
    df, w = history.get_distribution(m=0, t=history.max_t)
    particles = pd.DataFrame({"weight": np.asarray(w, dtype=float) / float(np.sum(w))})
    for i, p in enumerate(priors):
        particles[p.name] = [_from_x(float(v), p.transform) for v in df[_abc_name(i)]]
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    gens = pd.DataFrame({"generation": pops["t"].astype(int), "epsilon": pops["epsilon"].astype(float),
                         "particles": population, "simulations": pops["samples"].astype(int)})
    gens["acceptance_rate"] = gens["particles"] / gens["simulations"]
    last_eps = float(gens["epsilon"].iloc[-1])
    if sampler.failed is not None:
        stopped = (f"generation {sampler.failed} dropped: it needed more than population / "
                   f"min_acceptance_rate = {population / min_acceptance_rate:.0f} simulations")
    elif last_eps <= min_epsilon:
        stopped = f"epsilon {last_eps:.3g} reached the minimum {min_epsilon:g}"
    else:
        stopped = f"{len(gens)} generation(s) done"
    return PosteriorResult(particles, list(priors), figures, gens, sampler.total, wall,
                           stopped, dict(population=population, generations=generations,
                                         min_epsilon=min_epsilon, min_acceptance_rate=min_acceptance_rate,
                                         seed=seed, workers=workers))


# ---------------------------------------------------------------------- summaries
def weighted_quantile(values, weights, q) -> np.ndarray:
    """Quantiles `q` of a weighted sample (interpolated on the mid-points of the weights)."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v)
    v, w = v[order], w[order]
    cw = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.atleast_1d(q), cw, v)


def summarise_particles(particles: pd.DataFrame, priors: list[Prior]) -> pd.DataFrame:
    rows = []
    w = particles["weight"].to_numpy()
    for p in priors:
        med, lo, hi = weighted_quantile(particles[p.name], w, [0.5, 0.025, 0.975])
        rows.append(dict(parameter=p.name, median=float(med), ci_low=float(lo), ci_high=float(hi),
                         mean=float(np.average(particles[p.name], weights=w)),
                         prior=p.describe(), prior_low=p.low, prior_high=p.high))
    return pd.DataFrame(rows)


def effective_sample_size(weights) -> float:
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w * w).sum())


def draw_particles(particles: pd.DataFrame, n: int, rng: np.random.Generator) -> list[int]:
    """Indices of `n` particles drawn with replacement in proportion to their weights."""
    w = particles["weight"].to_numpy(dtype=float)
    return [int(i) for i in rng.choice(len(w), size=n, replace=True, p=w / w.sum())]


def prediction_interval(values, low: float = -np.inf, high: float = np.inf) -> tuple[float, float, float]:
    """(mean, low, high): where 95% of single outcomes fall, from a sample of them. With 40 or
    more values the empirical 2.5-97.5% quantiles; with fewer, the normal-theory prediction
    interval mean +- t(0.975, n-1) * sd * sqrt(1 + 1/n); cut to [low, high]."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) == 1:
        return mean, float("nan"), float("nan")
    if len(v) >= 40:
        lo, hi = np.quantile(v, [0.025, 0.975])
    else:
        half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) * np.sqrt(1 + 1 / len(v))
        lo, hi = mean - half, mean + half
    return mean, float(np.clip(lo, low, high)), float(np.clip(hi, low, high))


# ---------------------------------------------------------------------- the oversight model
class OversightSimulator:
    """`simulate(params, seed)` for `abc_posterior` on the real oversight model: one run of each
    distinct (scenario, overrides) of `figures` with the same seed; {figure name: value}."""

    def __init__(self, scenarios_dir: Path, figures: Iterable[Figure]):
        from sim.calibration import Runner

        self.runner = Runner(Path(scenarios_dir), replications=1)
        self.figures = tuple(figures)
        for f in self.figures:
            self.runner.base(f.scenario)  # validated now, in the parent, before any fork

    def tasks(self, params: dict, seed: int) -> list[tuple]:
        from sim.experiment import set_dotted

        out = []
        for key, f in {f.key(): f for f in self.figures}.items():
            raw = copy.deepcopy(self.runner.base(f.scenario))
            for k, v in {**params, **f.overrides}.items():
                set_dotted(raw, k, v)
            out.append((key, raw, seed))
        return out

    def __call__(self, params: dict, seed: int) -> dict:
        from sim.calibration import _run_one

        rows = {key: _run_one((raw, seed)) for key, raw, seed in self.tasks(params, seed)}
        return {f.name: rows[f.key()][column(f)] for f in self.figures}


def posterior_predictive(scenarios_dir: Path, figures: Iterable[Figure], particles: pd.DataFrame,
                         priors: list[Prior], draws: int, seed: int, workers: int = 1,
                         on_run: Callable | None = None) -> pd.DataFrame:
    """`draws` parameter sets drawn from the posterior (weighted, seeded), each run once per
    distinct scenario of `figures` on its own seed: one row per (draw, figure)."""
    from sim.calibration import _run_one
    from sim.processes import worker_pool

    figures = tuple(figures)
    sim = OversightSimulator(scenarios_dir, figures)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0x9AED,)))
    chosen = draw_particles(particles, draws, rng)
    tasks, owners = [], []
    for j, idx in enumerate(chosen):
        params = {p.name: float(particles[p.name].iloc[idx]) for p in priors}
        run_seed = int(np.random.SeedSequence(int(seed), spawn_key=(0x9AED, j)).generate_state(1)[0])
        for key, raw, s in sim.tasks(params, run_seed):
            tasks.append((raw, s))
            owners.append((j, idx, key, params, s))
    rows = []
    if workers > 1 and len(tasks) > 1:
        with worker_pool(workers) as pool:
            for row in pool.map(_run_one, tasks):
                rows.append(row)
                if on_run:
                    on_run()
    else:  # (the same runs in the same order: results do not depend on workers)
        for task in tasks:
            rows.append(_run_one(task))
            if on_run:
                on_run()
    by = {(j, key): (idx, params, s, row) for (j, idx, key, params, s), row in zip(owners, rows)}
    out = []
    for j in range(draws):
        for f in figures:
            idx, params, s, row = by[(j, f.key())]
            out.append(dict(draw=j, particle=idx, figure=f.name, scenario=f.scenario, seed=s,
                            value=float(row[column(f)]), **params))
    return pd.DataFrame(out)


def predictive_table(figures: Iterable[Figure], predicted: pd.DataFrame, role: str) -> pd.DataFrame:
    rows = []
    for f in figures:
        v = predicted.loc[predicted["figure"] == f.name, "value"]
        share = f.measure.endswith("share") or f.measure.startswith("share_")
        mean, lo, hi = prediction_interval(v, 0.0, 1.0 if share else np.inf)
        rows.append(dict(role=role, figure=f.name, scenario=f.scenario, measure=f.measure, record=f.value,
                         mean=mean, pi_low=lo, pi_high=hi, draws=int(v.notna().sum()),
                         inside=bool(lo <= f.value <= hi) if np.isfinite(lo) else False, source=f.source))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- the posterior file
def scenario_fingerprint(scenario, free_keys: Iterable[str]) -> str:
    """A hash of a scenario's settings other than run controls, labels and the free parameters:
    two files with the same fingerprint describe the same world to a posterior."""
    d = scenario.model_dump(mode="json")
    for k in NOT_FINGERPRINTED:
        d.pop(k, None)
    for key in free_keys:
        parts = key.split(".")
        cur = d
        for part in parts[:-1]:
            cur = cur.get(part, {}) if isinstance(cur, dict) else {}
        if isinstance(cur, dict):
            cur.pop(parts[-1], None)
    blob = json.dumps(d, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parameters_fingerprint(priors: list[Prior], figures: Iterable[Figure]) -> str:
    blob = json.dumps([[(p.name, p.transform, p.low, p.high) for p in priors],
                       [(f.name, f.measure, f.value, f.scenario) for f in figures]], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def make_header(result: PosteriorResult, scenarios: dict[str, tuple[str, str]], **extra) -> dict:
    """`scenarios`: name -> (role "fitted" or "held-out", fingerprint)."""
    import pyabc

    fitted = sorted(n for n, (role, _) in scenarios.items() if role == "fitted")
    fp = hashlib.sha256(json.dumps([parameters_fingerprint(result.priors, result.figures),
                                    {n: scenarios[n][1] for n in fitted}]).encode()).hexdigest()[:16]
    return dict(
        format=FORMAT, format_version=FORMAT_VERSION, fingerprint=fp,
        fitted_scenarios=fitted,
        scenarios={n: {"role": role, "fingerprint": f} for n, (role, f) in sorted(scenarios.items())},
        parameters=[dict(name=p.name, transform=p.transform, prior=p.describe(), low=p.low, high=p.high)
                    for p in result.priors],
        parameters_fingerprint=parameters_fingerprint(result.priors, result.figures),
        figures=[dict(name=f.name, measure=f.measure, record=f.value, scenario=f.scenario, source=f.source)
                 for f in result.figures],
        method=dict(algorithm="ABC-SMC (pyabc)", pyabc=pyabc.__version__,
                    distance="Euclidean norm of calibration residuals (log ratio for counts, logit "
                             "difference for shares), fitted figures only",
                    epsilon="generation 0: infinity (prior sample); then the weighted median of the "
                            "previous distances", **result.settings),
        stopped=result.stopped, simulations=result.simulations, wall_s=round(result.wall_s, 1),
        generations=result.generations.to_dict(orient="records"),
        summary=result.summary().to_dict(orient="records"),
        effective_sample_size=effective_sample_size(result.particles["weight"]),
        **extra,
    )


def write_posterior(path: Path, particles: pd.DataFrame, header: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(particles.reset_index(drop=True), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[HEADER_KEY] = json.dumps(header, default=float).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


@dataclass
class Posterior:
    path: Path
    header: dict
    particles: pd.DataFrame

    @property
    def names(self) -> list[str]:
        return [p["name"] for p in self.header["parameters"]]

    def median(self) -> dict[str, float]:
        w = self.particles["weight"].to_numpy()
        return {n: float(weighted_quantile(self.particles[n], w, 0.5)[0]) for n in self.names}

    def particle(self, i: int) -> dict[str, float]:
        return {n: float(self.particles[n].iloc[i]) for n in self.names}


def read_posterior(path: Path, flag: str = "--posterior") -> Posterior:
    """The posterior file at `path`, checked; a bad file stops with one message naming `flag`."""
    import pyarrow.parquet as pq

    path = Path(path)
    where = f"{flag} {path}"
    if not path.exists():
        raise ScenarioError(f"{where}: no such file")
    if path.is_dir():
        raise ScenarioError(f"{where}: is a directory (give its posterior.parquet)")
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise ScenarioError(f"{where}: cannot read it as Parquet ({type(e).__name__}: {str(e)[:200]})") from None
    raw = (table.schema.metadata or {}).get(HEADER_KEY)
    if raw is None:
        raise ScenarioError(f"{where}: not a posterior file (no clets posterior header; "
                            "write one with clets calibrate --posterior)")
    try:
        header = json.loads(raw)
    except ValueError:
        raise ScenarioError(f"{where}: its posterior header is not valid JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ScenarioError(f"{where}: not a posterior file (header format {header.get('format')!r})"
                            if isinstance(header, dict) else f"{where}: not a posterior file")
    if header.get("format_version") != FORMAT_VERSION:
        raise ScenarioError(f"{where}: posterior format version {header.get('format_version')!r}, "
                            f"this version reads {FORMAT_VERSION}; rerun clets calibrate --posterior")
    try:
        names = [p["name"] for p in header["parameters"]]
        header["scenarios"].items()
    except (KeyError, TypeError, AttributeError):
        raise ScenarioError(f"{where}: its posterior header lacks parameters or scenarios") from None
    expected = [k for k, _ in FREE]
    if names != expected:
        raise ScenarioError(f"{where}: fitted for parameters {names}, but this version calibrates "
                            f"{expected}; rerun clets calibrate --posterior")
    df = table.to_pandas()
    missing = [c for c in ["weight", *names] if c not in df.columns]
    if missing:
        raise ScenarioError(f"{where}: no column(s) {missing} in the particles")
    if len(df) == 0:
        raise ScenarioError(f"{where}: no particles")
    vals = df[["weight", *names]].to_numpy(dtype=float)
    if not np.all(np.isfinite(vals)) or (df["weight"] < 0).any() or df["weight"].sum() <= 0:
        raise ScenarioError(f"{where}: particles with non-finite values or weights")
    return Posterior(path, header, df)


def check_applies(posterior: Posterior, scenario, flag: str = "--posterior") -> str:
    """The role ("fitted" or "held-out") under which `scenario` took part in the calibration
    that made `posterior`; any other scenario (or one edited since) stops with one message."""
    fp = scenario_fingerprint(scenario, posterior.names)
    known = posterior.header["scenarios"]
    for info in known.values():
        if isinstance(info, dict) and info.get("fingerprint") == fp:
            return str(info.get("role"))
    names = ", ".join(f"{n} ({i.get('role')})" for n, i in known.items() if isinstance(i, dict))
    same_name = known.get(scenario.name)
    why = (f"scenario {scenario.name!r} differs from the {scenario.name} it was calibrated with "
           f"(settings fingerprint {fp}, calibrated {same_name.get('fingerprint')})"
           if isinstance(same_name, dict) else f"scenario {scenario.name!r} took no part in it")
    raise ScenarioError(f"{flag} {posterior.path}: a posterior from another scenario: it was calibrated "
                        f"on {names or 'nothing'}; {why}")


# ---------------------------------------------------------------------- runs under a posterior
DRAW_STREAM = 0xD4A3  # spawn key of the per-replication posterior draws (its own stream)


def replication_draw(posterior: Posterior, root: int, r: int) -> int:
    """The particle replication `r` of a run with root seed `root` uses: weighted, from its own
    stream (SeedSequence(root, spawn_key=(DRAW_STREAM, r))), so no other draw moves."""
    rng = np.random.default_rng(np.random.SeedSequence(int(root), spawn_key=(DRAW_STREAM, int(r))))
    return draw_particles(posterior.particles, 1, rng)[0]


def two_intervals(runs: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Per measure: the 95% interval of one run at the posterior median (point 0: the run's
    randomness) and with a posterior draw per replication (point 1: randomness plus parameter
    uncertainty), same replication seeds; with each mean's 95% CI and the widening."""
    from sim.experiment import clip_to_range
    from sim.metrics import mean_ci

    ok = runs[runs["status"] == "complete"]
    rows = []
    for m in measures:
        if m not in ok:
            continue
        a = ok.loc[ok["point"] == 0, m].astype(float)
        b = ok.loc[ok["point"] == 1, m].astype(float)
        ma, la, ha = prediction_interval(a)
        mb, lb, hb = prediction_interval(b)
        la, ha = clip_to_range(m, la, ha)
        lb, hb = clip_to_range(m, lb, hb)
        _, cla, cha = mean_ci(a)
        _, clb, chb = mean_ci(b)
        wa, wb = ha - la, hb - lb
        rows.append(dict(measure=m, mean_at_median=ma, run_low=la, run_high=ha, mean_ci_low_at_median=cla,
                         mean_ci_high_at_median=cha, mean_with_draws=mb, total_low=lb, total_high=hb,
                         mean_ci_low_with_draws=clb, mean_ci_high_with_draws=chb,
                         widening=wb / wa if wa > 0 else (1.0 if wb == 0 else float("inf")),
                         replications=int(min(a.notna().sum(), b.notna().sum()))))
    return pd.DataFrame(rows)


@dataclass
class PosteriorRuns:
    specs: list
    records: list[dict]
    runs: pd.DataFrame  # one row per run: point (0 median, 1 draw), replication, seed, measures
    draws: pd.DataFrame  # one row per run: its parameters (and the particle drawn)
    summary: pd.DataFrame  # per point: mean and 95% CI (sim.experiment.summarise)
    differences: pd.DataFrame  # draws minus median, paired by replication
    intervals: pd.DataFrame  # `two_intervals`


POINT_LABELS = ("posterior median", "posterior draws")


def posterior_runs(raw: dict, source: str, posterior: Posterior, root: int, replications: int,
                   directory: Path, workers: int = 1, task: str = "measures",
                   measures: list[str] | None = None, on_done: Callable | None = None) -> PosteriorRuns:
    """Replication r (seed `replication_seed(root, r)`) runs twice: at the posterior median and
    at its own posterior draw (`replication_draw`); the same seeds for both (common random
    numbers). `raw`: the scenario's YAML data; `task`: what a run computes (sim.experiment.TASKS)."""
    from sim.experiment import RunSpec, replication_seed, resolve, run_all, run_key, summarise

    median = posterior.median()
    specs, draws = [], []
    for r in range(replications):
        seed = replication_seed(root, r)
        idx = replication_draw(posterior, root, r)
        for point, (params, particle) in enumerate(((median, None), (posterior.particle(idx), idx))):
            resolved = resolve(raw, params, source).model_dump(mode="json")
            key = f"{'md'[point]}-{run_key(resolved, seed, task)}"
            specs.append(RunSpec(key, point, POINT_LABELS[point], r, seed, resolved,
                                 str(Path(directory) / "runs" / key), task))
            draws.append(dict(key=key, point=point, label=POINT_LABELS[point], replication=r, seed=seed,
                              particle=particle, **params))
    records = run_all(specs, workers, on_done=on_done)
    runs, summary, diffs = summarise(records, [median, {}], 0, measures, list(POINT_LABELS))
    names = measures or [c for c in runs.columns if c not in
                         ("key", "point", "label", "replication", "seed", "status", "error")]
    return PosteriorRuns(specs, records, runs, pd.DataFrame(draws), summary, diffs, two_intervals(runs, names))
