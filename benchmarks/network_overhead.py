"""Per-message cost of the model's message path against a bare SimPy chain and Ciw.

1. The CLETS inquiry path (agency -> MSC -> hub -> database -> hub -> MSC -> agency, with a
   link delay before every switch) through `sim.network.QueueNet`, against the same hops
   and the same pre-drawn service times written as the minimal SimPy program (a Resource
   per switch, request/timeout/release). Goal: overhead <= 1.3x per message.
2. A 5-node tandem of M/M/c stations in the model and in Ciw (if installed:
   `pip install -e '.[bench]'`). Goal: >= 2x Ciw's customers per second.

Both sides run in this process, one after the other, several times; the best time of
each is compared (the machine is shared: ratios are stable, absolute seconds are not).
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import simpy

from sim.config import ServiceTime
from sim.distributions import Sampler
from sim.network import QueueNet
from sim.stations import Station

# (servers, mean service s) along the inquiry path; the hub and MSC are visited twice
PATH = [("agency", 2, 0.010), ("msc", 2, 0.250), ("hub", 8, 0.030), ("db", 8, 0.250),
        ("hub", 8, 0.030), ("msc", 2, 0.250), ("agency", 2, 0.010)]
LINK = 0.005
RATE = 5.0  # messages per second: MSC utilisation 2 visits x 5/s x 0.25 s / 2 servers = 0.625


def arrivals(n: int, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1 / RATE, n))


def model_path(times: np.ndarray, seed: int) -> float:
    net = QueueNet()
    stations = {}
    for i, (name, c, mean) in enumerate(PATH):
        if name not in stations:
            stations[name] = net.add_station(Station(net.env, name, name, c, None, Sampler(
                ServiceTime(mean=mean), np.random.default_rng(seed + i))))
    net.routes = [tuple((LINK, None, stations[name], True) for name, _, _ in PATH)
                  + ((LINK, None, None, False),)]
    batch = SimpleNamespace(time=times)
    net.env.process(net.source([batch], lambda b: np.zeros(len(b.time), dtype=np.int64)))
    t0 = time.perf_counter()
    net.env.run()
    elapsed = time.perf_counter() - t0
    assert sum(1 for f in net.log.fate if f == 1) == len(times)
    return elapsed


def bare_path(times: np.ndarray, seed: int) -> float:
    """The minimal SimPy program for the same hops."""
    env = simpy.Environment()
    res, draws = {}, {}
    for i, (name, c, mean) in enumerate(PATH):
        if name not in res:
            res[name] = simpy.Resource(env, capacity=c)
            draws[name] = iter(np.random.default_rng(seed + i).exponential(mean, 4 * len(times)).tolist())
    done = [0]

    def message():
        for name, _, _ in PATH:
            yield env.timeout(LINK)
            with res[name].request() as req:
                yield req
                yield env.timeout(next(draws[name]))
        yield env.timeout(LINK)
        done[0] += 1

    def source():
        for t in times.tolist():
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(message())

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - t0
    assert done[0] == len(times)
    return elapsed


TANDEM = [(1, 0.6), (2, 1.5), (4, 3.0), (2, 1.2), (1, 0.5)]  # (servers, mean service) at rate 1/s


def model_tandem(n: int, seed: int) -> float:
    times = np.cumsum(np.random.default_rng(seed).exponential(1.0, n))
    net = QueueNet()
    sts = [net.add_station(Station(net.env, f"n{i}", "t", c, None,
                                   Sampler(ServiceTime(mean=m), np.random.default_rng(seed + i))))
           for i, (c, m) in enumerate(TANDEM)]
    net.routes = [tuple((0.0, None, s, True) for s in sts)]
    net.env.process(net.source([SimpleNamespace(time=times)],
                               lambda b: np.zeros(len(b.time), dtype=np.int64)))
    t0 = time.perf_counter()
    net.env.run()
    return time.perf_counter() - t0


def ciw_tandem(n: int, seed: int) -> float | None:
    try:
        import ciw
    except ImportError:
        return None
    k = len(TANDEM)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=1.0)] + [None] * (k - 1),
        service_distributions=[ciw.dists.Exponential(rate=1 / m) for _, m in TANDEM],
        routing=[[1.0 if j == i + 1 else 0.0 for j in range(k)] for i in range(k)],
        number_of_servers=[c for c, _ in TANDEM],
    )
    ciw.seed(seed)
    q = ciw.Simulation(network)
    t0 = time.perf_counter()
    q.simulate_until_max_customers(n, method="Finish")
    elapsed = time.perf_counter() - t0
    return elapsed


def best(fn, *args, repeats: int) -> float:
    return min(fn(*args) for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    times = arrivals(args.messages, 1)
    m = best(model_path, times, 2, repeats=args.repeats)
    b = best(bare_path, times, 2, repeats=args.repeats)
    print(f"inquiry path, {args.messages:,} messages x {len(PATH)} switches")
    print(f"  model      {args.messages / m:12,.0f} messages/s")
    print(f"  bare SimPy {args.messages / b:12,.0f} messages/s")
    print(f"  overhead per message: {m / b:.2f}x (goal <= 1.30x)")
    n = args.messages // 2
    mt = best(model_tandem, n, 3, repeats=args.repeats)
    ct = ciw_tandem(n, 3)
    print(f"tandem of {len(TANDEM)} M/M/c stations, {n:,} customers")
    print(f"  model      {n / mt:12,.0f} customers/s")
    if ct is None:
        print("  Ciw not installed (pip install -e '.[bench]'): comparison skipped")
    else:
        print(f"  Ciw        {n / ct:12,.0f} customers/s")
        print(f"  speed vs Ciw: {ct / mt:.1f}x (goal >= 2x)")


if __name__ == "__main__":
    main()
