"""Availability: the random-fault process alone, simulated over years (no messages).

Each component (a county MSC, the primary DOJ hub, a direct-connect agency's circuit to the
hub, an agency's MDT radio gateway) alternates exponential up times (mean MTBF) and repair
times (mean MTTR), starting up at time 0 (`faults.random` in the scenario, per kind, with
per-component overrides). Every component draws from its own named stream
(``faults:<component>``), so changing one kind's parameters, or adding a county, never moves
another component's outages; the same stream drives the component's outages in message runs
(`sim.faults.plan_faults`, for the kinds with ``in_runs``), so `clets run` with seed S has the
outages `clets availability` shows in the first hours of replication 0's year with seed S (the
replication seeds are `sim.experiment.replication_seed`, as in every replicated command).

Draws come in blocks of numpy standard exponentials, consumed in (up, repair) pairs, so the
outage times do not depend on the block size or the horizon. Figures are per simulated year
(365.25 days): uptime, outages begun in the year, total down time in the year, the longest
stretch of down time in the year (an outage crossing New Year counts in each year for its part
there and is counted once, in the year it began), and the CAC flag (uptime at or below 95%).
The long-run availability is MTBF / (MTBF + MTTR) (renewal-reward theorem); the test checks
the simulation against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.errors import ScenarioError

HOURS_PER_YEAR = 365.25 * 24
YEAR_S = HOURS_PER_YEAR * 3600
CAC_UPTIME_THRESHOLD = 0.95
"""The CAC reports direct connects whose uptime is at or below 95% (docs/network.md)."""
CAC_KIND = "direct_connect"  # the kind the CAC's rule is about; others are shown for information
MAX_YEARS = 100  # a century, as the simulated-days limit
MAX_OUTAGES = 200_000_000  # expected outages of one command (all components, years, replications)
MAX_ROWS = 5_000_000  # component-years of one command (rows of availability_runs, ~0.6 GB)
MAX_BLOCK = 1 << 20  # (up, repair) pairs drawn at once: bounded memory whatever the MTBF
KIND_LABEL = {"msc": "MSC", "hub": "hub", "direct_connect": "direct-connect link",
              "mdt_gateway": "MDT radio gateway"}


@dataclass(frozen=True)
class Component:
    """One thing that fails: its graph node, labels and failure parameters."""

    kind: str  # msc | hub | direct_connect | mdt_gateway
    node: str  # the graph node it belongs to (msc:X, hub:DOJ, agency:ORI)
    name: str  # what people call it
    county: str
    mtbf_hours: float
    mttr_minutes: float

    @property
    def stream(self) -> str:
        return f"faults:{self.node}" if self.kind in ("msc", "hub") else f"faults:{self.kind}:{self.node}"

    @property
    def expected_uptime(self) -> float:
        return self.mtbf_hours / (self.mtbf_hours + self.mttr_minutes / 60)


def components(scenario: Scenario, graph) -> list[Component]:
    """Every component that can fail, in a stable order (kind, then graph order).

    Overrides are matched by county name (MSCs) or agency name or ORI (direct connects and
    MDT gateways); one that matches nothing is an error naming it."""
    from topology.builder import HUB

    rnd = scenario.faults.random
    excluded = set(scenario.topology.excluded_oris)
    mdts: dict[str, int] = {}
    for _node, d in graph.nodes(data=True):
        if d["kind"] == "mdt":
            mdts[d["agency"]] = mdts.get(d["agency"], 0) + 1
    out: list[Component] = []
    used: dict[str, set[str]] = {k: set() for k in ("msc", "direct_connect", "mdt_gateway")}

    def add(kind: str, node: str, name: str, county: str, keys: tuple[str, ...]) -> None:
        spec = getattr(rnd, kind)
        key = next((k for k in keys if k in spec.overrides), None)
        if key is not None:
            used[kind].add(key)
        mtbf, mttr = spec.for_component(key) if key is not None else (spec.mtbf_hours, spec.mttr_minutes)
        out.append(Component(kind, node, name, county, float(mtbf), float(mttr)))

    msc = [(n, d) for n, d in graph.nodes(data=True) if d["kind"] == "msc"]
    for n, d in msc:
        add("msc", n, d["name"], d["county"], (d["county"],))
    if graph.has_node(HUB):
        add("hub", HUB, "DOJ hub (primary site)", "", ())
    agencies = [(n, d) for n, d in graph.nodes(data=True)
                if d["kind"] == "agency" and d["ori"] not in excluded]
    for n, d in agencies:
        if d["direct_connect"]:
            add("direct_connect", n, d["name"], "", (d["name"], d["ori"]))
    for n, d in agencies:
        if mdts.get(n):
            add("mdt_gateway", n, f"{d['name']} MDT gateway", d["county"], (d["name"], d["ori"]))
    for kind, names in used.items():
        unknown = sorted(set(getattr(rnd, kind).overrides) - names)
        if unknown:
            what = "county" if kind == "msc" else (
                "direct-connect agency" if kind == "direct_connect" else "agency with MDTs")
            raise ScenarioError(f"faults.random.{kind}.overrides.{unknown[0]}: unknown {what} "
                                f"{unknown[0]!r} in this scenario's topology")
    return out


# ---------------------------------------------------------------------- the fault process


def _block(horizon: float, cycle: float) -> int:
    n = horizon / cycle
    return int(min(MAX_BLOCK, n + 5 * math.sqrt(n) + 16))


def outage_blocks(rng: np.random.Generator, mtbf_s: float, mttr_s: float,
                  horizon: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(starts, ends) of the outages that begin before `horizon`, block by block (ends not cut
    at the horizon). The component is up at 0; up times ~ Exp(mtbf_s), repairs ~ Exp(mttr_s)."""
    t = 0.0
    k = _block(horizon, mtbf_s + mttr_s)
    while t < horizon:
        e = rng.standard_exponential(2 * k)
        up, down = e[0::2] * mtbf_s, e[1::2] * mttr_s
        ends = t + np.cumsum(up + down)
        starts = ends - down
        if starts[-1] >= horizon:
            n = int(np.searchsorted(starts, horizon, side="left"))
            if n:
                yield starts[:n], ends[:n]
            return
        yield starts, ends
        t = float(ends[-1])


