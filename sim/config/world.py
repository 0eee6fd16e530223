"""World section: the people (subjects and operators), their roles, training and relations."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from sim.config.base import NonNegFloat, PositiveFloat, PositiveInt, Probability, Strict

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

    late_training: Probability = Field(0.04, description="trained more than 6 months after hire")
    proficiency_lapsed: Probability = Field(0.08, description="biennial test older than 2 years")
    proficiency_failed: Probability = Field(0.03, description="last test score below 70%")
    confidentiality_lapsed: Probability = Field(0.10, description="annual DMV statement not renewed")
    no_background_check: Probability = Field(0.01, description="no fingerprint-based CORI search")


class Relations(Strict):
    """Mean number of each relation per operator (Poisson), besides the household."""

    family: RelationMean = 3.0  # relatives outside the household (share the surname)
    ex_partners: RelationMean = 0.6
    friends: RelationMean = 6.0
    neighbours: RelationMean = 4.0


class World(Strict):
    subjects_per_resident: Annotated[float, Field(gt=0, le=1)] = Field(
        0.127, description="subjects in the world per county resident (0.127 -> 5.0M statewide)"
    )
    min_subjects_per_county: PositiveInt = 200
    household_mean: Annotated[float, Field(ge=1, le=8)] = 2.9
    operators_per_device: PositiveFloat = Field(2.2, description="CLETS personnel per terminal/MDT")
    roles: RoleShares = RoleShares()
    compliance: Compliance = Compliance()
    relations: Relations = Relations()
    high_profile_per_million: NonNegFloat = Field(
        100.0, description="media figures per million subjects (~500 statewide)"
    )
    ori_per_devices: PositiveInt = Field(
        60, description="an agency holds one extra ORI (a station/bureau) per this many devices"
    )
    vehicle_owner_share: Probability = 0.75
    firearm_owner_share: Probability = 0.18
    criminal_history_share: Probability = 0.22
    restraining_order_share: Probability = 0.012
    name_pool_streets: PositiveInt = Field(4000, description="street names drawn with Faker")

    @field_validator("roles")
    @classmethod
    def _some_role(cls, v: RoleShares) -> RoleShares:
        if sum(getattr(v, r) for r in ROLES) <= 0:
            raise ValueError("at least one role share must be > 0")
        if v.full_access + v.less_than_full_access <= 0:
            raise ValueError("some operators must be able to query (full or less-than-full access)")
        return v
