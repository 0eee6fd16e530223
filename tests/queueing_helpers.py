"""Drive single stations and small networks of the real message path with Poisson input."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from scipy import stats

from sim.config import ServiceTime
from sim.distributions import Sampler
from sim.network import QueueNet
from sim.stations import Station


def station(net: QueueNet, name: str, c: int, spec: ServiceTime, seed: int, buffer=None) -> Station:
    return net.add_station(
        Station(net.env, name, "test", c, buffer, Sampler(spec, np.random.default_rng(seed)))
    )


def poisson_batch(rates: list[float], horizon: float, seed: int):
    """Merged Poisson streams; route id r with probability rates[r]/sum(rates)."""
    rng = np.random.default_rng(seed)
    total = sum(rates)
    n = rng.poisson(total * horizon)
    times = np.sort(rng.uniform(0, horizon, n))
    routes = rng.choice(len(rates), size=n, p=np.asarray(rates) / total)
    return SimpleNamespace(time=times, route=routes)


def run(net: QueueNet, batch, horizon: float) -> None:
    net.source([batch], lambda b: b.route)
    net.env.run(until=horizon)


@dataclass
class Estimate:
    mean: float
    half_width: float

    def contains(self, value: float) -> bool:
        return abs(self.mean - value) <= self.half_width


def batch_means(x: np.ndarray, batches: int = 30, discard: float = 0.1, level: float = 0.99) -> Estimate:
    """Batch-means confidence interval of the steady-state mean of a correlated series."""
    x = np.asarray(x, dtype=float)
    x = x[int(len(x) * discard):]
    m = len(x) // batches
    means = x[: m * batches].reshape(batches, m).mean(axis=1)
    t = stats.t.ppf(0.5 + level / 2, batches - 1)
    return Estimate(float(means.mean()), float(t * means.std(ddof=1) / np.sqrt(batches)))
