"""World section: the people (subjects and operators), their roles, training and relations."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from sim.config.base import NonNegFloat, PositiveFloat, PositiveInt, Probability, Strict, assumed

RelationMean = Annotated[float, Field(ge=0, le=1000)]  # a mean number of people; more is a typo

ROLES = ("full_access", "less_than_full_access", "practitioner", "administrator")


class RoleShares(Strict):
    """Shares of an agency's CLETS personnel by role (Orange County policy, seed 001)."""

    full_access: NonNegFloat = 0.35
    less_than_full_access: NonNegFloat = 0.45
    practitioner: NonNegFloat = 0.15
    administrator: NonNegFloat = 0.05

    def as_array(self) -> list[float]:
        v = [getattr(self, r) for r in ROLES]
        total = sum(v)
        return [x / total for x in v]


class Compliance(Strict):
    """How often operators fall out of the training and certification rules."""

    late_training: Probability = assumed(0.04, "trained more than 6 months after hire", low=0.01, high=0.15)
    proficiency_lapsed: Probability = assumed(0.08, "biennial test older than 2 years", low=0.02, high=0.2)
    proficiency_failed: Probability = assumed(0.03, "last test score below 70%", low=0.01, high=0.1)
    confidentiality_lapsed: Probability = assumed(0.10, "annual DMV statement not renewed",
                                                  low=0.02, high=0.25)
    no_background_check: Probability = assumed(0.01, "no fingerprint-based CORI search", low=0.0, high=0.05)


class Relations(Strict):
    """Mean number of each relation per operator (Poisson), besides the household."""

    family: RelationMean = assumed(3.0, "relatives outside the household (share the surname)",
                                   low=1.0, high=6.0)
    ex_partners: RelationMean = assumed(0.6, "former partners (the other sex)", low=0.2, high=1.5)
    friends: RelationMean = assumed(6.0, "friends", low=2.0, high=15.0)
    neighbours: RelationMean = assumed(4.0, "neighbours (same street)", low=1.0, high=10.0)


class World(Strict):
    subjects_per_resident: Annotated[float, Field(gt=0, le=1)] = assumed(
        0.127, "subjects in the world per county resident (0.127 -> 5.0M statewide; residents: "
        "2020 census)", low=0.05, high=0.3)
    min_subjects_per_county: PositiveInt = assumed(
        200, "at least this many subjects in a small county", low=50, high=1000)
    household_mean: Annotated[float, Field(ge=1, le=8)] = assumed(
        2.9, "mean people per household", "2020 census: about 2.9 persons per California household",
        2.5, 3.3)
    operators_per_device: PositiveFloat = assumed(
        2.2, "CLETS personnel per terminal/MDT (~85,000 statewide)", low=1.5, high=3.5)
    roles: RoleShares = assumed(
        RoleShares(), "shares of personnel by role",
        "roles of the Orange County CLETS policy (seed 001); shares assumed")
    compliance: Compliance = Compliance()
    relations: Relations = Relations()
    high_profile_per_million: NonNegFloat = assumed(
        100.0, "media figures per million subjects (~500 statewide)", low=20.0, high=500.0)
    ori_per_devices: PositiveInt = assumed(
        60, "an agency holds one extra ORI (a station/bureau) per this many devices", low=20, high=200)
    vehicle_owner_share: Probability = assumed(0.75, "subjects with a registered vehicle",
                                               low=0.6, high=0.9)
    firearm_owner_share: Probability = assumed(0.18, "subjects with a registered firearm",
                                               low=0.1, high=0.3)
    criminal_history_share: Probability = assumed(0.22, "subjects with a criminal history record",
                                                  low=0.15, high=0.35)
    restraining_order_share: Probability = assumed(0.012, "subjects under a restraining order",
                                                   low=0.005, high=0.03)
    name_pool_streets: PositiveInt = assumed(4000, "street names drawn with Faker", low=1000, high=20000)

    @field_validator("roles")
    @classmethod
    def _some_role(cls, v: RoleShares) -> RoleShares:
        if sum(getattr(v, r) for r in ROLES) <= 0:
            raise ValueError("at least one role share must be > 0")
        if v.full_access + v.less_than_full_access <= 0:
            raise ValueError("some operators must be able to query (full or less-than-full access)")
        return v
