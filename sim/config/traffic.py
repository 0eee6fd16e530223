"""Traffic section: message-level arrival rates, hour-of-day curve, database mix."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.config.base import (
    NonNegFloat,
    PositiveFloat,
    Probability,
    Strict,
    assumed,
    check_database_names,
)

# --------------------------------------------------------------------------- traffic


class Diurnal(Strict):
    """Hour-of-day shape of traffic, mean 1 over the day.

    Either a cosine with its maximum at `peak_hour`, or 24 explicit `hourly_weights`
    (normalised to mean 1).
    """

    peak_hour: Annotated[int, Field(ge=0, le=23)] = assumed(
        16, "clock hour of the cosine's maximum (afternoon shift change)", low=12, high=19)
    amplitude: Annotated[float, Field(ge=0, lt=1)] = assumed(
        0.6, "cosine amplitude: the peak hour carries 1 + amplitude times the day average", low=0.3,
        high=0.8)
    hourly_weights: list[NonNegFloat] | None = assumed(
        None, "24 explicit hour-of-day weights instead of the cosine",
        "scenario: an explicit hour-of-day curve")

    @field_validator("hourly_weights")
    @classmethod
    def _24_weights(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if len(v) != 24:
                raise ValueError(f"needs 24 values, one per hour (got {len(v)})")
            if sum(v) <= 0:
                raise ValueError("at least one weight must be > 0")
        return v


class Traffic(Strict):
    source: Literal["poisson", "journal"] = Field(
        "poisson",
        description="poisson: per-device Poisson streams at the rates below; journal: replay the "
        "journal generator's rows (journal.start_date at 00:00 + horizon.start_hour is time 0)",
    )
    terminal_rate_per_hour: PositiveFloat = assumed(
        4.4, "day-average queries per fixed terminal per hour", "calibrated with mdt_rate_per_hour "
        "to ~2.8 million transactions a day statewide (DOJ estimate, 2018; docs/network.md)", 3.0, 6.0)
    mdt_rate_per_hour: PositiveFloat = assumed(
        1.9, "day-average queries per MDT per hour", "calibrated with terminal_rate_per_hour to "
        "~2.8 million transactions a day statewide (DOJ estimate, 2018)", 1.0, 3.0)
    load_factor: PositiveFloat = 1.0
    diurnal: Diurnal = Diurnal()
    database_mix: dict[str, NonNegFloat] = assumed(
        None, "database -> share of inquiries (without fan_out)",
        "assumption: no public split of CLETS traffic by database",
        default_factory=lambda: {
            "DMV": 0.42,
            "NCIC": 0.16,
            "Nlets": 0.04,
            "ACHS": 0.08,
            "wanted_persons": 0.12,
            "stolen_vehicles": 0.10,
            "firearms": 0.03,
            "restraining_orders": 0.05,
        },
    )
    admin_fraction: Probability = assumed(
        0.03, "share of messages that are agency-to-agency administrative traffic", low=0.01, high=0.1)

    @field_validator("database_mix")
    @classmethod
    def _mix_ok(cls, v: dict[str, float]) -> dict[str, float]:
        check_database_names(v)
        if sum(v.values()) <= 0:
            raise ValueError("at least one database share must be > 0")
        return v
