"""Counterfactual policies for the case viewer: for the misuse rows of an incident that no
alert flagged, which rule the scenario did not enable would have caught them and at what
cost in alerts (the run's shadow detection, `sim.caseviewer.record`), and why the enabled
rules stayed silent."""

from __future__ import annotations

from sim.caseviewer.tables import RunTables
from sim.caseviewer.words import Policies
from sim.config.oversight import RULES
from sim.detection import RULE_BIT
from sim.formatting import count


class Counterfactual:
    def __init__(self, t: RunTables, policies: Policies):
        self.policies = policies
        self.shadow_rules = t["shadow_rules"]
        self.shadow_hits = h = t["shadow_hits"]
        # journal days covered by shadow detection (for the cost "over the run")
        self.journal_days = (int(self.shadow_rules["journal_days"].iloc[0])
                             if len(self.shadow_rules) else None)
        # the rules (bits) shadow detection fired on each query id
        h = h[h["query_id"].notna()] if len(h) else h
        self.shadow_bits = ({int(q): int(m) for q, m in zip(h["query_id"], h["rules"])}
                            if len(h) else {})

    def shadow(self, q: int) -> list[str]:
        """The rules not enabled that would have flagged this query."""
        bits = self.shadow_bits.get(q, 0)
        return [x for x in RULES if bits & RULE_BIT[x]]

    def missed(self, rows: list[dict], ops: list[int], first: int, last: int, missed: bool) -> dict:
        """Which policy would have caught the rows no alert flagged, and at what cost."""
        target = [r for r in rows if r["misuse"] and not r["flagged"]]
        if not target:
            return dict(applies=False, text="", options=[], why_not=[])
        n = len(target)
        options = []
        sr = self.shadow_rules
        days = self.journal_days
        span = (f"{count(days)} days of journal" if days else "the run")
        for rule in RULES:
            if rule in self.policies.enabled:
                continue
            hits = sum(rule in r["shadow"] for r in target)
            if rule == "volume_spike":
                hits = self._spike_hits(ops, first, last)
            info = sr[sr["rule"] == rule] if len(sr) else sr
            if not len(info):
                continue
            info = info.iloc[0]
            new, total, mis = int(info["new_alerts"]), int(info["alerts"]), int(info["misuse_rows"])
            if hits == 0:
                continue
            if rule == "volume_spike":
                what = f"the operator on {count(hits)} of the incident's days"
            elif n == 1:
                what = "this row"
            elif hits == n:
                what = f"all {count(n)} of these rows"
            else:
                what = f"{count(hits)} of these {count(n)} rows"
            options.append(dict(
                rule=rule, hits=hits, rows=n, new_alerts=new, alerts=total, misuse_rows=mis,
                text=(f"{rule.replace('_', ' ')} would have flagged {what}, at the cost of "
                      f"{count(new)} more alert{'s' if new != 1 else ''} over {span} "
                      f"({count(mis)} of its {count(total)} alerts on misuse rows)."),
                rule_text=self.policies.sentences[rule]))
        options.sort(key=lambda o: (-o["hits"] / max(o["rows"], 1), o["new_alerts"]))
        if not len(sr):
            text = ("This run did not record shadow detection (outputs.case_viewer: false), so it "
                    "cannot say which other rule would have caught these rows.")
        elif options:
            text = (f"{count(n)} misuse row{'s' if n != 1 else ''} of this incident raised no "
                    "alert. Rules this scenario did not enable, run over the same journal "
                    "without acting on them:")
        else:
            these = "this row: it looks" if n == 1 else f"these {count(n)} rows: they look"
            text = (f"No journal rule would have flagged {these} like ordinary work. Only a "
                    "complaint, an audit that asks about purpose, or an outside inquiry can find "
                    "such misuse.")
        return dict(applies=True, missed=missed, text=text, options=options,
                    why_not=self._why_not(target))

    def _spike_hits(self, ops: list[int], first: int, last: int) -> int:
        h = self.shadow_hits
        if not len(h):
            return 0
        s = h[h["query_id"].isna() & h["operator"].isin(ops) & (h["day"] >= first) & (h["day"] <= last)
              & ((h["rules"] & RULE_BIT["volume_spike"]) > 0)]
        return int(s["day"].nunique())

    def _why_not(self, target: list[dict]) -> list[str]:
        """Why the enabled rules stayed silent on these rows, where the data can say."""
        out = []
        rels = {r["relation"] for r in target}
        for rule in self.policies.enabled:
            if rule == "known_relation":
                known = [x for x in rels if x and x not in ("stranger", "media figure", "self")]
                if known:
                    out.append(f"known relation: the person is the operator's {', '.join(sorted(known))}, "
                               "but agencies keep only household members and some relatives on file.")
                else:
                    out.append("known relation: the people looked up are not the operator's relations.")
            elif rule == "high_profile":
                out.append("high profile: nobody looked up is on the media-figure list.")
            elif rule == "achs_noncriminal_purpose":
                achs = [r for r in target if r["key"] in ("QH", "QR")]
                if achs:
                    stated = sorted({r["purpose"] for r in achs})
                    out.append(f"ACHS non-criminal purpose: the criminal-history lookups stated "
                               f"{', '.join(stated)}, a criminal-justice purpose.")
                else:
                    out.append("ACHS non-criminal purpose: no criminal-history lookup among these rows.")
            elif rule == "repeated_subject":
                rc = self.policies.rules
                out.append(f"repeated subject: nobody was looked up {rc.get('repeat_count', 3)} times "
                           f"within {rc.get('repeat_window_days', 30)} days without a case number.")
            elif rule == "surname_or_address":
                out.append("surname or address: nobody looked up shares the operator's surname or "
                           "address.")
            elif rule == "off_shift":
                out.append("off shift: the lookups were made during the operator's shift.")
            elif rule == "achs_without_case":
                out.append("ACHS without case: no criminal-history lookup without a case number.")
            elif rule == "out_of_county_no_case":
                out.append("out of county: the people looked up live in the agency's county, or a "
                           "case number was entered.")
            elif rule == "lapsed_certification":
                out.append("lapsed certification: the operator's certification was current.")
        if self.policies.random_rate:
            out.append(f"random audit: each row had a {self.policies.random_rate:.2%} chance of being sampled; "
                       "none was.")
        return out
