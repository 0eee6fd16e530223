"""Per-node statistics: the quick quantiles are numpy's, float for float."""

from __future__ import annotations

import numpy as np
import pytest

from sim.netstats import QUANTILES, _quantiles


def _samples():
    rng = np.random.default_rng(2026)
    for n in (1, 2, 3, 4, 5, 19, 20, 21, 99, 100, 101, 1000, 4097):
        yield rng.exponential(0.7, n)  # continuous: interpolation between neighbours
        yield rng.integers(0, 4, n).astype(float) * 0.25  # ties: neighbours often equal
        yield rng.lognormal(-2, 2.0, n)  # wide range: rounding in a + (b - a) * g shows
    yield np.zeros(7)
    yield np.array([0.0, 1e-300, 1e300])


@pytest.mark.parametrize("x", list(_samples()), ids=lambda x: f"n{len(x)}")
def test_quantiles_are_numpys_float_for_float(x):
    """`node_stats` takes its p50/p95/p99 from `_quantiles`, which repeats np.quantile's linear
    method on the sorted sample; the saved tables must not change by a bit (golden tests), and a
    numpy upgrade that changed its arithmetic would show here first."""
    before = x.copy()
    want = [float(v) for v in np.quantile(x, QUANTILES)]
    assert _quantiles(x) == want
    assert np.array_equal(x, before)  # the station's own samples are left as they were


def test_an_empty_sample_has_no_quantiles():
    assert all(np.isnan(_quantiles(np.zeros(0))))
