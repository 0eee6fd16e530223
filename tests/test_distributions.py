"""Service-time samplers: block-wise draws are the same values as one long draw."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.network import ServiceTime
from sim.distributions import BLOCK, FIRST_BLOCK, Sampler, draw_block

SPECS = [
    ServiceTime(dist="exponential", mean=0.05),
    ServiceTime(dist="lognormal", mean=0.05, cv=1.8),
    ServiceTime(dist="gamma", mean=0.05, cv=2.5),  # shape < 1: numpy's rejection branch
    ServiceTime(dist="gamma", mean=0.05, cv=0.4),
    ServiceTime(dist="deterministic", mean=0.05),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.dist}-cv{s.cv}")
def test_growing_blocks_give_the_values_of_one_long_draw(spec):
    """A sampler draws small blocks first and doubles them (most switches serve few messages);
    the values a station gets must not depend on that: the same seed gives the same sequence
    as a single draw of the whole length (otherwise block sizes would change results)."""
    n = 3 * BLOCK + 5  # crosses the growing blocks and several full ones
    sampler = Sampler(spec, np.random.default_rng(11))
    got = np.array([sampler() for _ in range(n)])
    want = draw_block(spec, np.random.default_rng(11), n)
    assert np.array_equal(got, want)


def test_blocks_grow_from_small_to_the_largest():
    sampler = Sampler(SPECS[0], np.random.default_rng(1))
    sizes = []
    for _ in range(12):
        sizes.append(sampler.block)
        sampler.refill()
    assert sizes[0] == FIRST_BLOCK < BLOCK
    assert sizes[-1] == BLOCK
    assert all(b == min(2 * a, BLOCK) for a, b in zip(sizes, sizes[1:]))
