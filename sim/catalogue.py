"""Domain catalogue: CLETS message keys, stated purposes, misuse categories and archetypes.

Pure data, imported by the config (for validation) and by the generators. Misuse
categories carry the source that names them: the DOJ bulletin 18-07-CJIS (seed 000),
the Orange County Probation policy (seed 001), the Sacramento PD roll-call bulletin
(seed 002), the legal explainer (seed 003) and the EFF letter to the CAC (seed 004).
"""

from __future__ import annotations

from dataclasses import dataclass

# the eight databases CLETS reaches (defined here, not in the config: the catalogue imports
# nothing from the project, so any module can import it first)
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


@dataclass(frozen=True)
class MessageKey:
    key: str
    database: str
    update: bool  # update functions: full-access operators only
    vehicle: bool  # keyed on a vehicle (plate/VIN) rather than a person
    description: str


MESSAGE_KEYS: tuple[MessageKey, ...] = (
    MessageKey("DL", "DMV", False, False, "DMV driver licence record"),
    MessageKey("RV", "DMV", False, True, "DMV vehicle registration by plate"),
    MessageKey("QW", "wanted_persons", False, False, "wanted persons (CA and NCIC) by name/DOB"),
    MessageKey("QV", "stolen_vehicles", False, True, "stolen vehicle system by plate/VIN"),
    MessageKey("ZW", "NCIC", False, False, "NCIC person query (wanted, missing, protection orders)"),
    MessageKey("QH", "ACHS", False, False, "ACHS criminal history summary (CORI index)"),
    MessageKey("QR", "ACHS", False, False, "ACHS full criminal history record request"),
    MessageKey("IQ", "Nlets", False, False, "Nlets interstate criminal history / out-of-state driver"),
    MessageKey("QG", "firearms", False, False, "Automated Firearms System: gun by serial"),
    MessageKey("RO", "restraining_orders", False, False, "restraining and protective orders (CARPOS)"),
    MessageKey("EW", "wanted_persons", True, False, "enter a wanted person"),
    MessageKey("EV", "stolen_vehicles", True, True, "enter a stolen vehicle"),
)
KEY_NAMES = tuple(k.key for k in MESSAGE_KEYS)
KEY_DATABASE = tuple(DATABASES.index(k.database) for k in MESSAGE_KEYS)
ACHS_KEYS = tuple(k.key for k in MESSAGE_KEYS if k.database == "ACHS")

# The "right to know" an operator enters on an ACHS inquiry: the SacPD bulletin (seed 002)
# requires it, with authorized purpose, operator ID and requestor ID, on every ACHS inquiry
# (a case/call number is only recommended). The journal's `right_to_know` column: one of
# these authorities, or null when none was entered.
RIGHT_TO_KNOW = (
    "PC 11105",  # criminal-justice agency's authority to receive state criminal history
    "PC 26150",  # the sheriff's CCW licensing authority: cited by the misunderstood rule
)

PURPOSES = (
    "investigation",
    "traffic_stop",
    "warrant_service",
    "case_followup",
    "booking",
    "probation_supervision",
    "court_proceeding",
    "record_update",
    "automated",  # CAD/LPR/MDT system checks, no human operator
    "licensing",  # stated by operators who believe ACHS may be used for permits (it may not)
    "employment",
)


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    sources: str


MISUSE_CATEGORIES: tuple[Category, ...] = (
    Category("self_lookup", "querying yourself", "000, 001, 002"),
    Category("family_lookup", "querying a family member", "000, 001, 002"),
    Category("friend_lookup", "querying a friend", "000, 001, 002"),
    Category("ex_partner_lookup", "querying a former significant other or spouse", "002"),
    Category("giving_data_to_others", "providing CLETS information to another officer, person, agency or company for unauthorized purposes", "000, 001"),
    Category("sharing_credentials", "sharing user IDs or passwords", "000, 001"),
    Category("allowing_login_use", "logging in and letting others use your authorized access", "000, 001"),
    Category("achs_licensing", "ACHS queried for licensing, employment or certification (e.g. CCW permits)", "000, 001, 004 (Chula Vista)"),
    Category("firearm_prepurchase", "querying a firearm to see if it is stolen before buying it", "000, 001"),
    Category("dmv_personal_lookup", "DMV address, registration or insurance lookups for personal reasons", "000, 001, 002, 004 (Glendale)"),
    Category("high_profile_lookup", "looking up high-profile people in the media", "000, 001, 002"),
    Category("immigration_enforcement", "using non-criminal-history data for immigration enforcement", "001, 004 (DHS/ICE)"),
    Category("personal_gain", "looking up records for personal gain", "002, 003"),
    Category("colleague_request_unverified", "looking up for another employee without verifying need and right to know", "002"),
    Category("out_of_county_no_action", "out-of-county lookups with no local law-enforcement action", "002"),
    Category("screen_viewing_by_nonusers", "letting non-users view the screen or printouts", "001"),
)
CATEGORY_NAMES = tuple(c.name for c in MISUSE_CATEGORIES)

