"""Topology section: how many agencies and devices each county gets."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from sim.config.base import NonNegFloat, NonNegInt, PositiveInt, Strict, assumed

AGENCY_COUNT = ("calibrated to more than 1,000 subscribing agencies (DOJ's 2018 reporting "
                "directive went to more than 1,200; docs/network.md)")
RATE_CALIBRATION = ("assumption; with the rates per device, calibrated to ~2.8 million transactions "
                    "a day statewide (DOJ estimate, 2018)")

# --------------------------------------------------------------------------- topology


class Agencies(Strict):
    """How many agencies (ORIs) each county gets; calibrated to ~1,000-1,200 statewide."""

    city_pd_coefficient: NonNegFloat = assumed(
        1.25, "city police departments = round(coef * (pop/100k) ** exponent)", AGENCY_COUNT, 0.8, 2.0)
    city_pd_exponent: Annotated[float, Field(gt=0, le=1.5)] = assumed(
        0.85, "exponent of the city police department count", AGENCY_COUNT, 0.6, 1.0)
    other_local_per_100k: NonNegFloat = assumed(
        1.0, "school/transit/airport/park/university police, coroners, marshals... per 100k",
        AGENCY_COUNT, 0.5, 2.0)
    chp_area_offices: NonNegInt = assumed(
        103, "spread over counties by population", "CHP: 103 area offices (docs/network.md)", 95, 110)
    courts_per_county: NonNegInt = assumed(
        1, "superior courts per county", "California: one superior court in each county", 1, 2)
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

    terminals_per_10k: NonNegFloat = assumed(4.0, "fixed terminals per 10k residents (2020 census)",
                                             RATE_CALIBRATION, 2.0, 8.0)
    mdts_per_10k: NonNegFloat = assumed(5.5, "mobile data terminals per 10k residents (2020 census)",
                                        RATE_CALIBRATION, 3.0, 10.0)
    mdt_multiplier: NonNegFloat = Field(default=1.0, description="scale MDT counts (2.0 = MDTs doubled)")
    direct_connect_terminals: NonNegInt = assumed(
        60, "fixed terminals of the direct-connect state and federal users", low=20, high=200)
    direct_connect_mdts: NonNegInt = assumed(
        0, "MDTs of the direct-connect users (CHP's are counted under chp_hq_mdts)", low=0, high=500)
    chp_hq_mdts: NonNegInt = assumed(2500, "CHP patrol MDTs, connected through CHP Headquarters",
                                     low=1000, high=4000)
    min_terminals_per_agency: PositiveInt = assumed(1, "every agency has at least this many terminals",
                                                    low=1, high=3)


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
