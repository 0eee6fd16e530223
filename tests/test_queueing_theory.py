"""The message path agrees with queueing theory where theory applies.

Every check uses the simulator's own stations and message processes (the same hot
path as the CLETS model) fed by Poisson arrivals, and compares against closed forms
with a 99% confidence interval computed from the run itself (batch means for
correlated waits, a binomial interval for blocking).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.config import ServiceTime
from sim.network import QueueNet
from sim.theory import MMc, erlang_c, mmck_blocking
from tests.queueing_helpers import batch_means, poisson_batch, run, station

# (servers, offered load per server rho): includes the heavy-traffic case rho = 0.9
MMC_CASES = [(1, 0.5), (2, 0.9), (4, 0.7), (8, 0.9)]


@pytest.mark.parametrize("c,rho", MMC_CASES)
def test_single_msc_matches_erlang_c(c, rho):
    mu = 1.0
    lam = rho * c * mu
    horizon = 500_000 / lam if rho >= 0.9 else 120_000 / lam
    net = QueueNet()
    st = station(net, "msc", c, ServiceTime(dist="exponential", mean=1 / mu), seed=11 + c)
    net.routes = [((0.0, None, st, True),)]
    run(net, poisson_batch([lam], horizon, seed=100 + c), horizon)
    theory = MMc(lam, mu, c)
    wait = np.frombuffer(st.wait)
    p_wait = batch_means((wait > 0).astype(float))
    mean_wait = batch_means(wait)
    assert p_wait.contains(theory.p_wait), (p_wait, theory.p_wait)  # two checks, each at 99%
    assert mean_wait.contains(theory.mean_wait), (mean_wait, theory.mean_wait)
    # the CI must be informative, not a wide net: within 20% of the true mean wait
    assert mean_wait.half_width < 0.20 * theory.mean_wait
    st.account()
    utilization = st.busy_area / (c * net.env.now)
    assert utilization == pytest.approx(rho, rel=0.03)
    # Little's law on the time-average queue: L_q = lambda * W_q (same run, two estimators)
    assert st.queue_area / net.env.now == pytest.approx(lam * wait.mean(), rel=0.05)


def test_erlang_c_formula_known_values():
    # textbook values: M/M/1 P(wait)=rho; M/M/2 with a=1 -> 1/3
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_jackson_network_mean_sojourn_per_node():
    """Two county streams share a hub and a database (a feed-forward Jackson network)."""
    lam_a, lam_b = 0.6, 0.9
    mus = {"msc_a": 1.0, "msc_b": 1.5, "hub": 2.0, "db": 0.5}
    servers = {"msc_a": 1, "msc_b": 1, "hub": 1, "db": 4}
    net = QueueNet()
    st = {n: station(net, n, servers[n], ServiceTime(mean=1 / mus[n]), seed=i)
          for i, n in enumerate(mus)}
    net.routes = [
        ((0.01, None, st["msc_a"], True), (0.02, None, st["hub"], True), (0.0, None, st["db"], True)),
        ((0.01, None, st["msc_b"], True), (0.02, None, st["hub"], True), (0.0, None, st["db"], True)),
    ]
    horizon = 150_000
    run(net, poisson_batch([lam_a, lam_b], horizon, seed=5), horizon)
    rates = {"msc_a": lam_a, "msc_b": lam_b, "hub": lam_a + lam_b, "db": lam_a + lam_b}
    level = 1 - 0.01 / 6  # six comparisons, 99% jointly (Bonferroni)
    for name, s in st.items():
        theory = MMc(rates[name], mus[name], servers[name]).mean_sojourn
        est = batch_means(np.frombuffer(s.sojourn), level=level)
        assert est.contains(theory), (name, est, theory)
        assert est.half_width < 0.1 * theory
    # end to end (product form: sum of node means plus the fixed link delays)
    log = net.log
    created = np.asarray(log.created)
    resp = np.asarray(log.end) - created
    route = np.asarray(log.route)
    done = np.isfinite(resp) & (created > horizon * 0.1)
    for r, first in ((0, "msc_a"), (1, "msc_b")):
        theory = sum(MMc(rates[n], mus[n], servers[n]).mean_sojourn for n in (first, "hub", "db")) + 0.03
        est = batch_means(resp[done & (route == r)], level=level)
        assert est.contains(theory), (r, est, theory)


@pytest.mark.parametrize("c,buffer,a", [(1, 4, 0.9), (2, 3, 2.5), (4, 0, 3.0)])
def test_finite_buffer_matches_mmck_blocking(c, buffer, a):
    mu = 1.0
    lam = a * mu
    horizon = 200_000 / lam
    net = QueueNet()
    st = station(net, "msc", c, ServiceTime(mean=1 / mu), seed=3, buffer=buffer)
    net.routes = [((0.0, None, st, True),)]
    run(net, poisson_batch([lam], horizon, seed=9), horizon)
    theory = mmck_blocking(lam, mu, c, c + buffer)
    blocked = st.rejected / st.arrivals
    # arrivals are Poisson (PASTA), blocking events nearly independent: binomial 99% interval,
    # widened x2 for the short-range correlation of consecutive blocks
    half = 2 * 2.576 * math.sqrt(theory * (1 - theory) / st.arrivals)
    assert abs(blocked - theory) <= half, (blocked, theory, half)
    fates = np.asarray(net.log.fate)
    assert int((fates == 2).sum()) == st.rejected  # every block is a rejected message


@pytest.mark.parametrize("dist,cv", [("deterministic", 0.0), ("lognormal", 2.0), ("gamma", 0.5)])
def test_mg1_pollaczek_khinchine(dist, cv):
    """M/G/1 mean wait = lambda E[S^2] / (2 (1 - rho)): checks every service distribution."""
    mean = 1.0
    rho = 0.75
    lam = rho / mean
    spec = ServiceTime(dist=dist, mean=mean, cv=cv)
    horizon = 300_000 / lam
    net = QueueNet()
    st = station(net, "db", 1, spec, seed=21)
    net.routes = [((0.0, None, st, True),)]
    run(net, poisson_batch([lam], horizon, seed=22), horizon)
    es2 = spec.variance + mean**2
    theory = lam * es2 / (2 * (1 - rho))
    est = batch_means(np.frombuffer(st.wait))
    assert est.contains(theory), (dist, est, theory)