# the answer key's columns: never in the journal, refused by detection
ANSWER_KEY_FIELDS = ("is_misuse", "category", "archetype", "incident_id")
# the journal's columns (sim.journal.JOURNAL_SCHEMA): the only ones detection accepts, so a
# renamed or nested answer-key column (x_is_misuse, IS_MISUSE, a struct) is refused too
JOURNAL_COLUMNS = ("query_id", "time", "operator", "requestor", "ori", "terminal", "device_kind", "key",
                   "database", "subject", "purpose", "case_number", "right_to_know")

ARCHETYPES = (
    "occasional",  # Minnesota audit: many users, a few questionable lookups each; a few make many
    "lone_snooper",  # Glendale: one employee, 15-25 lookups of women
    "misunderstood_rule",  # Chula Vista: a unit runs CCW applicants through ACHS (38 violations)
    "mass_rule",  # the 2023 sheriff's office: thousands of CCW-applicant checks
    "serious_case",  # Carlsbad: charged with stalking; IA then finds unrelated lookups
    "agency_purpose",  # DHS/ICE: immigration lookups of DMV data by an agency
    "credential_sharing",  # an operator lends a login; others query under it
    "curiosity_burst",  # news about a media figure; many operators look them up
    "data_for_hire",  # addresses sold to a third party (personal gain, giving data to others)
)


# ----------------------------------------------------------------------------- fan-out
@dataclass(frozen=True)
class FanOut:
    """The databases one inquiry of a message key touches at the hub (`network.fan_out`).

    Each database answers separately; ``out_of_state`` adds Nlets when the subject (person
    or plate) is from another state (share: ``network.out_of_state_share``)."""

    key: str
    databases: tuple[str, ...]
    out_of_state: bool
    basis: str


# Sources: issue 12's description of CLETS routing ("a person inquiry -> state wanted persons +
# NCIC (+ Nlets when out-of-state); a vehicle inquiry -> DMV + stolen vehicles + NCIC"); the
# key descriptions above (QW: "wanted persons (CA and NCIC)"); NCIC's Gun File for serial
# checks. The rest is an assumption, stated per key. Update keys (EW, EV) enter one record
# and get one acknowledgement: no fan-out (the state system forwards entries to NCIC itself).
FAN_OUT: tuple[FanOut, ...] = (
    FanOut("DL", ("DMV",), True, "assumption: DMV licence record; an out-of-state licence is "
           "asked of its state through Nlets"),
    FanOut("RV", ("DMV", "stolen_vehicles", "NCIC"), True, "issue 12: a vehicle inquiry -> DMV + "
           "stolen vehicles + NCIC (+ Nlets for an out-of-state plate: assumption)"),
    FanOut("QW", ("wanted_persons", "NCIC"), True, "issue 12: a person inquiry -> state wanted "
           "persons + NCIC (+ Nlets when out-of-state)"),
    FanOut("QV", ("stolen_vehicles", "DMV", "NCIC"), True, "issue 12: a vehicle inquiry -> DMV + "
           "stolen vehicles + NCIC (+ Nlets for an out-of-state plate: assumption)"),
    FanOut("ZW", ("NCIC",), False, "assumption: an NCIC person query goes to NCIC only"),
    FanOut("QH", ("ACHS",), False, "assumption: the CA criminal-history index only (interstate "
           "records are the IQ key)"),
    FanOut("QR", ("ACHS",), False, "assumption: the CA criminal-history record only"),
    FanOut("IQ", ("Nlets",), False, "the key is the interstate query itself"),
    FanOut("QG", ("firearms", "NCIC"), False, "assumption: the Automated Firearms System and "
           "NCIC's Gun File"),
    FanOut("RO", ("restraining_orders",), False, "assumption: CARPOS only"),
    FanOut("EW", ("wanted_persons",), False, "update: one entry, one acknowledgement"),
    FanOut("EV", ("stolen_vehicles",), False, "update: one entry, one acknowledgement"),
)
assert tuple(f.key for f in FAN_OUT) == KEY_NAMES  # one row per message key, same order
# the primary database of each key (KEY_DATABASE) comes first in its fan-out
assert all(DATABASES.index(f.databases[0]) == d for f, d in zip(FAN_OUT, KEY_DATABASE))

# Share of device traffic keyed by a person (the rest are automated checks: CAD, licence-plate
# readers, MDT auto-queries): ~100,000 operator queries of ~2.8 million transactions a day
# (docs/journal.md). Weights the journal's key mixes into the network's default key mix.
OPERATOR_TRAFFIC_SHARE = 0.036
