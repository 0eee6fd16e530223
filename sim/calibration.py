"""Calibration of the oversight loop: fit some public figures, predict the others.

**Fitted** figures (the passive era: 2010-2014 misuse reports, and 58% of agencies
reporting for 2017) pin down four free parameters:

==========================================  ===============================  =========
parameter                                   mainly moves                     transform
==========================================  ===============================  =========
detection.complaints.scale                  founded complaints, confirmed    log
detection.complaints.unfounded_per_million  unfounded complaints             log
investigation.open_complaint                investigations per complaint     logit
reporting.base_propensity                   agencies reporting (2017)        logit
==========================================  ===============================  =========

``investigation.confirm_if_misuse`` (0.9) stays an assumption: given it, the share of
complaints that are founded is what the confirmed/investigated ratio identifies.

Procedure (method of simulated moments): the residuals are log(model/figure) for counts
and logit differences for shares, each the mean over `replications` runs on fixed seeds
(common random numbers make the objective deterministic); `scipy.optimize.least_squares`
(trust-region reflective; forward differences with an absolute step of 0.3 on the log or
logit scale, so that the discreteness of counts is not read as a zero slope) minimises
their sum of squares from the current defaults. The
outcome weights are then solved in closed form (`fit_outcome_weights`): the shares of
counselling, suspension, reprimand, resignation and termination on the forms given the
mix of severe cases the fitted run produced.

**Held-out** figures are never used in fitting; each is reported with the model's 95%
interval and whether the record lies inside it. A miss is printed as a miss.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from sim.config import load_scenario, parse_scenario
from sim.config.oversight import OUTCOMES
from sim.config.reader import load_yaml
from sim.experiment import set_dotted
from sim.metrics import mean_ci
from sim.processes import worker_pool

NAMED_OUTCOMES = ("counselling", "suspension", "reprimand", "resignation", "termination")


@dataclass(frozen=True)
class Figure:
    """A public figure and how the model produces it."""

    name: str
    measure: str  # a yearly column, or "share_<outcome>" of reported actions
    value: float
    scenario: str
    overrides: dict = field(default_factory=dict)
    aggregate: str = "first"  # first reported year, or "sum" over the run's years
    source: str = ""

    def key(self) -> tuple:
        return (self.scenario, tuple(sorted(self.overrides.items())))


PASSIVE = "passive_2017"
FITTED = (
    Figure("complaints a year", "reported_complaints", 641 / 5, PASSIVE,
           source="641 complaints in 2010-2014 (EFF 2015, from DOJ's misuse reports)"),
    Figure("investigations a year", "reported_investigations", 586 / 5, PASSIVE,
           source=">=586 complaints investigated in 2010-2014 (EFF 2015)"),
    Figure("misuse confirmed a year", "reported_misuse_found", 389 / 5, PASSIVE,
           source="389 confirmed in 2010-2014 (EFF 2015)"),
    Figure("agencies reporting, 2017 (passive)", "reported_share", 0.58, PASSIVE,
           source="58% compliance for 2017 (EFF letter to the CAC, 2019)"),
    *(Figure(f"share of actions: {o}", f"share_{o}", v, PASSIVE,
             source="outcomes of confirmed cases 2010-2014 (EFF 2015)")
      for o, v in zip(NAMED_OUTCOMES, (0.17, 0.13, 0.12, 0.07, 0.07))),
)
HELD_OUT = (
    Figure("agencies reporting, 2018 (bulletin, outreach, listing)", "reported_share", 0.98,
           "proactive_2018", source="98% compliance for 2018 (EFF letter to the CAC, 2019)"),
    Figure("investigations, 2016", "reported_investigations", 159, PASSIVE,
           {"journal.start_date": "2016-01-01"}, source="159 investigations reported for 2016 (EFF 2017)"),
    Figure("employees fired or resigned, 2017", "reported_dismissed", 22, PASSIVE,
           source="22 staff fired or resigned in 2017 (EFF 2018)"),
    Figure("investigations, 2019-2023", "reported_investigations", 761, "proactive_2018",
           {"journal.start_date": "2019-01-01", "oversight.years": 5}, aggregate="sum",
           source="761 investigations in 2019-2023 (EFF 2025)"),
)
# (dotted key, transform): the free parameters of `FITTED`, in order
FREE = (
    ("oversight.detection.complaints.scale", "log"),
    ("oversight.detection.complaints.unfounded_per_million", "log"),
    ("oversight.investigation.open_complaint", "logit"),
    ("oversight.reporting.base_propensity", "logit"),
)
SCALAR_FIGURES = FITTED[:4]
STEP = 0.3  # finite-difference step on the log / logit scale


def _to_x(value: float, how: str) -> float:
    if how == "log":
        return float(np.log(value))
    v = min(max(value, 1e-4), 1 - 1e-4)
    return float(np.log(v / (1 - v)))


def _from_x(x: float, how: str) -> float:
    return float(np.exp(x)) if how == "log" else float(1 / (1 + np.exp(-x)))


def _residual(model: float, figure: Figure) -> float:
    if figure.measure.endswith("share"):
        return _to_x(model, "logit") - _to_x(figure.value, "logit")
    return float(np.log(max(model, 0.5) / figure.value))


# ---------------------------------------------------------------------- running
def _run_one(args) -> dict:
    """One replication of a scenario with overrides: its figures (and the outcome mix)."""
    raw, seed = args
    from sim.oversight import simulate_oversight

    result = simulate_oversight(parse_scenario(raw), seed=seed)
    y = result.yearly
    out = {"seed": seed}
    for col in y.columns:
        if col != "year":
            out[f"first:{col}"] = float(y[col].iloc[0])
            out[f"sum:{col}"] = float(y[col].sum())
    rep = result.reports
    first_year = int(y["year"].iloc[0])
    rep = rep[rep["report_year"] == first_year] if len(rep) else rep
    acted = {o: float(rep[f"action_{o}"].sum()) if len(rep) else 0.0 for o in OUTCOMES}
    total = sum(acted.values())
    for o in OUTCOMES:
        out[f"first:share_{o}"] = acted[o] / total if total else float("nan")
    # the severity mix of the confirmed cases, for the closed-form outcome fit
    inv = result.investigations
    conf = inv[inv["confirmed"] == True] if len(inv) else inv  # noqa: E712
    out["severe_share"] = float(conf["severe"].mean()) if len(conf) else 0.0
    out["forced_share"] = float((conf["source"] == "internal_affairs").mean()) if len(conf) else 0.0
    return out


class Runner:
    """Runs figures' scenarios for R replications on fixed seeds (seed r = base*1000 + r)."""

    def __init__(self, scenarios_dir: Path, replications: int, workers: int = 1,
                 on_run: Callable[[], None] | None = None):
        self.dir = Path(scenarios_dir)
        self.replications = replications
        self.workers = workers
        self.on_run = on_run
        self.raw: dict[str, dict] = {}

    def base(self, name: str) -> dict:
        if name not in self.raw:
            path = self.dir / f"{name}.yaml"
            load_scenario(path)  # validates: a bad file stops here with its message
            self.raw[name] = load_yaml(path)
        return self.raw[name]

    def runs(self, figures, params: dict) -> dict[tuple, pd.DataFrame]:
        """For each distinct (scenario, overrides) of `figures`: a table of replications."""
        groups = {f.key(): f for f in figures}
        tasks, owners = [], []
        for key, f in groups.items():
            raw = copy.deepcopy(self.base(f.scenario))
            for k, v in {**params, **f.overrides}.items():
                set_dotted(raw, k, v)
            seed0 = int(raw.get("seed") or 0)
            for r in range(self.replications):
                tasks.append((raw, seed0 * 1000 + r))
                owners.append(key)
        rows = self._map(tasks)
        out: dict[tuple, list] = {}
        for key, row in zip(owners, rows):
            out.setdefault(key, []).append(row)
        return {k: pd.DataFrame(v) for k, v in out.items()}

    def _map(self, tasks) -> list[dict]:
        rows = []
        if self.workers > 1 and len(tasks) > 1:
            with worker_pool(self.workers) as pool:
                for row in pool.map(_run_one, tasks):
                    rows.append(row)
                    if self.on_run:
                        self.on_run()
        else:
            for t in tasks:
                rows.append(_run_one(t))
                if self.on_run:
                    self.on_run()
        return rows


