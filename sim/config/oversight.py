"""Oversight sections: detection policies, complaints, investigations, the annual report,
DOJ follow-up and audits, the CLETS Advisory Committee, and how people respond to them.

Every behavioural parameter declares its source (a public figure, or "assumption") and a
plausible range (`sim.config.base.assumed`); `clets calibrate` fits the ones marked
"fitted" (docs/oversight.md). Public anchors: outcome shares from EFF's 2010-2014 tally;
reporting 58% under passive follow-up (2017); the Feb 1 deadline, public posting and CAC
referral from DOJ bulletin 18-07-CJIS (seed 000); deterrence from a 2018 warning trial
(JAMA Network Open 2020) and tax-compliance agent-based models.
"""

from __future__ import annotations

from datetime import date
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
    assumed,
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
# what DOJ refers to the CAC; persistent = a second consecutive year without a form
ITEM_KINDS = ("non_reporting", "persistent_non_reporting", "agency_misuse", "audit_finding")
TRIGGERS = ITEM_KINDS  # former name
FITTED = "fitted by clets calibrate to the 2010-2014 and 2017 record"


class Rules(Strict):
    enabled: list[str] = Field(default_factory=list, description=f"any of: {', '.join(RULES)}")
    spike_factor: PositiveFloat = assumed(4.0, "volume_spike: day count > factor x running mean",
                                          low=2.0, high=8.0)
    spike_min: PositiveInt = assumed(12, "volume_spike: and at least this many queries", low=5, high=30)
    repeat_count: PositiveInt = assumed(3, "repeated_subject: this many no-case queries ...", low=2, high=5)
    repeat_window_days: PositiveInt = assumed(30, "... of one subject within this window", low=7, high=90)
    known_relation_share: Probability = assumed(
        0.5, "share of operators' household and family relations agencies have on file",
        low=0.2, high=0.8)

    @field_validator("enabled")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return check_names(v, RULES, "rule")


class Anomaly(Strict):
    """Monthly per-operator score: robust z-scores of journal features within the agency type."""

    enabled: bool = False
    threshold: PositiveFloat = assumed(8.0, "alert when the summed positive z-scores exceed",
                                       low=4.0, high=15.0)
    min_queries: PositiveInt = assumed(10, "operators with fewer queries in the month are not scored",
                                       low=5, high=30)


class Complaints(Strict):
    """A victim learns of a lookup with a probability by category, and complains after a delay."""

    learn_probability: dict[str, Probability] = assumed(
        None, "chance a victim learns of a lookup, by misuse category (x scale)",
        "assumption: relative chances by category; their level is fitted through scale",
        default_factory=lambda: {
            "ex_partner_lookup": 0.08, "family_lookup": 0.004, "friend_lookup": 0.004,
            "self_lookup": 0.0, "dmv_personal_lookup": 0.0015, "high_profile_lookup": 0.001,
            "giving_data_to_others": 0.005, "personal_gain": 0.005, "immigration_enforcement": 0.0,
            "achs_licensing": 0.0, "colleague_request_unverified": 0.001,
            "out_of_county_no_action": 0.001, "firearm_prepurchase": 0.0,
            "sharing_credentials": 0.001, "allowing_login_use": 0.001,
            "screen_viewing_by_nonusers": 0.001,
        },
    )
    scale: PositiveFloat = assumed(
        5.7, "multiplies every learn probability (founded complaints)",
        "fitted by clets calibrate to the 2010-2014 record (389 of 586 investigations confirmed)",
        0.2, 10.0)
    mean_delay_days: PositiveFloat = assumed(45.0, "mean days from the lookup to the complaint",
                                             low=15.0, high=120.0)
    unfounded_per_million: NonNegFloat = assumed(
        1.99, "complaints about lawful operator queries, per million such queries",
        "fitted by clets calibrate to the 2010-2014 record (641 complaints in 5 years)", 0.5, 10.0)

    @field_validator("learn_probability")
    @classmethod
    def _cats(cls, v):
        return check_names(v, CATEGORY_NAMES, "misuse category")


