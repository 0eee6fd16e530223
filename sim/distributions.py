"""Service-time samplers: vectorized numpy draws served one at a time from a buffer.

A sampler knows its mean and variance (so tests and reports can compare with
theory) and refills a block of draws at once: the hot path pays one list-iterator step
per service, never a numpy call. Blocks start small and double up to `BLOCK`: most of the
statewide model's ~1,100 switches serve a few hundred messages an hour, and full blocks for
all of them cost ~150 MB and ~4% of a peak hour in draws never used. numpy's Generator draws
these distributions one value after another, so the values do not depend on the block sizes.
"""

from __future__ import annotations

import math

import numpy as np

from sim.config import ServiceTime

BLOCK = 4096  # largest block
FIRST_BLOCK = 16


def draw_block(spec: ServiceTime, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` service times with the distribution of `spec`."""
    m = spec.mean
    if spec.dist == "exponential":
        return rng.exponential(m, n)
    if spec.dist == "deterministic":
        return np.full(n, m)
    if spec.dist == "lognormal":
        sigma2 = math.log1p(spec.cv**2)
        return rng.lognormal(math.log(m) - sigma2 / 2, math.sqrt(sigma2), n)
    if spec.dist == "gamma":
        shape = 1.0 / spec.cv**2
        return rng.gamma(shape, m / shape, n)
    raise ValueError(f"unknown distribution {spec.dist!r}")  # config validation prevents this


class Sampler:
    """Draws from `spec` with its own Generator, a block at a time.

    `draws` iterates over the current block; the message path takes ``next(draws, None)``
    and calls `refill` when the block is spent (`sim.network`), as `__call__` does."""

    __slots__ = ("spec", "rng", "draws", "mean", "variance", "block")

    def __init__(self, spec: ServiceTime, rng: np.random.Generator):
        self.spec = spec
        self.rng = rng
        self.mean = spec.mean
        self.variance = spec.variance
        self.draws = iter(())
        self.block = FIRST_BLOCK  # size of the next block

    def refill(self) -> float:
        """Draw the next block; returns its first value (the rest are in `draws`)."""
        n = self.block
        self.block = min(2 * n, BLOCK)
        self.draws = iter(draw_block(self.spec, self.rng, n).tolist())
        return next(self.draws)

    def __call__(self) -> float:
        v = next(self.draws, None)
        return v if v is not None else self.refill()