def column(figure: Figure) -> str:
    """The column of `_run_one`'s row that holds `figure` (first reported year, or the sum)."""
    return f"{'sum' if figure.aggregate == 'sum' else 'first'}:{figure.measure}"


def values(figure: Figure, runs: dict[tuple, pd.DataFrame]) -> pd.Series:
    return runs[figure.key()][column(figure)]


def table(figures, runs: dict[tuple, pd.DataFrame], role: str) -> pd.DataFrame:
    """Figure, model mean and 95% CI, and whether the record lies inside the interval."""
    rows = []
    for f in figures:
        v = values(f, runs).dropna()
        mean, lo, hi = mean_ci(v)
        rows.append(dict(role=role, figure=f.name, scenario=f.scenario, measure=f.measure,
                         record=f.value, mean=mean, ci_low=lo, ci_high=hi, replications=len(v),
                         inside=bool(lo <= f.value <= hi), relative_error=mean / f.value - 1,
                         source=f.source))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- fitting
def fit_outcome_weights(targets: dict[str, float], no_action: float, severe_share: float,
                        forced_share: float, dismissal_odds: float) -> dict[str, float]:
    """Outcome weights whose reported shares match `targets`, given that a `severe_share`
    of confirmed cases multiplies resignation and termination by `dismissal_odds` and a
    `forced_share` always ends in termination (internal-affairs cases)."""
    names = list(NAMED_OUTCOMES)
    dis = np.array([o in ("resignation", "termination") for o in names])
    term = np.array([o == "termination" for o in names])
    goal = np.array([targets[o] for o in names])
    minor = max(1 - severe_share - forced_share, 0.0)

    def shares(logw):
        w = np.exp(logw)
        total = w.sum() + no_action
        wt = w * np.where(dis, dismissal_odds, 1.0)
        total_t = wt.sum() + no_action
        return minor * w / total + severe_share * wt / total_t + forced_share * term

    sol = least_squares(lambda lw: shares(lw) - goal, np.log(goal * 100), method="lm")
    return {**{o: round(float(v), 3) for o, v in zip(names, np.exp(sol.x))}, "no_action": no_action}