class Detection(Strict):
    rules: Rules = Rules()
    random_audit_rate: Probability = assumed(
        0.0, "share of operator queries sampled for review (a policy; 0 = none)", low=0.0, high=0.01)
    anomaly: Anomaly = Anomaly()
    complaints: Complaints = Complaints()
    enabled_complaints: bool = True


class Investigation(Strict):
    budget_base: NonNegFloat = assumed(0.5, "alerts an agency can review a month, plus ...",
                                       low=0.1, high=2.0)
    budget_per_100_operators: NonNegFloat = assumed(0.5, "... this many per 100 personnel",
                                                    low=0.1, high=2.0)
    overflow: Literal["wait", "drop"] = "wait"
    review_order: Literal["fifo", "score"] = Field(
        "fifo", description="oldest alerts first, or the highest-scoring (most rules fired) first"
    )
    open_complaint: Probability = assumed(
        0.907, "a reviewed complaint opens a case",
        FITTED + " (>=586 of 641 complaints investigated, EFF 2015)", 0.85, 0.95)
    open_if_misuse: Probability = assumed(0.85, "a reviewed alert on misuse opens a case",
                                          low=0.5, high=1.0)
    open_if_lawful: Probability = assumed(0.02, "a reviewed alert on a lawful query opens one",
                                          low=0.0, high=0.1)
    mean_days: PositiveFloat = assumed(60.0, "mean length of an investigation, days", low=20, high=180)
    confirm_if_misuse: Probability = assumed(0.9, "a case on true misuse confirms it", low=0.6, high=1.0)
    confirm_if_lawful: Probability = assumed(0.03, "a case on a lawful query 'confirms' misuse",
                                             low=0.0, high=0.1)
    expand_to_other_queries: Probability = assumed(
        0.5, "the case reviews the operator's other queries and counts their misuse", low=0.2, high=0.9)
    outcome_shares: dict[str, NonNegFloat] = assumed(
        None, "weights of the outcomes of a confirmed minor case", FITTED + " (outcome shares)",
        default_factory=lambda: {"counselling": 17.0, "suspension": 13.0, "reprimand": 12.0,
                                 "resignation": 6.17, "termination": 3.54, "no_action": 44.0})
    severe_archetypes: list[str] = Field(
        default_factory=lambda: ["lone_snooper", "serious_case", "data_for_hire"],
        description="archetypes treated as severe: dismissal and prosecution more likely")
    severe_dismissal_odds: PositiveFloat = assumed(
        5.0, "severe cases: odds multiplier on resignation and termination", low=2.0, high=20.0)
    criminal_referral: Probability = assumed(
        0.04, "minor confirmed cases referred for prosecution", ">20 charges in 389 cases (EFF 2015)",
        0.01, 0.1)
    severe_criminal_referral: Probability = assumed(
        0.4, "severe confirmed cases referred for prosecution", low=0.2, high=0.9)
    suspension_days: PositiveInt = assumed(20, "days an operator suspended by the agency is away",
                                           low=5, high=60)
    dhs_investigates: bool = Field(
        False, description="DHS components open cases (none reported an investigation in 2018, seed 004)"
    )

    @field_validator("outcome_shares")
    @classmethod
    def _outcomes(cls, v):
        return check_names(v, OUTCOMES, "outcome", weights=True)

    @field_validator("severe_archetypes")
    @classmethod
    def _severe(cls, v):
        return check_names(v, ARCHETYPES, "archetype")


