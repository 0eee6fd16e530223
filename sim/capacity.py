"""Capacity analysis: sweep the load factor with replications, find the headroom, the knee
and the bottleneck node, and say what it means.

Load factor x1.0 is the scenario as written (whatever it already scales, e.g. MDTs x2);
xL multiplies its traffic (statewide), or only the focus county's devices (``--county``).
Each load point runs ``replications`` independent replications; replication *r* uses the
seed ``replication_seed(root, r)`` at every load point (common random numbers), so the
curve's shape comes from the load, not from sampling noise. Per load point every measure
is summarised by its mean and 95% t-interval over the replications.

The response time is the sender's: timed-out messages count at the timeout
(``p95_censored_s``), so overload shows as a rising p95 instead of vanishing from the
sample; the answered-only ``p95_s`` is kept beside it. Definitions (docs/network.md):

* **headroom**: the largest load factor at and below which every point's p95 upper 95% CI
  bound is below the target (conservative: the target is met with 95% confidence);
* **knee**: the first load factor whose *mean* p95 exceeds the target (best estimate of
  where the target breaks);
* **bottleneck**: the node with the highest mean utilisation at the knee (or at the top
  load when there is no knee).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.experiment import replication_seed
from sim.metrics import mean_ci
from sim.netstats import response_summary
from sim.processes import worker_pool
from sim.runner import simulate_network
from topology.builder import msc_node

# per (load, replication) measures, summarised per load as mean, ci_low, ci_high
MEASURES = ("messages", "answered_share", "rejected_share", "timed_out_share", "p50_censored_s",
            "p95_s", "p95_censored_s", "p99_censored_s", "msc_utilization", "messages_per_inquiry")
HEADLINE = "p95_censored_s"  # what the target, the knee and the headroom are judged on


@dataclass
class CapacityResult:
    points: pd.DataFrame  # one row per load factor: mean, <m>_ci_low, <m>_ci_high per measure
    runs: pd.DataFrame  # one row per (load factor, replication)
    nodes: pd.DataFrame  # one row per (load factor, replication, node)
    knee: float | None
    headroom: float | None
    bottleneck: str
    target_p95_s: float
    focus_county: str | None
    msc: str  # the MSC whose utilisation is in the table (the county's, or the busiest)
    replications: int
    seeds: list[int]
    scale: str  # what x1.0 means for this scenario
    verdict: str = ""
    answer: str = ""  # the verdict in one line
    changes: str = ""  # what this scenario changes from the defaults, in a few words
    extra: dict = field(default_factory=dict)


def load_point(args) -> tuple[dict, pd.DataFrame]:
    """One run at load factor `lf`: its response measures (the county's with `county`) and its
    node table. args = (scenario, seed, lf, county, replication), one tuple for pool.map."""
    scenario, seed, lf, county, replication = args
    # x1.0 is the scenario as written: statewide, the factor multiplies its traffic.load_factor
    # (with --county the runner already scales that county's rates on top of it)
    factor = lf if county is not None else lf * scenario.traffic.load_factor
    run = simulate_network(scenario, seed=seed, load_factor=factor, focus_county=county)
    fanned = "messages" in run.messages.column_names  # fan-out or resends: per-transaction rows
    cols = ["created_s", "county", "state", "response_s"] + (["kind", "messages"] if fanned else [])
    msgs = run.messages.select(cols).to_pandas()
    msgs = msgs[msgs["created_s"] >= run.warmup_s]
    if county is not None:
        msgs = msgs[msgs["county"] == county]
    s = response_summary(msgs, scenario.network.give_up_s)
    # the amplification: messages (database requests, resent copies included) per inquiry
    if fanned:
        inq = msgs[msgs["kind"] == "inquiry"]
        s["messages_per_inquiry"] = float(inq["messages"].mean()) if len(inq) else None
    else:
        s["messages_per_inquiry"] = 1.0
    row = {"load_factor": lf, "replication": replication, "seed": run.seed}
    row |= {m: (float(s[m]) if s[m] is not None else float("nan")) for m in MEASURES
            if m in s}
    nodes = run.nodes.assign(load_factor=lf, replication=replication)
    return row, nodes


def replication_seeds(root: int, replications: int) -> list[int]:
    """Replication r's seed, shared by every load point (common random numbers)."""
    return [replication_seed(root, r) for r in range(replications)]


def sweep_capacity(
    scenario: Scenario,
    load_factors: list[float],
    seed: int,
    focus_county: str | None = None,
    workers: int = 1,
    on_point: Callable[[dict], None] | None = None,
    replications: int = 3,
) -> CapacityResult:
    seeds = replication_seeds(seed, replications)
    tasks = [(scenario, s, lf, focus_county, r) for lf in load_factors for r, s in enumerate(seeds)]
    results: list[tuple[dict, pd.DataFrame]] = []
    if workers > 1 and len(tasks) > 1:
        with worker_pool(workers) as pool:
            for res in pool.map(load_point, tasks):
                results.append(res)
                if on_point:
                    on_point(res[0])
    else:
        for task in tasks:
            res = load_point(task)
            results.append(res)
            if on_point:
                on_point(res[0])
    runs = pd.DataFrame([r for r, _ in results])
    nodes = pd.concat([n for _, n in results], ignore_index=True)
    if focus_county is not None:
        keep = (nodes["county"] == focus_county) | nodes["kind"].isin(["hub", "database"])
        nodes = nodes[keep].reset_index(drop=True)
    mean_util = nodes.groupby(["load_factor", "node"], sort=False)["utilization"].mean()
    top = max(load_factors)
    if focus_county is not None:
        msc = msc_node(focus_county)
    else:
        mscs = nodes.loc[nodes["kind"] == "msc", "node"].unique()
        msc = str(mean_util.loc[top].loc[list(mscs)].idxmax()) if len(mscs) else ""
    util = nodes[nodes["node"] == msc].set_index(["load_factor", "replication"])["utilization"]
    runs["msc_utilization"] = [float(util.get((lf, r), np.nan))
                               for lf, r in zip(runs["load_factor"], runs["replication"])]
    points = summarise_points(runs, load_factors, scenario.network.give_up_s)
    target = scenario.capacity.target_p95_s
    knee, headroom = knee_and_headroom(points, target)
    at = knee if knee is not None else top
    bottleneck = str(mean_util.loc[at].idxmax())
    result = CapacityResult(points, runs, nodes, knee, headroom, bottleneck, target, focus_county,
                            msc, replications, seeds, describe_scale(scenario, focus_county))
    result.verdict = verdict(result)
    result.changes = what_changes(scenario)
    result.answer = answer(result)
    return result


def _bounds(measure: str, timeout: float) -> tuple[float, float]:
    """The values a measure can take (a mean's CI is cut to them)."""
    if measure.endswith("_share") or measure == "msc_utilization":
        return 0.0, 1.0
    if measure.endswith("_censored_s"):
        return 0.0, timeout
    return 0.0, np.inf


def summarise_points(runs: pd.DataFrame, load_factors: list[float],
                     timeout: float = np.inf) -> pd.DataFrame:
    """Per load factor: each measure's mean over replications (column named after the
    measure) and its 95% t-interval (``<measure>_ci_low``, ``<measure>_ci_high``), cut to
    the values the measure can take (shares in [0, 1], censored times in [0, timeout])."""
    rows = []
    for lf in load_factors:
        mine = runs[runs["load_factor"] == lf]
        row: dict = {"load_factor": lf, "replications": len(mine)}
        for m in MEASURES:
            mean, lo, hi = mean_ci(mine[m]) if m in mine else (np.nan, np.nan, np.nan)
            a, b = _bounds(m, timeout)
            row |= {m: mean, f"{m}_ci_low": min(max(lo, a), b) if not np.isnan(lo) else lo,
                    f"{m}_ci_high": min(max(hi, a), b) if not np.isnan(hi) else hi}
        rows.append(row)
    return pd.DataFrame(rows)


def knee_and_headroom(points: pd.DataFrame, target: float) -> tuple[float | None, float | None]:
    """(knee, headroom) on the replicated p95 (timed-out at the timeout), see the module doc.

    A point with no p95 (nothing answered nor timed out) counts as over the target."""
    p = points.sort_values("load_factor")
    mean = p[HEADLINE].to_numpy(dtype=float)
    upper = p[f"{HEADLINE}_ci_high"].to_numpy(dtype=float)
    loads = p["load_factor"].to_numpy(dtype=float)
    over = np.isnan(mean) | (mean > target)
    knee = float(loads[over][0]) if over.any() else None
    ok = ~np.isnan(upper) & (upper < target)
    first_bad = int(np.argmin(ok)) if not ok.all() else len(ok)
    headroom = float(loads[first_bad - 1]) if first_bad > 0 else None
    return knee, headroom


_DEVICE_TEXT = {
    "mdt_multiplier": lambda v, d: f"MDTs x{v:g} in every agency",
    "terminals_per_10k": lambda v, d: f"{v:g} fixed terminals per 10k residents (default {d:g})",
    "mdts_per_10k": lambda v, d: f"{v:g} MDTs per 10k residents (default {d:g})",
}
_TRAFFIC_TEXT = {
    "load_factor": lambda v, d: f"traffic x{v:g} (traffic.load_factor)",
    "terminal_rate_per_hour": lambda v, d: f"{v:g} queries/h per terminal (default {d:g})",
    "mdt_rate_per_hour": lambda v, d: f"{v:g} queries/h per MDT (default {d:g})",
}


def _clock(hours: float) -> str:
    minutes = int(round(hours * 60)) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def what_changes(scenario: Scenario) -> str:
    """What the scenario changes from the default devices and traffic (e.g. 'MDTs x2')."""
    from sim.config.topology import Devices
    from sim.config.traffic import Traffic

    changes = []
    dev, dev0 = scenario.topology.devices, Devices()
    for name, value in dev.model_dump().items():
        default = getattr(dev0, name)
        if value != default:
            text = _DEVICE_TEXT.get(name)
            changes.append(text(value, default) if text else f"topology.devices.{name} = {value} "
                           f"(default {default})")
    tr, tr0 = scenario.traffic, Traffic()
    for name in ("load_factor", "terminal_rate_per_hour", "mdt_rate_per_hour", "admin_fraction",
                 "database_mix", "diurnal", "source"):
        value, default = getattr(tr, name), getattr(tr0, name)
        if value != default:
            text = _TRAFFIC_TEXT.get(name)
            shown = value.model_dump() if hasattr(value, "model_dump") else value
            changes.append(text(value, default) if text else f"traffic.{name} = {shown} (changed)")
    if scenario.topology.excluded_oris:
        changes.append(f"{len(scenario.topology.excluded_oris)} agencies cut off")
    return "; ".join(changes) if changes else "default devices and traffic rates"


def describe_scale(scenario: Scenario, county: str | None) -> str:
    """What load x1.0 is for this scenario: what it changes from the default devices and
    traffic, the counties and the hours it covers, and what the factor multiplies."""
    what = what_changes(scenario)
    h = scenario.horizon
    start = h.start_hour + h.warmup_s / 3600
    end = h.start_hour + h.duration_s / 3600
    counties = scenario.topology.counties
    where = f"{len(counties)} counties" if counties else "all 58 counties"
    scope = (f"xL multiplies {county} County's devices' traffic, the rest of the state stays as "
             "written" if county else "xL multiplies all traffic")
    warm = f"{h.warmup_s / 60:g} min" if h.warmup_s % 60 == 0 else f"{h.warmup_s:g} s"
    return (f"the scenario as written ({what}; {where}; measured {_clock(start)}-{_clock(end)} "
            f"after a {warm} warm-up); {scope}")


def verdict(r: CapacityResult) -> str:
    """The answer in one paragraph: the question, what x1.0 means, p95 at x1.0 judged by its
    upper 95% CI bound against the target, the headroom, the knee and the bottleneck."""
    from sim.measures import fmt

    t = r.target_p95_s
    scope = f"{r.focus_county} County" if r.focus_county else "the network"
    parts = [f"Can {scope} keep the sender's p95 response under {t:g} s? x1.0 = {r.scale}."]
    p = r.points.set_index("load_factor")
    single = r.replications < 2
    bound = "the p95 itself (one replication, no CI)" if single else "the upper 95% CI bound"
    if 1.0 in p.index:
        row = p.loc[1.0]
        mean, hi = row[HEADLINE], row[f"{HEADLINE}_ci_high"]
        ci = "" if single else f" (95% CI {row[f'{HEADLINE}_ci_low']:.2f}-{hi:.2f} s)"
        ok = not np.isnan(hi) and hi < t
        parts.append(f"At x1.0: p95 {mean:.2f} s{ci} {'<' if ok else '>='} {t:g} s target by "
                     f"{bound}: {'the target is met' if ok else 'the target is NOT met'}"
                     f"; {r.msc} utilisation {fmt('msc_utilization', row['msc_utilization'])}.")
    else:
        parts.append("x1.0 was not swept.")
    if r.headroom is not None:
        parts.append(f"Headroom to x{r.headroom:g} (the largest load at and below which {bound} "
                     f"stays under {t:g} s).")
    else:
        parts.append(f"No headroom: already at x{min(p.index):g} {bound} is not under {t:g} s.")
    if r.knee is not None:
        parts.append(f"The knee is at x{r.knee:g} (first load whose mean p95 exceeds {t:g} s: "
                     f"{p.loc[r.knee, HEADLINE]:.2f} s).")
    else:
        parts.append(f"No knee up to x{max(p.index):g} (mean p95 stays under {t:g} s).")
    reps = f"{r.replications} replication{'s' if r.replications != 1 else ''}"
    parts.append(f"Bottleneck: {r.bottleneck}. p95 counts timed-out messages at the timeout; "
                 f"{reps} per load, common random numbers.")
    return " ".join(parts)


def answer(r: CapacityResult) -> str:
    """One line that answers the question asked, e.g. "Orange County MSC with MDTs x2: p95
    2.10 s (95% CI 1.9-2.3) against a 3 s target - carries it; knee at x1.5 (bottleneck
    msc:Orange)". Judged as the verdict is: the upper 95% CI bound at x1.0."""
    t = r.target_p95_s
    who = f"{r.focus_county} County MSC" if r.focus_county else "The network"
    p = r.points.set_index("load_factor")
    if 1.0 not in p.index:
        return f"{who} with {r.changes}: x1.0 was not swept; sweep it to answer"
    row = p.loc[1.0]
    mean, lo, hi = row[HEADLINE], row[f"{HEADLINE}_ci_low"], row[f"{HEADLINE}_ci_high"]
    ci = "" if r.replications < 2 else f" (95% CI {lo:.2f}-{hi:.2f})"
    carries = not np.isnan(hi) and hi < t
    knee = f"knee at x{r.knee:g}" if r.knee is not None else f"no knee up to x{max(p.index):g}"
    return (f"{who} with {r.changes}: p95 {mean:.2f} s{ci} against a {t:g} s target - "
            f"{'carries it' if carries else 'does NOT carry it'}; {knee} (bottleneck {r.bottleneck})")


def plot_capacity(result: CapacityResult, path: Path, top: int = 5) -> Path:
    """PNG: p95 sojourn vs load of the most utilised nodes, and end-to-end p95 (mean and 95% CI
    over replications) vs the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = result.nodes.groupby(["node", "load_factor"], as_index=False)[["utilization", "p95_s"]].mean()
    peak = nodes.groupby("node")["utilization"].max().sort_values(ascending=False)
    chosen = list(peak.index[:top])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for node in chosen:
        d = nodes[nodes["node"] == node].sort_values("load_factor")
        ax1.plot(d["load_factor"], d["p95_s"], marker="o", label=node)
    ax1.set_xlabel("load factor (x1.0 = scenario as written)")
    ax1.set_ylabel("p95 time in node (s), mean of replications")
    ax1.set_yscale("log")
    ax1.set_title("Busiest nodes")
    ax1.legend(fontsize=8)
    p = result.points.sort_values("load_factor")
    x, y = p["load_factor"], p[HEADLINE]
    lo, hi = p[f"{HEADLINE}_ci_low"], p[f"{HEADLINE}_ci_high"]
    ax2.fill_between(x, lo, hi, color="black", alpha=0.15, lw=0)
    ax2.errorbar(x, y, yerr=[(y - lo).clip(lower=0), (hi - y).clip(lower=0)], marker="o",
                 color="black", capsize=3,
                 label=f"p95, timed-out at the timeout (mean, 95% CI, {result.replications} reps)")
    ax2.plot(x, p["p95_s"], marker=".", ls="--", color="tab:blue", lw=1,
             label="p95, answered only (mean)")
    ax2.axhline(result.target_p95_s, color="red", ls="--", label=f"target {result.target_p95_s:g} s")
    if result.headroom is not None:
        ax2.axvline(result.headroom, color="green", ls=":", label=f"headroom x{result.headroom:g}")
    if result.knee is not None:
        ax2.axvline(result.knee, color="grey", ls=":", label=f"knee x{result.knee:g}")
    ax2.set_xlabel("load factor (x1.0 = scenario as written)")
    ax2.set_ylabel("response time (s)")
    scope = f"{result.focus_county} County" if result.focus_county else "statewide"
    ax2.set_title(f"End-to-end response ({scope}); bottleneck: {result.bottleneck}", fontsize=10)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
