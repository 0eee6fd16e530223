"""Named, independent random streams spawned from one recorded root seed.

Each consumer asks for a stream by name (``streams.get("arrivals")``); the
stream's seed is derived from the root seed and a stable hash of the name, so
adding a new consumer never shifts the numbers another consumer sees (common
random numbers across policies), and the same root seed always gives the same
streams. Replications get child ``Streams`` via ``spawn``.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np


def _name_key(name: str) -> list[int]:
    digest = hashlib.blake2b(name.encode(), digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def draw_root_seed() -> int:
    """A fresh root seed for runs that did not give one (it is recorded in the manifest)."""
    return secrets.randbits(63)


class Streams:
    """A family of named numpy Generators derived from one SeedSequence."""

    def __init__(self, seed: int | None = None, *, _seq: np.random.SeedSequence | None = None):
        if _seq is None:
            self.root_seed = draw_root_seed() if seed is None else int(seed)
            _seq = np.random.SeedSequence(self.root_seed)
        else:
            self.root_seed = int(_seq.entropy)  # type: ignore[arg-type]
        self._seq = _seq
        self._cache: dict[str, np.random.Generator] = {}

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """The SeedSequence of stream `name` (independent of every other name)."""
        return np.random.SeedSequence(
            self._seq.entropy, spawn_key=(*self._seq.spawn_key, *_name_key(name))
        )

    def get(self, name: str) -> np.random.Generator:
        """The Generator for `name`; the same object on repeated calls within a run."""
        gen = self._cache.get(name)
        if gen is None:
            gen = np.random.Generator(np.random.PCG64(self.seed_sequence(name)))
            self._cache[name] = gen
        return gen

    def fresh(self, name: str) -> np.random.Generator:
        """A new Generator for `name`, restarted from its first number."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name)))

    def spawn(self, n: int) -> list[Streams]:
        """`n` child families (replications), independent of each other and of the parent."""
        return [self.child(i) for i in range(n)]

    def child(self, index: int) -> Streams:
        """The `index`-th replication family; stable whatever the total count."""
        seq = np.random.SeedSequence(self._seq.entropy, spawn_key=(*self._seq.spawn_key, 0xC1E75, index))
        return Streams(_seq=seq)
