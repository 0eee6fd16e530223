"""Topology section: how many agencies and devices each county gets."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from sim.config.base import NonNegFloat, NonNegInt, PositiveInt, Strict

# --------------------------------------------------------------------------- topology


class Agencies(Strict):
    """How many agencies (ORIs) each county gets; calibrated to ~1,000-1,200 statewide."""

    city_pd_coefficient: NonNegFloat = Field(
        default=1.25, description="city police departments = round(coef * (pop/100k) ** exponent)"
    )
    city_pd_exponent: Annotated[float, Field(gt=0, le=1.5)] = 0.85
    other_local_per_100k: NonNegFloat = Field(
        default=1.0,
        description="school/transit/airport/park/university police, coroners, marshals... per 100k",
    )
    chp_area_offices: NonNegInt = Field(default=103, description="spread over counties by population")
    courts_per_county: NonNegInt = 1
    direct_connect: list[str] = Field(
        default_factory=lambda: [
            "CHP Headquarters",
            "CA DOJ Bureau of Investigation",
            "CA DOJ Bureau of Firearms",
            "CDCR Parole",
            "CDCR Office of Correctional Safety",
            "DMV Investigations",
            "CA Fish and Wildlife",
            "CA State Parks",
            "CA Lottery Security",
            "Franchise Tax Board Investigations",
            "FBI",
            "DHS ICE Enforcement and Removal Operations",
            "DHS ICE Homeland Security Investigations",
            "DHS ICE Orange County",  # the ICE office that filed no misuse report (seed 004)
            "DHS Customs and Border Protection",
            "DHS US Secret Service",
            "DHS Federal Protective Service",
            "ATF",
            "DEA",
            "US Marshals Service",
            "US Postal Inspection Service",
        ]
    )


class Devices(Strict):
    """Terminals and MDTs, allocated to agencies by their share of county population."""

    terminals_per_10k: NonNegFloat = Field(default=4.0, description="fixed terminals per 10k residents")
    mdts_per_10k: NonNegFloat = Field(default=5.5, description="mobile data terminals per 10k residents")
    mdt_multiplier: NonNegFloat = Field(default=1.0, description="scale MDT counts (2.0 = MDTs doubled)")
    direct_connect_terminals: NonNegInt = 60
    direct_connect_mdts: NonNegInt = 0
    chp_hq_mdts: NonNegInt = 2500
    min_terminals_per_agency: PositiveInt = 1


class Topology(Strict):
    counties: list[str] | None = Field(
        default=None, description="restrict to these counties (names from counties.csv); null = all 58"
    )
    agencies: Agencies = Agencies()
    devices: Devices = Devices()
    excluded_oris: list[str] = Field(
        default_factory=list,
        description="agencies whose CLETS service was removed or suspended (e.g. the CAC's "
        "sanctions of an oversight run): their terminals generate no traffic",
    )

    @field_validator("counties")
    @classmethod
    def _counties_once_each(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("an empty list would leave no county (omit the key for all 58)")
        seen = set()
        for c in v:
            if c.strip().lower() in seen:
                raise ValueError(f"{c!r} is listed twice")
            seen.add(c.strip().lower())
        return v