class Reporting(Strict):
    """Form HDC 0010: due Feb 1 for the preceding calendar year, one form per reporting unit.

    Each unit's propensity to file, on the logit scale, is its own diligence (normal around
    `base_propensity`) + `habit` if it filed last year + the salience of DOJ's contacts
    (bulletin, reminder, calls, audit), its public listing and any CAC censure; salience
    halves every `salience_half_life_days`. A unit decides when the season opens and again
    at each contact; the 2018 figure is a prediction of this mechanism, not an input.
    """

    base_propensity: Probability = assumed(
        0.476, "median unit's chance to file unprompted with no history", FITTED + " (58% in 2017)",
        0.2, 0.8)
    heterogeneity_sd: NonNegFloat = assumed(1.5, "sd of units' diligence, logit scale", low=0.5, high=3.0)
    habit: NonNegFloat = assumed(1.0, "logit boost when the unit filed last year (routine)",
                                 low=0.0, high=2.5)
    federal_shift: float = assumed(
        -1.0, "logit shift for federal users (state policy enforced on them by contract only)",
        low=-3.0, high=0.0)
    effects: dict[str, float] = assumed(
        None, "logit salience added by each event on the unit (decays)",
        "assumption; survey-methodology reminder effects and the 2018 outreach (EFF 2019)",
        default_factory=lambda: {"bulletin": 1.5, "reminder": 1.0, "call": 1.5, "audit": 1.0,
                                 "listing": 2.0, "censure": 3.0})
    salience_half_life_days: PositiveFloat = assumed(120.0, "half-life of an event's salience",
                                                     low=30.0, high=365.0)
    underreport_share: Probability = assumed(0.1, "reporting units that leave cases out", low=0.0, high=0.3)
    underreport_fraction: Probability = assumed(0.5, "share of cases they leave out", low=0.2, high=0.8)
    eff_fields: bool = Field(False, description="form asks for individuals and tallies by category")
    refusing: list[str] = Field(
        default_factory=list, description="agency names that never file (e.g. ICE Orange County, 2019)")
    census_days_after_deadline: PositiveInt = assumed(
        120, "forms received by then count for the compliance figure", low=60, high=180)

    @field_validator("effects")
    @classmethod
    def _effects(cls, v):
        return check_names(v, REPORTING_EVENTS, "reporting event")


REPORTING_EVENTS = ("bulletin", "reminder", "call", "audit", "listing", "censure")


class FollowUp(Strict):
    regime: Literal["passive", "proactive"] = Field(
        "passive", description="passive: DOJ waits for forms; proactive: a reminder and outreach calls")
    reminder_days_before: NonNegInt = assumed(
        30, "proactive: the reminder, days before the Feb 1 deadline",
        "assumption about DOJ's 2018 outreach (EFF 2019)", 14, 60)
    calls_after_deadline: NonNegInt = assumed(
        4, "proactive: outreach calls after the deadline",
        "assumption about DOJ's 2018 outreach (EFF 2019)", 1, 8)
    call_interval_days: PositiveInt = assumed(
        14, "proactive: days between calls", "assumption about DOJ's 2018 outreach (EFF 2019)", 7, 30)
    bulletin_date: date | None = Field(
        None, description="DOJ's bulletin to every agency (18-07-CJIS: 2018-04-17); null = none")
    public_listing: bool = Field(
        False, description="non-reporters posted publicly (from the April 2018 bulletin on)")
    refer_to_cac: bool = Field(
        False, description="non-reporters referred to the CAC after the outreach period (from 2018)")
    # with a bulletin_date, listing and referral start on that date ("effective immediately")


class TargetedAudit(Strict):
    agencies: Literal["dhs", "all"] = "dhs"
    day_of_year: Annotated[int, Field(ge=1, le=365)] = assumed(
        60, "day of the year the targeted audit starts", "scenario: when DOJ audits")
    years: list[int] | None = Field(default=None, description="calendar years; null = every year")
    sample_per_operator: PositiveInt | None = assumed(
        50, "transactions sampled per operator: a targeted audit looks closer "
        "(EFF 2019: 'closely monitor each CLETS transaction'); null: as the cyclical audit",
        "EFF 2019 ('closely monitor each CLETS transaction'); the number is assumed", 10, 200)
    cover_story_by_category: dict[str, Probability] = assumed(
        None, "overrides: a targeted audit asks about purpose, so cover stories fail more",
        low=0.0, high=0.5, default_factory=lambda: {"immigration_enforcement": 0.1})

    @field_validator("cover_story_by_category")
    @classmethod
    def _cats(cls, v):
        return check_names(v, CATEGORY_NAMES, "misuse category")


