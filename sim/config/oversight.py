"""Oversight sections: detection policies, complaints, investigations, the annual report,
DOJ follow-up and audits, and the CLETS Advisory Committee's sanctions ladder.

Sources of the defaults (see docs/oversight.md): outcome shares from EFF's 2010-2014
tally (counselling 17%, suspension 13%, reprimand 12%, resignation 7%, termination
7%); reporting 58% under passive follow-up (2017) and 98% after proactive outreach
(2018); the Feb 1 deadline and CAC referral from DOJ bulletin 18-07-CJIS (seed 000).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.catalogue import ARCHETYPES, CATEGORY_NAMES
from sim.config.base import (
    NonNegFloat,
    NonNegInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    Strict,
    check_names,
)

RULES = (
    "surname_or_address",  # subject shares the operator's surname or address
    "known_relation",  # subject is a relation the agency has on file
    "high_profile",  # subject is on the state's media-figure list
    "achs_without_case",  # ACHS query with no case/call number
    "achs_noncriminal_purpose",  # ACHS query stating a licensing or employment purpose
    "out_of_county_no_case",  # subject outside the agency's county, no case number
    "off_shift",  # query outside the operator's shift
    "lapsed_certification",  # operator's training, test or statement has lapsed
    "volume_spike",  # an operator's day far above their own running mean
    "repeated_subject",  # same subject queried repeatedly without a case
)
OUTCOMES = ("counselling", "suspension", "reprimand", "resignation", "termination", "no_action")
SANCTION_STEPS = ("censure", "suspension", "removal")
TRIGGERS = ("non_reporting", "agency_misuse", "audit_finding")


class Rules(Strict):
    enabled: list[str] = Field(default_factory=list, description=f"any of: {', '.join(RULES)}")
    spike_factor: PositiveFloat = Field(4.0, description="volume_spike: day count > factor x running mean")
    spike_min: PositiveInt = Field(12, description="volume_spike: and at least this many queries")
    repeat_count: PositiveInt = Field(3, description="repeated_subject: this many no-case queries ...")
    repeat_window_days: PositiveInt = Field(30, description="... of one subject within this window")
    known_relation_share: Probability = Field(
        0.5, description="share of operators' household and family relations agencies have on file"
    )

    @field_validator("enabled")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return check_names(v, RULES, "rule")


class Anomaly(Strict):
    """Monthly per-operator score: robust z-scores of journal features within the agency type."""

    enabled: bool = False
    threshold: PositiveFloat = Field(8.0, description="alert when the summed positive z-scores exceed")
    min_queries: PositiveInt = 10


class Complaints(Strict):
    """A victim learns of a lookup with a probability by category, and complains after a delay."""

    learn_probability: dict[str, Probability] = Field(
        default_factory=lambda: {
            "ex_partner_lookup": 0.08, "family_lookup": 0.004, "friend_lookup": 0.004,
            "self_lookup": 0.0, "dmv_personal_lookup": 0.0015, "high_profile_lookup": 0.001,
            "giving_data_to_others": 0.005, "personal_gain": 0.005, "immigration_enforcement": 0.0,
            "achs_licensing": 0.0, "colleague_request_unverified": 0.001,
            "out_of_county_no_action": 0.001, "firearm_prepurchase": 0.0,
            "sharing_credentials": 0.001, "allowing_login_use": 0.001,
            "screen_viewing_by_nonusers": 0.001,
        }
    )
    mean_delay_days: PositiveFloat = 45.0
    unfounded_per_million: NonNegFloat = Field(
        2.2, description="complaints about lawful operator queries, per million such queries"
    )

    @field_validator("learn_probability")
    @classmethod
    def _cats(cls, v):
        return check_names(v, CATEGORY_NAMES, "misuse category")


class Detection(Strict):
    rules: Rules = Rules()
    random_audit_rate: Probability = Field(0.0, description="share of operator queries sampled for review")
    anomaly: Anomaly = Anomaly()
    complaints: Complaints = Complaints()
    enabled_complaints: bool = True


class Investigation(Strict):
    budget_base: NonNegFloat = Field(0.5, description="alerts an agency can review a month, plus ...")
    budget_per_100_operators: NonNegFloat = Field(0.5, description="... this many per 100 personnel")
    overflow: Literal["wait", "drop"] = "wait"
    review_order: Literal["fifo", "score"] = Field(
        "fifo", description="oldest alerts first, or the highest-scoring (most rules fired) first"
    )
    open_complaint: Probability = Field(
        0.9, description="a reviewed complaint opens a case (>=586 of 641 were investigated, 2010-14)"
    )
    open_if_misuse: Probability = Field(0.85, description="a reviewed alert on misuse opens a case")
    open_if_lawful: Probability = Field(0.02, description="a reviewed alert on a lawful query opens one")
    mean_days: PositiveFloat = 60.0
    confirm_if_misuse: Probability = 0.9
    confirm_if_lawful: Probability = 0.03
    expand_to_other_queries: Probability = Field(
        0.5, description="the case reviews the operator's other queries and counts their misuse"
    )
    outcome_shares: dict[str, NonNegFloat] = Field(
        default_factory=lambda: {"counselling": 17, "suspension": 13, "reprimand": 12,
                                 "resignation": 7, "termination": 7, "no_action": 44}
    )
    suspension_days: PositiveInt = 20
    dhs_investigates: bool = Field(
        False, description="DHS components open cases (none reported an investigation in 2018, seed 004)"
    )
    criminal_referral: Probability = Field(0.05, description="confirmed cases referred for prosecution")

    @field_validator("outcome_shares")
    @classmethod
    def _outcomes(cls, v):
        return check_names(v, OUTCOMES, "outcome", weights=True)


class Reporting(Strict):
    """Form HDC 0010: due Feb 1 for the preceding calendar year, one form per agency."""

    propensity_mean: Probability = Field(0.58, description="chance an agency reports unprompted")
    propensity_concentration: PositiveFloat = Field(
        6.0, description="Beta(a, b) with a + b = this: lower = agencies differ more"
    )
    underreport_share: Probability = Field(0.1, description="reporting agencies that leave cases out")
    underreport_fraction: Probability = Field(0.5, description="share of cases they leave out")
    eff_fields: bool = Field(False, description="form asks for individuals and tallies by category")
    census_days_after_deadline: PositiveInt = Field(
        120, description="reports received by then count for the compliance figure"
    )


class FollowUp(Strict):
    regime: Literal["passive", "proactive"] = "passive"
    reminder_days_before: NonNegInt = 30
    reminder_conversion: Probability = 0.5
    calls_after_deadline: NonNegInt = 4
    call_interval_days: PositiveInt = 14
    call_conversion: Probability = 0.45


class TargetedAudit(Strict):
    agencies: Literal["dhs", "all"] = "dhs"
    day_of_year: Annotated[int, Field(ge=1, le=365)] = 60
    years: list[int] | None = Field(default=None, description="calendar years; null = every year")
    find_probability: dict[str, Probability] = Field(
        default_factory=lambda: {"agency_purpose": 0.9},
        description="overrides for what this audit looks for (others as in the cyclical audit)",
    )

    @field_validator("find_probability")
    @classmethod
    def _known_archetypes(cls, v: dict) -> dict:
        return check_names(v, ARCHETYPES, "archetype")


class Audits(Strict):
    cyclical: bool = True
    cycle_years: PositiveInt = 3
    find_probability: dict[str, Probability] = Field(
        default_factory=lambda: {"agency_purpose": 0.05, "mass_rule": 0.8, "misunderstood_rule": 0.5,
                                 "credential_sharing": 0.3, "occasional": 0.005, "lone_snooper": 0.2,
                                 "serious_case": 0.1, "curiosity_burst": 0.1, "data_for_hire": 0.2},
        description="chance a cyclical audit finds an incident of the agency active in the past "
        "year (it checks procedure; purpose misuse needs a targeted audit)",
    )
    targeted: list[TargetedAudit] = Field(default_factory=list)

    @field_validator("find_probability")
    @classmethod
    def _known_archetypes(cls, v: dict) -> dict:
        return check_names(v, ARCHETYPES, "archetype")


class SanctionRule(Strict):
    trigger: str
    count: PositiveInt = Field(1, description="how many times the trigger must have occurred")
    step: str

    @field_validator("trigger")
    @classmethod
    def _trigger(cls, v):
        check_names([v], TRIGGERS, "trigger")
        return v

    @field_validator("step")
    @classmethod
    def _step(cls, v):
        check_names([v], SANCTION_STEPS, "sanction step (the ladder is censure -> suspension -> removal)")
        return v


class Cac(Strict):
    meeting_days_of_year: list[Annotated[int, Field(ge=1, le=365)]] = Field(
        default_factory=lambda: [45, 135, 227, 318], description="default quarterly"
    )
    enforce: bool = Field(True, description="apply the sanctions ladder")
    rules: list[SanctionRule] = Field(default_factory=lambda: [
        SanctionRule(trigger="non_reporting", count=1, step="censure"),
        SanctionRule(trigger="non_reporting", count=2, step="suspension"),
        SanctionRule(trigger="non_reporting", count=3, step="removal"),
        SanctionRule(trigger="agency_misuse", count=1, step="suspension"),
        SanctionRule(trigger="audit_finding", count=1, step="censure"),
    ])
    suspension_days: PositiveInt = 90

    @field_validator("meeting_days_of_year")
    @classmethod
    def _not_empty(cls, v):
        if not v:
            raise ValueError("the CAC must meet at least once a year")
        return sorted(v)


class Oversight(Strict):
    years: PositiveInt = Field(1, description="calendar years reported, from journal.start_date")
    warmup_days: NonNegInt = Field(
        180, description="simulated before journal.start_date so complaints and cases are in flight"
    )
    detection: Detection = Detection()
    investigation: Investigation = Investigation()
    reporting: Reporting = Reporting()
    follow_up: FollowUp = FollowUp()
    audits: Audits = Audits()
    cac: Cac = Cac()
    automated_rows: bool = Field(
        False, description="generate automated checks too (they have no operator: detection skips them)"
    )
