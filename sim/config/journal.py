"""Journal sections: who queries how often (lawful traffic), injected misuse, recording.

Calibration (see docs/journal.md): human operators' lawful queries are set so the San
Diego Sheriff's Office runs about 1 million a year; automated system checks (CAD,
licence-plate readers, MDT auto-queries) fill the statewide total to about 2.8
million transactions a day.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.catalogue import CATEGORY_NAMES, KEY_NAMES, MESSAGE_KEYS
from sim.config.base import (
    NonNegFloat,
    NonNegInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    Strict,
    assumed,
    check_names,
)

SAN_DIEGO = ("calibrated to the San Diego Sheriff's Office's 'more than 1 million queries' in a "
             "fiscal year (docs/journal.md)")
MINNESOTA = ("Minnesota Legislative Auditor (2013, FY2012): 0.008 (documented) to 0.6 (questionable) "
             "misuse lookups a user-year")

AGENCY_TYPES = ("sheriff", "police", "chp_area", "chp_hq", "probation", "district_attorney", "court",
                "other_local", "state", "federal")
UPDATE_KEYS = tuple(k.key for k in MESSAGE_KEYS if k.update)


class Queries(Strict):
    """Lawful traffic in the journal."""

    per_shift: dict[Literal["full_access", "less_than_full_access"], NonNegFloat] = assumed(
        None, "lawful queries per operator per ten-hour shift", SAN_DIEGO,
        default_factory=lambda: {"full_access": 2.6, "less_than_full_access": 2.1},
    )
    agency_factor: dict[str, NonNegFloat] = assumed(
        None, "multiplier of per_shift by agency type", low=0.2, high=2.0,
        default_factory=lambda: {
            "sheriff": 1.0, "police": 1.3, "chp_area": 1.5, "chp_hq": 1.0, "probation": 0.7,
            "district_attorney": 0.5, "court": 0.4, "other_local": 0.6, "state": 0.8,
            "federal": 0.8,
        },
    )
    off_shift_share: Probability = assumed(0.02, "lawful queries outside the shift (overtime)",
                                           low=0.0, high=0.1)
    weekly: list[NonNegFloat] = assumed(
        None, "Monday..Sunday multipliers", low=0.7, high=1.2,
        default_factory=lambda: [1.03, 1.04, 1.04, 1.05, 1.08, 0.93, 0.83],
    )
    automated_per_device_day: NonNegFloat = assumed(
        69.0, "system transactions (CAD, LPR, MDT auto-checks) per terminal/MDT per day",
        "calibrated: with the operators' queries, fills the DOJ estimate of ~2.8 million "
        "transactions a day statewide (2018; docs/journal.md)", 50.0, 90.0)
    key_mix: dict[str, dict[str, NonNegFloat]] = assumed(
        None, "message key weights by who queries (full access, less than full, automated)",
        "assumption: no public split of CLETS queries by message key",
        default_factory=lambda: {
            "full_access": {"DL": 20, "RV": 18, "QW": 16, "QV": 8, "ZW": 10, "QH": 7, "QR": 2,
                            "IQ": 3, "QG": 3, "RO": 6, "EW": 4, "EV": 3},
            "less_than_full_access": {"DL": 24, "RV": 22, "QW": 18, "QV": 9, "ZW": 10, "QH": 6,
                                      "QR": 1, "IQ": 3, "QG": 2, "RO": 5},
            "automated": {"RV": 55, "QV": 30, "QW": 10, "DL": 5},
        },
    )
    case_number_probability: Probability = assumed(0.55, "case/call number entered (non-ACHS)",
                                                   low=0.3, high=0.8)
    achs_case_number_probability: Probability = assumed(
        0.9, "case/call number entered on ACHS queries (recommended by the SacPD "
        "bulletin, seed 002; not required)",
        "SacPD bulletin (seed 002) recommends it; the rate is assumed", 0.7, 1.0)
    achs_right_to_know_probability: Probability = assumed(
        0.97, "right to know entered on lawful ACHS queries (required by the SacPD "
        "bulletin, seed 002; no public compliance figure: assumed high, plausible 0.9-1)",
        "SacPD bulletin (seed 002) requires it; the compliance rate is assumed", 0.9, 1.0)
    requestor_share: Probability = assumed(0.12, "queries run for another employee", low=0.05, high=0.25)
    other_device_share: Probability = assumed(0.3, "queries from an agency device not one's own",
                                              low=0.1, high=0.5)
    out_of_county_share: Probability = assumed(0.07, "lawful subjects outside the county",
                                               low=0.02, high=0.15)
    relation_base_rate: Probability = assumed(
        4e-4, "lawful queries that happen to hit one of the operator's relations", low=1e-4, high=1e-3)
    high_profile_base_rate: Probability = assumed(
        2e-5, "lawful queries that hit a media figure (they are arrested too)", low=5e-6, high=1e-4)

    @field_validator("agency_factor")
    @classmethod
    def _agency_types(cls, v):
        return check_names(v, AGENCY_TYPES, "agency type")

    @field_validator("key_mix")
    @classmethod
    def _keys(cls, v):
        for who, mix in v.items():
            if who not in ("full_access", "less_than_full_access", "automated"):
                raise ValueError(f"unknown key_mix group {who!r}; use full_access, "
                                 "less_than_full_access, automated")
            check_names(mix, KEY_NAMES, "message key", weights=True)
        if "less_than_full_access" in v:
            upd = [k for k in v["less_than_full_access"] if k in UPDATE_KEYS]
            if upd:
                raise ValueError(f"less-than-full-access operators cannot run update key {upd[0]!r}")
        return v

    @field_validator("weekly")
    @classmethod
    def _seven(cls, v):
        if len(v) != 7 or sum(v) <= 0:
            raise ValueError(f"needs 7 non-negative values, Monday..Sunday, not all 0 (got {len(v)})")
        return v


# --------------------------------------------------------------------------- misuse


class Range(Strict):
    min: NonNegInt
    max: NonNegInt

    @model_validator(mode="after")
    def _ordered(self):
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


class Occasional(Strict):
    """Background misuse, bounded by the Minnesota Legislative Auditor (2013, FY2012): of about
    11,000 users, over half ran lookups it called questionable (an upper bound, ~0.6 a user-year
    at 1.2 each) and 88 misuses were documented (a lower bound, 88/11,000 = 0.008 a user-year).
    The default, 0.1 x 1.0 = 0.1 a user-year, lies between (docs/journal.md, Prevalence)."""

    user_share: Probability = assumed(
        0.1, "share of operators who make occasional misuse lookups "
        "(plausible 0.01-0.5; 0.5 is the auditor's questionable share)", MINNESOTA, 0.01, 0.5)
    lookups_per_year: NonNegFloat = assumed(
        1.0, "mean misuse lookups a year of such an operator (plausible 0.8-1.5); "
        "user_share x lookups_per_year plausible 0.008-0.6 a user-year", MINNESOTA, 0.8, 1.5)
    heavy_tail_sigma: Annotated[float, Field(ge=0, le=5)] = assumed(
        1.1, "lognormal spread of per-user rates (at most 5: the top user would "
        "otherwise look up more than a million times the median)", low=0.5, high=2.0)
    incidents: NonNegInt | None = Field(
        None, description="exactly this many users, each with 1 + Poisson(their rate) lookups "
        "(a teaching run); null: user_share of the users")
    off_shift_share: Probability = assumed(0.35, "share of the lookups made off shift", low=0.1, high=0.6)
    category_mix: dict[str, NonNegFloat] = assumed(
        None, "misuse category -> weight (the categories of the seed documents; weights assumed)",
        default_factory=lambda: {
            "self_lookup": 8, "family_lookup": 14, "friend_lookup": 12, "ex_partner_lookup": 4,
            "dmv_personal_lookup": 20, "high_profile_lookup": 6, "out_of_county_no_action": 12,
            "colleague_request_unverified": 8, "firearm_prepurchase": 3, "giving_data_to_others": 5,
            "screen_viewing_by_nonusers": 4, "achs_licensing": 4,
        },
    )

    @field_validator("category_mix")
    @classmethod
    def _cats(cls, v):
        return check_names(v, CATEGORY_NAMES, "misuse category", weights=True)


class Incidents(Strict):
    """An archetype that starts incidents at a rate; each has a size and a duration."""

    incidents_per_year: NonNegFloat
    incidents: NonNegInt | None = Field(
        None, description="exactly this many incidents over the journal, each placed so it fits in "
        "it (a teaching run), instead of a Poisson count at incidents_per_year")
    lookups: Range
    actors: Range = Range(min=1, max=1)
    duration_days: PositiveFloat = 90
    off_shift_share: Probability = 0.3
    right_to_know_probability: Probability | None = Field(
        None, description="right to know entered on this archetype's ACHS rows; null: "
        "misuse.right_to_know_probability")


class SeriousCase(Incidents):
    """Carlsbad (seed 004): an officer charged with stalking an ex-partner; the internal-affairs
    investigation into that finds CLETS lookups made days before, unrelated to the ex-partner."""

    investigation_delay_days: Range = Field(
        Range(min=2, max=30), description="days from the last lookup to the internal-affairs "
        "investigation opened for the outside charge (seed 004: 'days before his termination')")
    friend_share: Probability = Field(
        0.5, description="incidents whose lookup is of a friend (else a personal DMV lookup of a "
        "local resident); the source does not say what was looked up")


class AgencyPurpose(Strict):
    """Agency-level purpose misuse: DHS components running DMV lookups for immigration enforcement."""

    lookups_per_agency_day: NonNegFloat = assumed(
        12.0, "DMV lookups for immigration enforcement per DHS component a day",
        "DHS components' DMV lookups (seed 004); the rate is assumed", 3.0, 40.0)
    agencies: Literal["dhs", "none"] = "dhs"
    actors_per_agency: PositiveInt = assumed(15, "operators of a DHS component who run them",
                                             low=5, high=40)
    rule_effective: date = Field(
        date(2019, 2, 1), description="the PPP's ban on immigration use of non-criminal-history "
        "data (California Values Act, in force January 2018) was added in February 2019 (seed 004); "
        "earlier lookups are not misuse and are not generated")


class Misuse(Strict):
    prevalence_scale: NonNegFloat = assumed(
        1.0, "multiplies every misuse rate (hidden prevalence); the default's 0.1 occasional "
        "lookups a user-year x 0.08-6 spans the Minnesota bounds", MINNESOTA, 0.08, 6.0)
    agencies: list[str] = Field(
        default_factory=list, description="agency names whose operators misuse (a teaching run "
        "centred on one agency); empty = any agency. agency_purpose keeps its DHS components")
    distinct_actors: bool = Field(
        False, description="each incident's operators are ones no earlier incident used, while "
        "enough remain (a teaching run: one story per operator)")
    right_to_know_probability: Probability = assumed(
        0.4, "right to know entered on a misuse ACHS row (a cover; below the lawful rate)",
        low=0.1, high=0.7)
    occasional: Occasional = Occasional()
    # an archetype's sizes and durations follow its case; its rate is assumed (per-leaf plausible
    # ranges in sim.params.LEAF_RANGES)
    lone_snooper: Incidents = assumed(
        Incidents(incidents_per_year=4, lookups=Range(min=15, max=25), duration_days=150,
                  off_shift_share=0.5),
        "one operator's lookups of women", "Glendale case (docs/journal.md); the rate is assumed")
    # the rule archetypes believe the use lawful: they enter the licensing authority
    misunderstood_rule: Incidents = assumed(
        Incidents(incidents_per_year=3, lookups=Range(min=20, max=60), actors=Range(min=4, max=15),
                  duration_days=240, off_shift_share=0.02, right_to_know_probability=0.9),
        "CCW applicants run through ACHS under a misread rule",
        "Chula Vista case (docs/journal.md); the rate is assumed")
    mass_rule: Incidents = assumed(
        Incidents(incidents_per_year=0.2, lookups=Range(min=3000, max=7000), actors=Range(min=20, max=80),
                  duration_days=330, off_shift_share=0.02, right_to_know_probability=0.9),
        "a whole office's CCW-applicant checks",
        "the 2023 sheriff's office case (docs/journal.md); the rate is assumed")
    serious_case: SeriousCase = assumed(
        SeriousCase(incidents_per_year=8, lookups=Range(min=1, max=1), duration_days=14,
                    off_shift_share=0.6),
        "lookups found by an outside investigation", "Carlsbad case (seed 004); the rate is assumed")
    agency_purpose: AgencyPurpose = AgencyPurpose()
    credential_sharing: Incidents = assumed(
        Incidents(incidents_per_year=12, lookups=Range(min=10, max=80), actors=Range(min=2, max=3),
                  duration_days=90, off_shift_share=0.6),
        "a login lent to a colleague")
    curiosity_burst: Incidents = assumed(
        Incidents(incidents_per_year=3, lookups=Range(min=20, max=150), duration_days=5,
                  off_shift_share=0.3),
        "many operators look up a media figure in the news")
    data_for_hire: Incidents = assumed(
        Incidents(incidents_per_year=2, lookups=Range(min=20, max=200), duration_days=300,
                  off_shift_share=0.4),
        "addresses sold to a third party")


class Journal(Strict):
    start_date: date = date(2018, 1, 1)
    days: PositiveInt = 365
    mode: Literal["full", "sample", "none"] = "sample"
    sample_rate: Annotated[float, Field(gt=0, le=1)] = Field(
        0.01, description="share of lawful rows kept in sample mode (misuse rows are always kept)"
    )
    queries: Queries = Queries()

