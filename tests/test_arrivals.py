"""Arrivals are Poisson per device with the hour-of-day curve and the load factor."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.arrivals import PoissonArrivals, hourly_profile
from sim.config import DATABASES, Diurnal, Traffic


def source(traffic: Traffic, rates=None, seed=1, start_hour=0.0):
    rates = np.array([1.0, 2.0, 3.0, 4.0]) / 3600 * 100 if rates is None else rates
    agency = np.array([0, 0, 1, 2])
    return PoissonArrivals(rates, agency, traffic, start_hour, np.random.default_rng(seed))


def test_profile_mean_one_and_peak_at_configured_hour():
    p = hourly_profile(Diurnal(peak_hour=9, amplitude=0.5))
    assert p.mean() == pytest.approx(1.0)
    assert int(np.argmax(p)) == 9 and p.max() == pytest.approx(1.5)
    w = hourly_profile(Diurnal(hourly_weights=[1] * 12 + [3] * 12))
    assert w.mean() == pytest.approx(1.0) and w[0] == pytest.approx(0.5)


def test_counts_per_hour_follow_the_curve_and_load_factor():
    tr = Traffic(load_factor=2.0, diurnal=Diurnal(peak_hour=12, amplitude=0.6), admin_fraction=0.0)
    src = source(tr)
    batches = list(src.batches(0, 86400))
    times = np.concatenate([b.time for b in batches])
    assert np.all(np.diff(times) >= 0)
    counts = np.histogram(times, bins=24, range=(0, 86400))[0]
    expected = src.total_rate * 3600 * hourly_profile(tr.diurnal) * 2.0
    # Poisson counts: chi-square goodness of fit at 1%
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < stats.chi2.ppf(0.99, 24)
    assert src.expected_count(0, 86400) == pytest.approx(expected.sum())


def test_origin_shares_are_proportional_to_device_rates():
    tr = Traffic(admin_fraction=0.0)
    src = source(tr)
    dev = np.concatenate([b.device for b in src.batches(0, 86400 * 3)])
    obs = np.bincount(dev, minlength=4)
    exp = len(dev) * np.array([1, 2, 3, 4]) / 10
    assert stats.chisquare(obs, exp).pvalue > 0.01


def test_interarrival_times_are_exponential_within_a_constant_hour():
    tr = Traffic(diurnal=Diurnal(amplitude=0.0), admin_fraction=0.0)
    src = source(tr, rates=np.array([0.5]))
    t = np.concatenate([b.time for b in src.batches(0, 20000)])
    gaps = np.diff(t)
    assert stats.kstest(gaps, "expon", args=(0, 1 / 0.5)).pvalue > 0.01


def test_database_mix_and_admin_fraction():
    tr = Traffic(admin_fraction=0.1)
    src = source(tr)
    b = list(src.batches(0, 86400 * 2))
    db = np.concatenate([x.database for x in b])
    dest = np.concatenate([x.dest_agency for x in b])
    admin = db < 0
    assert admin.mean() == pytest.approx(0.1, abs=0.01)
    assert ((dest >= 0) == admin).all()
    mix = np.array([tr.database_mix[d] for d in DATABASES])
    obs = np.bincount(db[~admin], minlength=len(DATABASES))
    assert stats.chisquare(obs, obs.sum() * mix / mix.sum()).pvalue > 0.01
