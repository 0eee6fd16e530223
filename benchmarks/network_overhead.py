"""Per-message cost of the model's message path against a bare SimPy chain and Ciw.

1. The CLETS inquiry path (agency -> MSC -> hub -> database -> hub -> MSC -> agency, with a
   link delay before every switch) through `sim.network.QueueNet`, against the same hops
   written as the minimal SimPy program (a `Resource` per switch, request/timeout/release).
   Goal: overhead <= 1.3x per message (model time / bare SimPy time).
2. A 5-node tandem of M/M/c stations in the model, in the bare SimPy chain and in Ciw (if
   installed: `pip install -e '.[bench]'`). Goal: >= 2x Ciw's customers per second.

Fairness: every side of a comparison runs the same number of rounds (`--rounds`),
alternating (A, B, C, A, B, C, ...), and is scored by its median. Each timed run covers
everything a side pays to simulate the messages: building the network, drawing the arrivals
and service times, and running to the end. The model and the bare chain draw the same
arrivals (same seed); Ciw draws its own from the same distribution, so its simulated horizon
agrees within Poisson noise (checked). Every side must complete exactly the same number of
messages (checked). Wall and CPU (`time.process_time`) medians are both printed; the goals
are judged on CPU time, which is steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import simpy

from sim.config import ServiceTime
from sim.distributions import Sampler
from sim.messagelog import DELIVERED
from sim.network import QueueNet
from sim.stations import Station

try:
    import ciw
except ImportError:  # the bench extra is optional
    ciw = None


@dataclass(frozen=True)
class Net:
    """A chain of switches: `hops` are (name, servers, mean exponential service s) in visiting
    order (a name seen twice is the same switch visited again); `link` s before every hop and
    after the last one (none when 0); Poisson arrivals at `rate` per second."""

    label: str
    hops: tuple[tuple[str, int, float], ...]
    link: float
    rate: float


# the hub and MSC are visited twice; MSC utilisation 2 visits x 5/s x 0.25 s / 2 servers = 0.625
PATH = Net("inquiry path", (("agency", 2, 0.010), ("msc", 2, 0.250), ("hub", 8, 0.030),
                            ("db", 8, 0.250), ("hub", 8, 0.030), ("msc", 2, 0.250),
                            ("agency", 2, 0.010)), link=0.005, rate=5.0)
TANDEM = Net("tandem", tuple((f"n{i}", c, m) for i, (c, m) in
                             enumerate([(1, 0.6), (2, 1.5), (4, 3.0), (2, 1.2), (1, 0.5)])),
             link=0.0, rate=1.0)


@dataclass
class Run:
    wall: float
    cpu: float
    arrived: int
    completed: int
    horizon: float  # simulated time of the last departure


def arrivals(net: Net, n: int, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1 / net.rate, n))


# ---------------------------------------------------------------- the three sides
# Each returns (arrived, completed, horizon); the caller times the whole call.

def model_side(net: Net, n: int, seed: int) -> tuple[int, int, float]:
    times = arrivals(net, n, seed)
    q = QueueNet()
    stations = {}
    for i, (name, c, mean) in enumerate(net.hops):
        if name not in stations:
            stations[name] = q.add_station(Station(q.env, name, name, c, None, Sampler(
                ServiceTime(mean=mean), np.random.default_rng(seed + 1 + i))))
    route = tuple((net.link, None, stations[name], True) for name, _, _ in net.hops)
    if net.link > 0:
        route += ((net.link, None, None, False),)
    q.routes = [route]
    q.mark_steady(stations.values(), ())  # no faults here, as `sim.runner` marks a run without
    q.source([SimpleNamespace(time=times)], lambda b: np.zeros(len(b.time), dtype=np.int64))
    q.env.run()
    return len(q.log), sum(1 for f in q.log.fate if f == DELIVERED), q.env.now


def bare_side(net: Net, n: int, seed: int) -> tuple[int, int, float]:
    """The minimal SimPy program for the same hops."""
    times = arrivals(net, n, seed)
    env = simpy.Environment()
    res, draws = {}, {}
    for i, (name, c, mean) in enumerate(net.hops):
        if name not in res:
            visits = sum(1 for h in net.hops if h[0] == name)
            res[name] = simpy.Resource(env, capacity=c)
            draws[name] = iter(np.random.default_rng(seed + 1 + i)
                               .exponential(mean, visits * n).tolist())
    link, hops = net.link, [name for name, _, _ in net.hops]
    done = [0]

    def message():
        for name in hops:
            if link > 0:
                yield env.timeout(link)
            with res[name].request() as req:
                yield req
                yield env.timeout(next(draws[name]))
        if link > 0:
            yield env.timeout(link)
        done[0] += 1

    def source():
        for t in times.tolist():
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(message())

    env.process(source())
    env.run()
    return len(times), done[0], env.now


def ciw_side(net: Net, n: int, seed: int) -> tuple[int, int, float]:
    """Ciw draws arrivals and services itself; runs until `n` customers have left."""
    if net.link > 0 or len({h[0] for h in net.hops}) != len(net.hops):
        raise ValueError("the Ciw side models plain tandems only (no links, no revisits)")
    k = len(net.hops)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=net.rate)] + [None] * (k - 1),
        service_distributions=[ciw.dists.Exponential(rate=1 / m) for _, _, m in net.hops],
        routing=[[1.0 if j == i + 1 else 0.0 for j in range(k)] for i in range(k)],
        number_of_servers=[c for _, c, _ in net.hops],
    )
    ciw.seed(seed)
    q = ciw.Simulation(network)
    q.simulate_until_max_customers(n, method="Finish")
    return q.nodes[0].number_of_individuals, q.nodes[-1].number_of_individuals, q.current_time


def timed(fn, net: Net, n: int, seed: int) -> Run:
    gc.collect()  # do not charge one side for the previous side's garbage
    w0, c0 = time.perf_counter(), time.process_time()
    arrived, completed, horizon = fn(net, n, seed)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return Run(wall, cpu, arrived, completed, horizon)


def compare(net: Net, n: int, sides: dict, rounds: int, seed: int) -> dict[str, dict]:
    """Round-robin `rounds` times over `sides`; medians and the message counts per side."""
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, fn in sides.items():
            runs[name].append(timed(fn, net, n, seed))
    print(f"{net.label}: {len(net.hops)} switches, {n:,} messages, "
          f"{rounds} alternating rounds per side, median of each")
    print(f"  {'side':<11}{'wall s':>8}{'CPU s':>8}{'msg/s (CPU)':>13}"
          f"{'arrived':>9}{'completed':>10}{'sim. time':>11}")
    out = {}
    for name, rs in runs.items():
        last = rs[-1]
        assert all((r.arrived, r.completed, r.horizon) == (last.arrived, last.completed,
                                                           last.horizon) for r in rs), name
        med = {"wall": statistics.median(r.wall for r in rs),
               "cpu": statistics.median(r.cpu for r in rs)}
        out[name] = med
        print(f"  {name:<11}{med['wall']:8.2f}{med['cpu']:8.2f}{n / med['cpu']:13,.0f}"
              f"{last.arrived:9,}{last.completed:10,}{last.horizon:11,.0f}")
        assert last.completed == n, f"{name} completed {last.completed:,} of {n:,} messages"
        # Ciw also counts the few still inside when the n-th leaves
        assert n <= last.arrived <= n * 1.01 + 20, f"{name} admitted {last.arrived:,}"
    # same arrival process: simulated horizons within Poisson noise (sd sqrt(n) / rate)
    h = {name: rs[-1].horizon for name, rs in runs.items()}
    spread = max(h.values()) - min(h.values())
    assert spread <= 5 * math.sqrt(n) / net.rate, f"simulated horizons differ: {h}"
    return out


def ratio_line(label: str, num: dict, den: dict, goal: str | None = None, met=None) -> None:
    cpu, wall = num["cpu"] / den["cpu"], num["wall"] / den["wall"]
    line = f"  {label}: {cpu:.2f}x CPU, {wall:.2f}x wall"
    if goal is not None:
        line += f" (goal {goal}, judged on CPU): " + ("goal met" if met(cpu) else "GOAL NOT MET")
    print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=40_000,
                    help="messages on the inquiry path (the tandem runs half as many)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating runs per side")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")

    p = compare(PATH, args.messages, {"model": model_side, "bare SimPy": bare_side},
                args.rounds, seed=1)
    ratio_line("overhead per message, model / bare SimPy", p["model"], p["bare SimPy"],
               "<= 1.30x", lambda r: r <= 1.30)

    sides = {"model": model_side, "bare SimPy": bare_side}
    if ciw is not None:
        sides["Ciw"] = ciw_side
    t = compare(TANDEM, args.messages // 2, sides, args.rounds, seed=3)
    ratio_line("overhead per message, model / bare SimPy", t["model"], t["bare SimPy"])
    if ciw is None:
        print("  Ciw not installed (pip install -e '.[bench]'): comparison skipped, goal unchecked")
    else:
        ratio_line("speed vs Ciw, Ciw time / model time", t["Ciw"], t["model"],
                   ">= 2x", lambda r: r >= 2.0)


if __name__ == "__main__":
    main()
