"""The trainer's case book inside the report: a few incidents walked through.

Built from the case viewer's data (`sim.caseviewer.data`), so the report and ``cases.html``
tell the same story in the same words: operators and victims by their synthetic names,
the flagged rows first, why each alert fired, the wait in the review queue, the
investigation, and what reached the agency's HDC 0010 form.
"""

from __future__ import annotations

import pandas as pd

from sim.caseviewer.data import RunTables, build_cases
from sim.catalogue import ARCHETYPES
from sim.report.common import Section, html_table
from sim.results import RunResults

SHOWN_ROWS = 12



def casebook(r: RunResults, per_archetype: int = 2) -> Section:
    """Per kind of misuse, one incident flagged by an alert and one missed (where the run has
    them): its rows, what fired and why, the case, and the form."""
    sec = Section("casebook", "Trainer case book",
                  "For each kind of misuse, one incident an alert flagged and one that detection "
                  "missed (where the run has them). Words are precise: flagged by an alert (a rule, "
                  "a random audit or a complaint raised an alert on one of its rows), investigated "
                  "(a case was opened on the operator), missed (no alert on any of its rows). The "
                  "case viewer (clets cases RUN_DIR) walks through every incident row by row.")
    if "truth" not in r or "misuse_journal" not in r or not len(r["truth"]):
        return sec
    # a small run: every incident; a statewide one: one flagged and one missed per kind
    data = build_cases(RunTables(r), max_incidents=2 * len(ARCHETYPES))
    by_kind: dict[str, list[dict]] = {}
    for c in data["incidents"]:
        by_kind.setdefault(c["archetype"], []).append(c)
    for cases in by_kind.values():
        picks = ([c for c in cases if c["detection"] == "flagged by an alert"][:1]
                 + [c for c in cases if c["detection"] == "missed"][:1])[:per_archetype]
        for c in picks:
            sec.cases.append(_case(c))
    return sec


def _case(c: dict) -> dict:
    ops = c["operators"]
    names = ", ".join(f"{o['name']} ({o['role']}; {o['status']})" for o in ops[:3])
    if len(ops) > 3:
        names += f" and {len(ops) - 3} more"
    victims = ", ".join(f"{v['name']} ({v['sex']}, {v['relation']}, {v['lookups']}x)"
                        for v in c["victims"][:5])
    if len(c["victims"]) > 5:
        victims += f" and {len(c['victims']) - 5} more"
    story = (f"{c['headline']} {c['story']} Operator{'s' if len(ops) > 1 else ''}: {names}, "
             f"{c['agency']}. Victims: {victims or 'none recorded'}.")
    rows = pd.DataFrame(c["rows"])
    if len(rows):
        rows = rows[rows["misuse"] | rows["flagged"]].copy()
        rows["alert"] = [("; ".join(rs) if rs else "") for rs in rows["reasons"]]
        rows["misuse row"] = rows["misuse"].map({True: "yes", False: "no (lawful)"})
        rows = rows.sort_values(["flagged", "date", "time"], ascending=[False, True, True])
        rows = rows.rename(columns={"q": "query_id", "op": "operator", "subject": "person looked up",
                                    "case": "case number"})
        rows = rows[["query_id", "date", "time", "operator", "terminal", "key", "purpose",
                     "case number", "person looked up", "relation", "misuse row", "alert"]]
    flagged = [a for a in c["alerts"] if a["row"] is not None and c["rows"][a["row"]]["misuse"]]
    if flagged:
        a = flagged[0]
        detection = (f"flagged by an alert: {c['n_flagged_misuse']} of its {c['n_misuse']} misuse "
                     f"rows raised alerts. First: alert {a['id']} ({a['title']}): "
                     f"{'; '.join(a['reasons'])}; {a['queue']}.")
    else:
        detection = "missed: no rule, random audit or complaint flagged its rows."
        opts = c["missed"]["options"] if c["missed"]["applies"] else []
        if opts:
            detection += " " + opts[0]["text"]
    if c["cases"]:
        k = c["cases"][0]
        investigation = (f"investigated: case {k['case_id']}, {k['link']}, opened {k['opened']}"
                         + (f", closed {k['closed']}" if k["closed"] else "")
                         + f"; {k['finding']}" + (f", outcome: {k['outcome']}" if k["outcome"] else "")
                         + (f"; referred for prosecution under {k['referral']}" if k["referral"] else "")
                         + ".")
    else:
        investigation = "no investigation was opened."
    heading = (f"Incident {c['id']} — {c['label']}: {c['detection']}"
               + (", investigated" if c["cases"] else ""))
    table = html_table(rows, max_rows=SHOWN_ROWS) if len(rows) else "<p>No journal rows.</p>"
    note = ("<p class=\"meta\">Flagged rows first, then the other misuse rows; the case viewer "
            "shows every row of the operator's days.</p>")
    return dict(archetype=c["archetype"], heading=heading, story=story, rows=note + table,
                detection=detection, investigation=investigation, report=c["form"]["text"])
