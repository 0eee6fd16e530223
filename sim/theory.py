"""Closed-form queueing results used to validate the simulator and to annotate reports.

M/M/c (Erlang C), M/M/c/K (finite room) and open Jackson networks (product form:
each node behaves as an independent M/M/c with the node's total arrival rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c with offered load a = lambda/mu (stable recursion)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda/mu (< c)."""
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


@dataclass(frozen=True)
class MMc:
    """Steady-state measures of an M/M/c queue."""

    lam: float
    mu: float
    c: int

    @property
    def a(self) -> float:
        return self.lam / self.mu

    @property
    def rho(self) -> float:
        return self.a / self.c

    @property
    def p_wait(self) -> float:
        return erlang_c(self.c, self.a)

    @property
    def mean_wait(self) -> float:
        return self.p_wait / (self.c * self.mu - self.lam)

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + 1.0 / self.mu

    @property
    def mean_queue(self) -> float:
        return self.lam * self.mean_wait

    def wait_quantile(self, q: float) -> float:
        """q-quantile of the waiting time (0 when P(wait) <= 1-q)."""
        pw = self.p_wait
        if 1.0 - q >= pw:
            return 0.0
        return math.log(pw / (1.0 - q)) / (self.c * self.mu - self.lam)


def mmck_probabilities(lam: float, mu: float, c: int, k: int) -> list[float]:
    """Stationary distribution of the number in an M/M/c/K system (K = c + waiting room)."""
    if k < c:
        raise ValueError("K must be >= c")
    a = lam / mu
    terms = []
    for n in range(k + 1):
        if n <= c:
            terms.append(a**n / math.factorial(n))
        else:
            terms.append(a**c / math.factorial(c) * (a / c) ** (n - c))
    total = sum(terms)
    return [t / total for t in terms]


def mmck_blocking(lam: float, mu: float, c: int, k: int) -> float:
    """Probability an arrival finds the M/M/c/K system full (PASTA)."""
    return mmck_probabilities(lam, mu, c, k)[-1]


def jackson_sojourns(arrival_rates: list[float], mus: list[float], servers: list[int]) -> list[float]:
    """Mean sojourn per node of an open Jackson network given each node's total arrival rate."""
    return [MMc(lam, mu, c).mean_sojourn for lam, mu, c in zip(arrival_rates, mus, servers)]
