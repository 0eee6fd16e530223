"""One county's knee as one number per parameter set, for sensitivity analysis.

`clets capacity` finds the knee on a ladder of load factors with replications: the first
ladder point whose mean p95 exceeds the target. A sensitivity analysis needs the knee as a
continuous output of one parameter set and one seed, so here it is the load factor at which
the county's p95 response (timed-out messages counted at the timeout, as `clets capacity`
judges it) crosses ``capacity.target_p95_s``:

1. run at x1.0 (the scenario as written; the load scales only the county's devices);
2. bracket the crossing within the range of ``capacity.load_factors`` (its start and stop);
3. bisect on the same seed (common random numbers: every load sees the same draws) until the
   bracket is narrower than `TOLERANCE`, then interpolate the crossing linearly in the bracket.

A knee beyond the range is reported as the range's end, with ``knee_censored`` +1 (no knee up
to the top) or -1 (the target is already missed at the bottom), so that a sample is never
dropped. About 6 runs per parameter set.
"""

from __future__ import annotations

from sim.config import Scenario, parse_load_factors

TOLERANCE = 0.05  # load-factor units: the bracket width at which bisection stops
KNEE_OUTPUTS = ("knee", "knee_censored", "p95_censored_s", "answered_share", "msc_utilization",
                "knee_runs")


def knee_outputs(scenario: Scenario, seed: int, county: str, tolerance: float = TOLERANCE) -> dict:
    """The county's knee (see the module doc) and its measures at x1.0."""
    from sim.capacity import load_point
    from topology.builder import msc_node

    factors = parse_load_factors(scenario.capacity.load_factors, "capacity.load_factors")
    bottom, top = min(factors), max(factors)
    target = scenario.capacity.target_p95_s
    seen: dict[float, tuple] = {}  # load factor -> (measures, node table) of its run

    def excess(lf: float) -> float:
        seen[lf] = load_point((scenario, seed, lf, county, 0))
        return seen[lf][0]["p95_censored_s"] - target

    one = min(max(1.0, bottom), top)
    e_one = excess(one)
    row, nodes = seen[one]
    msc = nodes.loc[nodes["node"] == msc_node(county), "utilization"]
    at_one = {"p95_censored_s": row["p95_censored_s"], "answered_share": row["answered_share"],
              "msc_utilization": float(msc.iloc[0]) if len(msc) else float("nan")}
    if e_one > 0:
        lo, hi, e_hi = bottom, one, e_one
        e_lo = excess(lo) if lo < one else e_one
        if e_lo > 0:
            return at_one | {"knee": bottom, "knee_censored": -1.0, "knee_runs": float(len(seen))}
    else:
        lo, e_lo, hi = one, e_one, top
        e_hi = excess(hi) if hi > one else e_one
        if e_hi <= 0:
            return at_one | {"knee": top, "knee_censored": 1.0, "knee_runs": float(len(seen))}
    while hi - lo > tolerance:
        mid = (lo + hi) / 2
        e_mid = excess(mid)
        if e_mid > 0:
            hi, e_hi = mid, e_mid
        else:
            lo, e_lo = mid, e_mid
    knee = lo + (hi - lo) * (-e_lo) / (e_hi - e_lo)  # e_lo <= 0 < e_hi
    return at_one | {"knee": float(knee), "knee_censored": 0.0, "knee_runs": float(len(seen))}
