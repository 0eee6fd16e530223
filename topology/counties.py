"""The 58 California counties shipped with the package (2020 census population, county seat)."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class County:
    code: int  # 1..58, alphabetical (the numbering used in California ORI codes)
    name: str
    population: int
    seat: str


def load_counties() -> list[County]:
    """All 58 counties in alphabetical order (a fresh list; the file is read once)."""
    return list(_counties())


@functools.lru_cache(maxsize=1)
def _counties() -> tuple[County, ...]:
    text = resources.files("topology").joinpath("counties.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return tuple(
        County(code=i + 1, name=r["county"], population=int(r["population_2020"]), seat=r["county_seat"])
        for i, r in enumerate(sorted(rows, key=lambda r: r["county"]))
    )


def county_names() -> list[str]:
    return [c.name for c in load_counties()]