@dataclass
class FitResult:
    params: dict
    outcome_shares: dict
    evaluations: int
    cost: float
    history: list = field(default_factory=list)


def fit_scalars(runner: Runner, start: dict, figures=SCALAR_FIGURES, free=FREE,
                max_evaluations: int = 30, on_evaluation: Callable[[dict], None] | None = None,
                ) -> tuple[dict, float, list]:
    """Least-squares fit of the `free` parameters to `figures` from `start` (dotted -> value):
    (fitted values, final cost, one history row per evaluation)."""
    history: list[dict] = []

    def params_of(x) -> dict:
        return {k: _from_x(xi, how) for (k, how), xi in zip(free, x)}

    cache: dict[tuple, np.ndarray] = {}

    def residuals(x):
        key = tuple(np.round(x, 6))
        if key not in cache:
            p = params_of(x)
            runs = runner.runs(figures, p)
            r = np.array([_residual(values(f, runs).mean(), f) for f in figures])
            history.append({**p, **{f"residual:{f.measure}": v for f, v in zip(figures, r)}})
            if on_evaluation:
                on_evaluation(history[-1])
            cache[key] = r
        return cache[key]

    def jacobian(x):
        """Forward differences with an absolute step on the transformed scale, wide enough
        that the counts' discreteness does not read as a zero slope."""
        f0 = residuals(x)
        cols = [(residuals(x + STEP * np.eye(len(x))[i]) - f0) / STEP for i in range(len(x))]
        return np.column_stack(cols)

    x0 = np.array([_to_x(start[k], how) for k, how in free])
    sol = least_squares(residuals, x0, jac=jacobian, method="trf", x_scale=1.0,
                        max_nfev=max_evaluations, xtol=1e-3, ftol=1e-3)
    return params_of(sol.x), float(sol.cost), history


def fit(runner: Runner, start: dict, dismissal_odds: float, no_action: float,
        max_evaluations: int = 30, on_evaluation=None) -> FitResult:
    """Fit the free parameters to the fitted figures, then the outcome weights."""
    params, cost, history = fit_scalars(runner, start, max_evaluations=max_evaluations,
                                        on_evaluation=on_evaluation)
    runs = runner.runs(SCALAR_FIGURES, params)
    first = runs[SCALAR_FIGURES[0].key()]
    targets = {f.measure.removeprefix("share_"): f.value for f in FITTED[4:]}
    weights = fit_outcome_weights(targets, no_action, float(first["severe_share"].mean()),
                                  float(first["forced_share"].mean()), dismissal_odds)
    return FitResult(params, weights, len(history), cost, history)


def defaults_of(scenario) -> dict:
    """Current values of the free parameters in a scenario."""
    d = scenario.model_dump()
    out = {}
    for key, _ in FREE:
        v = d
        for part in key.split("."):
            v = v[part]
        out[key] = v
    return out


def calibrate(scenarios_dir: Path, replications: int, workers: int = 1, do_fit: bool = False,
              on_run: Callable[[], None] | None = None, on_evaluation=None) -> dict:
    """(Optionally fit, then) run fitted and held-out figures; returns tables and the fit."""
    runner = Runner(scenarios_dir, replications, workers, on_run)
    scenario = load_scenario(Path(scenarios_dir) / f"{PASSIVE}.yaml")
    params = defaults_of(scenario)
    fitted = None
    if do_fit:
        inv = scenario.oversight.investigation
        fitted = fit(runner, params, inv.severe_dismissal_odds, inv.outcome_shares.get("no_action", 44),
                     on_evaluation=on_evaluation)
        params = {**fitted.params,
                  "oversight.investigation.outcome_shares": fitted.outcome_shares}
    runs = runner.runs(FITTED + HELD_OUT, params)
    tables = pd.concat([table(FITTED, runs, "fitted"), table(HELD_OUT, runs, "held-out")],
                       ignore_index=True)
    every = pd.concat([df.assign(scenario=k[0], overrides=str(dict(k[1]))) for k, df in runs.items()],
                      ignore_index=True)
    return {"table": tables, "runs": every, "params": params, "fit": fitted}