def outage_intervals(rng: np.random.Generator, mtbf_s: float, mttr_s: float,
                     horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Every outage beginning before `horizon`: (starts, repairs), repairs not cut."""
    parts = list(outage_blocks(rng, mtbf_s, mttr_s, horizon))
    if not parts:
        return np.zeros(0), np.zeros(0)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def yearly_figures(rng: np.random.Generator, mtbf_s: float, mttr_s: float, years: int,
                   year_s: float = YEAR_S) -> dict[str, np.ndarray]:
    """Per simulated year: down time (s), outages begun, longest down stretch inside the year (s)."""
    horizon = years * year_s
    down = np.zeros(years)
    count = np.zeros(years, dtype=np.int64)
    longest = np.zeros(years)
    for s, e in outage_blocks(rng, mtbf_s, mttr_s, horizon):
        e = np.minimum(e, horizon)
        ys = np.minimum((s // year_s).astype(np.int64), years - 1)
        ye = np.minimum(((e - 1e-9) // year_s).astype(np.int64), years - 1)
        ye = np.maximum(ye, ys)
        count += np.bincount(ys, minlength=years)
        inside = ys == ye
        d = e[inside] - s[inside]
        down += np.bincount(ys[inside], weights=d, minlength=years)
        np.maximum.at(longest, ys[inside], d)
        for i in np.flatnonzero(~inside).tolist():  # crosses New Year: split by year
            for y in range(int(ys[i]), int(ye[i]) + 1):
                part = min(e[i], (y + 1) * year_s) - max(s[i], y * year_s)
                down[y] += part
                longest[y] = max(longest[y], part)
    return {"downtime_s": down, "outages": count, "longest_s": longest,
            "uptime": 1.0 - down / year_s}


def cac_flag(uptime, threshold: float = CAC_UPTIME_THRESHOLD):
    """The CAC's rule: report a direct connect whose uptime is at or below 95% (a year's uptime
    within 1e-9 of the threshold counts as at it, so 5% down time exactly is flagged)."""
    return np.asarray(uptime) <= threshold + 1e-9


def expected_outages(comps: list[Component], years: float, replications: int) -> dict[str, float]:
    """Expected outages per kind of one command (the work it asks for)."""
    out: dict[str, float] = {}
    for c in comps:
        out[c.kind] = out.get(c.kind, 0.0) + years * HOURS_PER_YEAR / (
            c.mtbf_hours + c.mttr_minutes / 60) * replications
    return out


def check_work(scenario: Scenario, comps: list[Component], years: int, replications: int,
               force: bool = False) -> float:
    """Refuse (unless `force`) a command of more than MAX_ROWS component-years, or expected to
    simulate more than MAX_OUTAGES outages (naming the kind's MTBF that drives it)."""
    rows = len(comps) * years * replications
    if rows > MAX_ROWS and not force:
        raise ScenarioError(
            f"--years x --replications = {years} x {replications}: {rows:,} component-years for "
            f"{len(comps):,} components, over the documented limit of {MAX_ROWS:,} rows of "
            "availability_runs (docs/network.md, Availability); add --force to run it anyway")
    per_kind = expected_outages(comps, years, replications)
    total = sum(per_kind.values())
    if total > MAX_OUTAGES and not force:
        kind = max(per_kind, key=per_kind.get)
        mtbf = getattr(scenario.faults.random, kind).mtbf_hours
        raise ScenarioError(
            f"faults.random.{kind}.mtbf_hours = {mtbf:g}: about {total:,.0f} outages to simulate "
            f"({years} years x {replications} replications), over the documented limit of "
            f"{MAX_OUTAGES:,} (docs/network.md, Availability); add --force to run it anyway")
    return total


# ---------------------------------------------------------------------- a command's worth


@dataclass
class AvailabilityResult:
    years: int
    replications: int
    seeds: list[int]
    runs: pd.DataFrame  # one row per (replication, year, component)
    components: pd.DataFrame  # one row per component: means, 95% CI, flagged share, theory
    kinds: pd.DataFrame  # one row per kind


RUN_COLUMNS = ["replication", "seed", "year", "kind", "component", "name", "county", "mtbf_hours",
               "mttr_minutes", "uptime", "outages", "downtime_h", "longest_outage_h",
               "at_or_below_95", "cac_report"]


def simulate_availability(scenario: Scenario, comps: list[Component], years: int, replications: int,
                          root: int, on_replication: Callable[[int], None] | None = None
                          ) -> AvailabilityResult:
    """Simulate every component's fault process for `years` years in each replication."""
    from sim.experiment import replication_seed
    from sim.rng import Streams

    if not comps:
        raise ScenarioError("topology: no components to simulate (no MSC, hub, direct connect or MDT)")
    seeds = [replication_seed(root, r) for r in range(replications)]
    n = len(comps)
    shape = (replications, n, years)
    up, down, longest = np.empty(shape), np.empty(shape), np.empty(shape)
    cnt = np.empty(shape, dtype=np.int64)
    for r, seed in enumerate(seeds):
        streams = Streams(seed)
        for i, c in enumerate(comps):
            f = yearly_figures(streams.fresh(c.stream), c.mtbf_hours * 3600, c.mttr_minutes * 60, years)
            up[r, i], cnt[r, i], down[r, i], longest[r, i] = (
                f["uptime"], f["outages"], f["downtime_s"], f["longest_s"])
        if on_replication is not None:
            on_replication(r)
    flagged = cac_flag(up).ravel()
    per = n * years  # rows of one replication: component-major, then year

    def col(values) -> np.ndarray:  # a per-component value on every (replication, component, year) row
        return np.tile(np.repeat(np.asarray(values), years), replications)

    runs = pd.DataFrame({
        "replication": np.repeat(np.arange(replications), per),
        "seed": np.repeat(np.asarray(seeds, dtype=np.int64), per),
        "year": np.tile(np.arange(1, years + 1), n * replications),
        "kind": col([c.kind for c in comps]), "component": col([c.node for c in comps]),
        "name": col([c.name for c in comps]), "county": col([c.county for c in comps]),
        "mtbf_hours": col([c.mtbf_hours for c in comps]),
        "mttr_minutes": col([c.mttr_minutes for c in comps]),
        "uptime": up.ravel(), "outages": cnt.ravel(), "downtime_h": down.ravel() / 3600,
        "longest_outage_h": longest.ravel() / 3600, "at_or_below_95": flagged,
        "cac_report": flagged & col([c.kind == CAC_KIND for c in comps]),
    })
    summary = summarise(runs, comps)
    return AvailabilityResult(years, replications, seeds, runs, summary, by_kind(summary, runs))


def summarise(runs: pd.DataFrame, comps: list[Component]) -> pd.DataFrame:
    """Per component, over every simulated year of every replication: mean uptime and its 95%
    t-interval, outages a year, down time a year, the longest outage seen, the share of years
    at or below 95% and the CAC flag (direct connects: mean uptime at or below 95%)."""
    from scipy import stats

    g = runs.groupby("component", sort=False)
    n = g["uptime"].count().to_numpy()
    mean = g["uptime"].mean().to_numpy()
    sd = g["uptime"].std(ddof=1).fillna(0.0).to_numpy()
    half = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n), 0.0)
    order = {c.node: c for c in comps}
    nodes = g["uptime"].mean().index.tolist()
    cs = [order[x] for x in nodes]
    df = pd.DataFrame({
        "kind": [c.kind for c in cs], "component": nodes, "name": [c.name for c in cs],
        "county": [c.county for c in cs],
        "mtbf_hours": [c.mtbf_hours for c in cs], "mttr_minutes": [c.mttr_minutes for c in cs],
        "expected_uptime": [c.expected_uptime for c in cs],
        "uptime": mean, "uptime_ci_low": np.clip(mean - half, 0, 1),
        "uptime_ci_high": np.clip(mean + half, 0, 1),
        "outages": g["outages"].mean().to_numpy(), "downtime_h": g["downtime_h"].mean().to_numpy(),
        "longest_outage_h": g["longest_outage_h"].max().to_numpy(),
        "flagged_share": g["at_or_below_95"].mean().to_numpy(),
        "years": n,
    })
    df["cac_report"] = (df["kind"] == CAC_KIND) & cac_flag(df["uptime"].to_numpy())
    return df