class Audits(Strict):
    """DOJ's audit: samples each operator's logged transactions, asks for justifications,
    and checks the registry (training, test, statements, background checks)."""

    cyclical: bool = True
    cycle_years: PositiveInt = assumed(3, "every agency audited once per cycle",
                                       "DOJ audit programme: at least once per 3 years", 1, 5)
    retention_days: PositiveInt = assumed(1095, "audit looks back over the log retention period",
                                          "transaction logs kept 3 years (agency agenda report)",
                                          365, 1095)
    sample_per_operator: PositiveInt = assumed(2, "transactions sampled per operator", low=1, high=20)
    cover_story_probability: Probability = assumed(
        0.4, "a sampled misuse row passes justification (the operator covers it)", low=0.1, high=0.7)
    cover_story_by_category: dict[str, Probability] = assumed(
        None, "per-category overrides of the cover-story probability",
        "assumption: routine audits check procedure, not purpose",
        default_factory=lambda: {"immigration_enforcement": 0.95, "screen_viewing_by_nonusers": 1.0})
    cover_without_case: Probability = assumed(
        0.5, "multiplies the cover-story chance of a row with no case number or right to know",
        low=0.2, high=1.0)
    lawful_unjustified: Probability = assumed(
        0.001, "a sampled lawful row cannot be justified (paperwork gap)", low=0.0, high=0.01)
    finding_share: Probability = assumed(
        0.3, "agency-level finding when this share of operators is out of compliance", low=0.1, high=0.5)
    auditor_days_per_year: NonNegFloat = assumed(
        1000.0, "DOJ's audit budget, auditor-days a year (audits over it wait a year)", low=300, high=3000)
    days_base: NonNegFloat = assumed(1.0, "auditor-days per audit, plus ...", low=0.5, high=3.0)
    days_per_100_operators: NonNegFloat = assumed(1.0, "... this many per 100 operators", low=0.3, high=3.0)
    targeted: list[TargetedAudit] = Field(default_factory=list)

    @field_validator("cover_story_by_category")
    @classmethod
    def _cats(cls, v):
        return check_names(v, CATEGORY_NAMES, "misuse category")


class Cac(Strict):
    """The CLETS Advisory Committee takes up referred items "for consideration and action".

    Each item is discussed at least `deliberation_meetings` times; an item whose agency files
    meanwhile is closed. Then the CAC acts with `act_probability[kind]`. The first action on an
    agency is `first_step[kind]`; each action on a later item of the same agency climbs one step
    (censure -> suspension -> removal)."""

    meeting_days_of_year: list[Annotated[int, Field(ge=1, le=365)]] = assumed(
        None, "meeting days (default quarterly)", "CAC minutes: 2-4 meetings a year",
        default_factory=lambda: [45, 135, 227, 318])
    enforce: bool = Field(True, description="false: items are recorded and discussed, never acted on")
    deliberation_meetings: PositiveInt = assumed(
        2, "meetings an item is discussed before the CAC can act",
        "assumption; by mid-2019 no sanction had been imposed (seed 004)", 1, 4)
    act_probability: dict[str, Probability] = assumed(
        None, "chance the CAC acts on a deliberated item, by kind",
        "assumption; no sanction had been imposed by mid-2019 (seed 004)", 0.0, 1.0,
        default_factory=lambda: {"non_reporting": 0.05, "persistent_non_reporting": 0.3,
                                 "agency_misuse": 0.3, "audit_finding": 0.0})
    first_step: dict[str, str] = Field(
        default_factory=dict, description="first action by item kind (default censure)")
    suspension_days: PositiveInt = assumed(90, "days a suspended agency is without service",
                                           low=30, high=365)

    @field_validator("meeting_days_of_year")
    @classmethod
    def _not_empty(cls, v):
        if not v:
            raise ValueError("the CAC must meet at least once a year")
        return sorted(v)

    @field_validator("act_probability")
    @classmethod
    def _kinds(cls, v):
        return check_names(v, ITEM_KINDS, "CAC item kind")

    @field_validator("first_step")
    @classmethod
    def _steps(cls, v):
        check_names(v, ITEM_KINDS, "CAC item kind")
        check_names(set(v.values()), SANCTION_STEPS, "sanction step (censure, suspension, removal)")
        return v


