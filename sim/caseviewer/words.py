"""The case viewer's words: kinds of misuse, message keys, alert kinds, outcomes, each
policy in one sentence a trainer can read out, and values (times, terminals, codes) as text."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sim.catalogue import MESSAGE_KEYS, MISUSE_CATEGORIES

ARCHETYPE_LABELS = {
    "occasional": ("Occasional lookup", "Many users make a few questionable lookups each "
                   "(Minnesota Legislative Auditor, 2013): self, family, friends, neighbours."),
    "lone_snooper": ("Lone snooper", "One man looks up women he finds attractive, over weeks, "
                     "often off shift (Glendale)."),
    "misunderstood_rule": ("Misunderstood rule", "A unit runs concealed-carry (CCW) applicants "
                           "through criminal history, believing it is allowed (Chula Vista)."),
    "mass_rule": ("Mass rule misuse", "A sheriff's office runs CCW applicants through criminal "
                  "history as routine: the misunderstood rule at scale (2023)."),
    "serious_case": ("Serious case", "An officer charged with stalking an ex-partner; the "
                     "internal-affairs inquiry finds an unrelated CLETS lookup (Carlsbad)."),
    "agency_purpose": ("Agency purpose misuse", "A federal immigration component runs DMV "
                       "lookups for immigration enforcement, banned since February 2019 (DHS/ICE)."),
    "credential_sharing": ("Credential sharing", "An operator lends a login: the rows carry the "
                           "owner's id, but another person's shift and terminal."),
    "curiosity_burst": ("Curiosity burst", "News about a media figure; several operators look "
                        "them up within days."),
    "data_for_hire": ("Data for hire", "An operator sells people's addresses to a third party "
                      "(personal gain)."),
}
CATEGORY_TEXT = {c.name: c.description for c in MISUSE_CATEGORIES}
KEY_TEXT = {k.key: k.description for k in MESSAGE_KEYS}
KIND_LABELS = {"rule": "rule", "random_audit": "random audit", "anomaly": "anomaly score",
               "complaint": "complaint"}
OUTCOME_WORDS = {"counselling": "counselling", "suspension": "suspension", "reprimand": "reprimand",
                 "resignation": "resigned", "termination": "terminated", "no_action": "no action taken",
                 "no_misuse": "no misuse found"}
SOURCE_WORDS = {"rule": "a rule alert", "random_audit": "a random-audit alert",
                "anomaly": "an anomaly-score alert", "complaint": "a complaint",
                "audit": "a DOJ audit finding", "internal_affairs": "an internal-affairs inquiry "
                "opened for a reason outside CLETS"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rule_sentences(scenario: dict) -> dict[str, str]:
    """Each policy in one sentence a trainer can read out (with this run's settings)."""
    det = (scenario.get("oversight") or {}).get("detection") or {}
    r = det.get("rules") or {}
    rate = det.get("random_audit_rate", 0) or 0
    an = det.get("anomaly") or {}
    return {
        "surname_or_address": "fires when the person looked up shares the operator's surname or "
                              "home address: a relative, a partner, a housemate.",
        "known_relation": "fires when the person looked up is on the agency's file as the "
                          "operator's household member or relative (agencies know only some).",
        "high_profile": "fires when the person looked up is on the state's list of media figures.",
        "achs_without_case": "fires on a criminal-history lookup (ACHS: QH, QR) with no case or "
                             "call number entered.",
        "achs_noncriminal_purpose": "fires on a criminal-history lookup (ACHS) that states a "
                                    "licensing or employment purpose: criminal history is for "
                                    "criminal-justice purposes only.",
        "out_of_county_no_case": "fires when the person looked up lives outside the agency's "
                                 "county and no case number was entered.",
        "off_shift": "fires on a query made outside the operator's scheduled shift.",
        "lapsed_certification": "fires on a query by an operator whose training, biennial "
                                "proficiency test or annual DMV confidentiality statement has "
                                "lapsed.",
        "volume_spike": f"fires when an operator's queries in a day exceed "
                        f"{r.get('spike_factor', 4.0):g} times their running average (and at "
                        f"least {r.get('spike_min', 12)}).",
        "repeated_subject": f"fires on the {ordinal(int(r.get('repeat_count', 3)))} lookup of the "
                            f"same person by the same operator within "
                            f"{r.get('repeat_window_days', 30)} days, none with a case number.",
        "random_audit": f"samples {rate:.2%} of all operator queries at random for review."
        if rate else "samples a share of all operator queries at random for review.",
        "anomaly": f"monthly: an operator whose mix of queries is far from their peers' "
                   f"(summed robust z-scores above {an.get('threshold', 8.0):g}) is reviewed.",
        "complaint": "a person who learns of a lookup complains; the agency reviews the complaint.",
    }


@dataclass
class Policies:
    """The run's detection settings: the rules it enabled (and their parameters), its random
    audit rate, and each policy in words."""

    enabled: list[str]
    rules: dict
    random_rate: float
    sentences: dict[str, str]

    @classmethod
    def of(cls, scenario: dict) -> Policies:
        det = (scenario.get("oversight") or {}).get("detection") or {}
        return cls(enabled=list((det.get("rules") or {}).get("enabled") or []),
                   rules=det.get("rules") or {}, random_rate=float(det.get("random_audit_rate") or 0),
                   sentences=rule_sentences(scenario))


# ---------------------------------------------------------------------- values as text


def as_int(v, default: int = -1) -> int:
    """An integer, or `default` when missing."""
    try:
        if v is None or pd.isna(v):
            return default
    except (TypeError, ValueError):
        pass
    return int(v)


def hhmm(t: pd.Timestamp) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def terminal_words(name, ori: str) -> str:
    """'mdt:CA2600000:3' -> 'MDT 3' (the agency's own), or 'terminal 2 (CA0DC0000)'."""
    parts = str(name).split(":")
    if len(parts) != 3:
        return str(name)
    kind = "MDT" if parts[0] == "mdt" else "terminal"
    return f"{kind} {parts[2]}" + ("" if parts[1] == str(ori) else f" ({parts[1]})")


def code_words(v) -> str:
    """'traffic_stop' -> 'traffic stop' ('' when missing)."""
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v).replace("_", " ")


def year_start(year: int) -> int:
    """1 January of `year`, in days since 1970."""
    return (pd.Timestamp(f"{year}-01-01") - pd.Timestamp("1970-01-01")).days