def by_kind(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for kind, label in KIND_LABEL.items():
        s = summary[summary["kind"] == kind]
        if not len(s):
            continue
        rows.append({
            "kind": kind, "label": label, "components": len(s),
            "expected_uptime": float(s["expected_uptime"].mean()),
            "uptime": float(s["uptime"].mean()), "lowest_uptime": float(s["uptime"].min()),
            "outages": float(s["outages"].sum()), "longest_outage_h": float(s["longest_outage_h"].max()),
            "flagged_share": float(runs.loc[runs["kind"] == kind, "at_or_below_95"].mean()),
            "cac_report": int(s["cac_report"].sum()),
        })
    return pd.DataFrame(rows)


def plot_availability(result: AvailabilityResult, path) -> None:
    """Uptime per MSC and per direct-connect link (mean, 95% CI), the CAC's 95% line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.components
    panels = [(k, s[s["kind"] == k].sort_values("uptime")) for k in ("direct_connect", "msc")]
    panels = [(k, p) for k, p in panels if len(p)]
    fig, axes = plt.subplots(len(panels) or 1, 1, figsize=(10, 3.2 * max(len(panels), 1)),
                             squeeze=False)
    for ax, (kind, p) in zip(axes[:, 0], panels):
        x = np.arange(len(p))
        y = p["uptime"].to_numpy() * 100
        err = np.vstack([y - p["uptime_ci_low"].to_numpy() * 100, p["uptime_ci_high"].to_numpy() * 100 - y])
        colors = np.where(cac_flag(p["uptime"].to_numpy()), "tab:red", "tab:blue")
        ax.errorbar(x, y, yerr=err, fmt="none", ecolor="0.6", lw=1)
        ax.scatter(x, y, c=colors, s=14, zorder=3)
        ax.axhline(CAC_UPTIME_THRESHOLD * 100, color="tab:red", ls="--", lw=1,
                   label="95%: the CAC reports direct connects at or below it")
        lo = min(94.0, float(np.nanmin(p["uptime_ci_low"])) * 100 - 0.5)
        ax.set_ylim(lo, 100.2)
        ax.set_ylabel("uptime %")
        ax.set_title(f"{KIND_LABEL[kind]}s" + (" (for information)" if kind != CAC_KIND else ""),
                     loc="left", fontsize=10)
        if len(p) <= 30:
            ax.set_xticks(x, [str(n)[:28] for n in p["name"]], rotation=60, ha="right", fontsize=7)
        else:
            ax.set_xticks([])
            ax.set_xlabel(f"{len(p)} components, lowest uptime first")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