class Behaviour(Strict):
    """How operators respond to oversight: a misusing operator's hazard is multiplied by
    specific deterrence (after their own confirmed case), general deterrence (a colleague's
    case or a sanction in the agency; a publicised case anywhere) and agency retraining."""

    deterrence: bool = Field(True, description="false: oversight never changes misuse (earlier model)")
    specific_factor: Probability = assumed(
        0.05, "hazard multiplier after the operator's own confirmed case",
        "JAMA Netw Open 2020: ~2% of warned vs ~40% of unwarned repeated", 0.02, 0.3)
    specific_days: PositiveInt = assumed(365, "how long specific deterrence lasts, days",
                                         "JAMA Netw Open 2020 (repeats 'within months')", 90, 1095)
    agency_case_effect: NonNegFloat = assumed(
        0.3, "log-hazard drop for an agency's operators after a confirmed case there",
        "Bloomquist 2005; Korobow, Johnson & Axtell 2007 (peer-spread audit risk)", 0.0, 1.0)
    audit_effect: NonNegFloat = assumed(
        0.2, "log-hazard drop for an agency's operators after a DOJ audit visit",
        "perceived audit risk (Bloomquist 2005; Korobow, Johnson & Axtell 2007)", 0.0, 0.6)
    sanction_effect: NonNegFloat = assumed(0.7, "log-hazard drop after a CAC sanction of the agency",
                                           low=0.0, high=2.0)
    agency_half_life_days: PositiveFloat = assumed(180.0, "half-life of an agency's perceived risk",
                                                   low=60.0, high=730.0)
    statewide_effect: NonNegFloat = assumed(
        0.03, "log-hazard drop everywhere after a publicised case (prosecution, dismissal, sanction)",
        low=0.0, high=0.1)
    statewide_half_life_days: PositiveFloat = assumed(90.0, "half-life of statewide perceived risk",
                                                      low=30.0, high=365.0)
    retraining_probability: Probability = assumed(
        0.5, "an agency retrains its operators after a confirmed case or audit finding",
        "assumption; Chula Vista retrained after its CCW rule misunderstanding (seed 004)", 0.2, 0.9)
    retraining_delay_days: PositiveInt = assumed(30, "days from the finding to the retraining",
                                                 low=7, high=120)
    retraining_factor: Probability = assumed(
        0.6, "hazard multiplier of the agency's operators after retraining", low=0.3, high=0.9)
    retraining_days: PositiveInt = assumed(730, "how long retraining lasts, days", low=180, high=1460)


class Oversight(Strict):
    years: PositiveInt = Field(1, description="calendar years reported, from journal.start_date")
    days: PositiveInt | None = Field(
        None, description="journal only this many days from journal.start_date (a teaching run of "
        "a few weeks); the rest of the reported years is paperwork only: alert reviews, cases, "
        "the year's HDC 0010 forms, census and CAC meetings still follow. null = the whole years")
    warmup_days: NonNegInt = Field(
        180, description="simulated before journal.start_date so complaints and cases are in flight"
    )
    detection: Detection = Detection()
    investigation: Investigation = Investigation()
    reporting: Reporting = Reporting()
    follow_up: FollowUp = FollowUp()
    audits: Audits = Audits()
    cac: Cac = Cac()
    behaviour: Behaviour = Behaviour()
    automated_rows: Literal["none", "count", "rows"] = Field(
        "count", description="automated checks (CAD/LPR/MDT, no operator: never misuse, no rule reads "
        "them): 'count' draws only each day's number, for the volume figures (~15 ms of CPU a statewide "
        "day, in a background thread), with the same operator and misuse rows as 'rows'; 'rows' generates them into the journal "
        "(~2.7 million a statewide day, ~0.5 s); 'none' skips them and their draws (other operator "
        "rows, automated volume 0). true/false are read as rows/none"
    )

    @field_validator("automated_rows", mode="before")
    @classmethod
    def _automated_mode(cls, v):
        return {True: "rows", False: "none"}.get(v, v) if isinstance(v, bool) else v
