"""Arrival sources for the message-level model.

The interface is a stream of `ArrivalBatch` objects in time order; each batch holds
sorted arrival times and, per arrival, the originating device, the database queried
(or -1 for administrative traffic) and the destination agency of administrative
messages (or -1). `PoissonArrivals` produces independent Poisson streams per
terminal/MDT with an hour-of-day curve and a load factor; the traffic generator of
the journal plugs in behind the same interface.

Superposition makes this exact and fast: the union of independent Poisson streams
with rates r_i(t) = w_i * d(t) is one Poisson stream of rate sum(w_i) d(t) whose
arrivals belong to device i with probability w_i / sum(w). So a batch is drawn as
one Poisson count, uniform times within each constant-rate hour bin, and a
vectorized categorical draw of origins: no Python loop per arrival.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

from sim.catalogue import KEY_DATABASE
from sim.config import DATABASES, Diurnal, Traffic

KEY_DB = np.array(KEY_DATABASE, dtype=np.int16)  # message key -> its (first) database


@dataclass(frozen=True)
class ArrivalBatch:
    time: np.ndarray  # float64 seconds since the start of the run, sorted
    device: np.ndarray  # int32 index into the model's device table
    database: np.ndarray  # int16 index into DATABASES, -1 for administrative messages
    dest_agency: np.ndarray  # int32 agency index for administrative messages, -1 otherwise
    # int8 index into sim.catalogue.MESSAGE_KEYS (-1 admin) when the source draws keys
    # (`network.fan_out`, or replayed journal rows), else None
    key: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.time)


class ArrivalSource(Protocol):
    def batches(self, start: float, end: float) -> Iterator[ArrivalBatch]: ...


def hourly_profile(diurnal: Diurnal) -> np.ndarray:
    """24 multipliers of the day-average rate, mean exactly 1."""
    if diurnal.hourly_weights is not None:
        w = np.asarray(diurnal.hourly_weights, dtype=float)
        return w / w.mean()
    h = np.arange(24)
    return 1.0 + diurnal.amplitude * np.cos(2 * math.pi * (h - diurnal.peak_hour) / 24)


class PoissonArrivals:
    """Independent Poisson arrivals per device, modulated by the hour-of-day profile."""

    def __init__(
        self,
        rates_per_s: np.ndarray,
        device_agency: np.ndarray,
        traffic: Traffic,
        start_hour: float,
        rng: np.random.Generator,
        slice_s: float = 300.0,
        key_weights: np.ndarray | None = None,
    ):
        self.rates = np.asarray(rates_per_s, dtype=float)
        self.total_rate = float(self.rates.sum())
        self.cum = np.cumsum(self.rates) / self.total_rate if self.total_rate > 0 else self.rates
        self.device_agency = device_agency
        self.agencies_with_devices = np.unique(device_agency)
        self.profile = hourly_profile(traffic.diurnal) * traffic.load_factor
        self.start_hour = start_hour
        mix = np.array([traffic.database_mix.get(d, 0.0) for d in DATABASES], dtype=float)
        self.db_cum = np.cumsum(mix) / mix.sum()
        # with fan-out, each inquiry draws a message key (one weight per key of MESSAGE_KEYS)
        # with the same uniform the database draw would use; its database is the key's first
        self.key_cum = None
        if key_weights is not None:
            w = np.asarray(key_weights, dtype=float)
            self.key_cum = np.cumsum(w) / w.sum()
        self.admin_fraction = traffic.admin_fraction
        self.rng = rng
        self.slice_s = slice_s

    def rate_at(self, t: float) -> float:
        """Total arrival rate (per second) at run time t."""
        hour = int(((self.start_hour * 3600 + t) // 3600) % 24)
        return self.total_rate * self.profile[hour]

    def expected_count(self, start: float, end: float) -> float:
        return sum(rate * (b - a) for a, b, rate in self._bins(start, end))

    def _bins(self, start: float, end: float):
        """Constant-rate pieces: cut at clock-hour boundaries and every `slice_s`."""
        t = start
        offset = self.start_hour * 3600
        while t < end:
            next_hour = (math.floor((offset + t) / 3600 + 1e-12) + 1) * 3600 - offset
            b = min(end, next_hour, t + self.slice_s)
            yield t, b, self.rate_at(t)
            t = b

    def batches(self, start: float, end: float) -> Iterator[ArrivalBatch]:
        rng = self.rng
        for a, b, rate in self._bins(start, end):
            n = int(rng.poisson(rate * (b - a)))
            times = np.sort(rng.uniform(a, b, n))
            device = np.searchsorted(self.cum, rng.random(n), side="right").astype(np.int32)
            np.minimum(device, len(self.rates) - 1, out=device)
            key = None
            if self.key_cum is None:
                database = np.searchsorted(self.db_cum, rng.random(n), side="right").astype(np.int16)
                np.minimum(database, len(DATABASES) - 1, out=database)
            else:
                key = np.searchsorted(self.key_cum, rng.random(n), side="right").astype(np.int8)
                np.minimum(key, len(KEY_DB) - 1, out=key)
                database = KEY_DB[key]
            dest = np.full(n, -1, dtype=np.int32)
            if self.admin_fraction > 0 and len(self.agencies_with_devices) > 1:
                admin = rng.random(n) < self.admin_fraction
                k = int(admin.sum())
                dest[admin] = rng.choice(self.agencies_with_devices, size=k)
                database[admin] = -1
                if key is not None:
                    key[admin] = -1
            yield ArrivalBatch(times, device, database, dest, key)


class ReplayArrivals:
    """Arrivals replayed from journal rows, so capacity and oversight share one scenario.

    `day_rows(day)` returns a day's journal rows (time in whole seconds since 1970,
    device, key's database); `t0` is the absolute second at simulated time 0. The
    journal logs whole seconds, so each arrival gets a uniform offset within its
    second (otherwise every second would arrive as one batch).
    """

    def __init__(self, day_rows, t0: int, rng: np.random.Generator, key_database: np.ndarray,
                 slice_s: float = 300.0):
        self.day_rows = day_rows
        self.t0 = int(t0)
        self.rng = rng
        self.key_database = key_database
        self.slice_s = slice_s
        self.replayed = 0

    def expected_count(self, start: float, end: float) -> float:
        return float(self.replayed)

    def batches(self, start: float, end: float) -> Iterator[ArrivalBatch]:
        a, b = self.t0 + start, self.t0 + end
        for day in range(int(a // 86400), int(math.ceil(b / 86400))):
            rows = self.day_rows(day)
            t = rows["time"] + self.rng.random(len(rows["time"]))
            sel = np.flatnonzero((t >= a) & (t < b))
            order = sel[np.argsort(t[sel], kind="stable")]
            times = t[order] - self.t0
            device = rows["device"][order].astype(np.int32)
            key = rows["key"][order].astype(np.int8)
            database = self.key_database[key].astype(np.int16)
            self.replayed += len(order)
            cuts = np.searchsorted(times, np.arange(times[0] if len(times) else 0, end, self.slice_s))
            cuts = np.unique(np.concatenate([cuts, [len(times)]]))
            lo = 0
            for hi in cuts.tolist():
                if hi > lo:
                    yield ArrivalBatch(times[lo:hi], device[lo:hi], database[lo:hi],
                                       np.full(hi - lo, -1, dtype=np.int32), key[lo:hi])
                lo = hi
