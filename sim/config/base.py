"""Shared pieces of the scenario models: strict base class, constrained types, database names."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]

DATABASES = (
    "DMV",
    "NCIC",
    "Nlets",
    "ACHS",
    "wanted_persons",
    "stolen_vehicles",
    "firearms",
    "restraining_orders",
)


def check_database_names(names) -> None:
    """Every name must be one of the eight CLETS databases."""
    unknown = sorted(set(names) - set(DATABASES))
    if unknown:
        raise ValueError(f"unknown database {unknown[0]!r}; known: {', '.join(DATABASES)}")


class Strict(BaseModel):
    """Base: unknown keys are errors, values are validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
