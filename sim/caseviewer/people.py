"""The people of an incident for the case viewer (from `incident_people`, recorded during the
run): its operators and victims as the page shows them, and the incident's headline."""

from __future__ import annotations

import pandas as pd

from sim.caseviewer.tables import ByIncident, RunTables, records
from sim.formatting import count, day_to_date, identifier


class People:
    """`incident_people` by incident: its operator rows and subject rows, each also by id."""

    def __init__(self, t: RunTables):
        people = t["incident_people"]
        # plain Python strings: rows are read one by one, and Arrow strings are slow at that
        text = [c for c, d in people.dtypes.items() if isinstance(d, pd.StringDtype)]
        self.people = people.astype({c: object for c in text}) if text else people
        self.by_incident = ByIncident(self.people)

    def of(self, iid: int):
        """The incident's (operator rows, subject rows, operator rows by operator id, subject
        rows by subject id), rows as named tuples."""
        people = records(self.by_incident.of(iid)) if len(self.people) else []
        ops = [r for r in people if r.person_kind == "operator"]
        subs = [r for r in people if r.person_kind == "subject"]
        return ops, subs, {int(r.operator): r for r in ops}, {int(r.subject): r for r in subs}


def operator_card(r) -> dict:
    """An operator of `incident_people` as the page shows it."""
    training = [f"trained {day_to_date(r.training_day)}",
                f"proficiency test {day_to_date(r.test_day)} (score {int(r.test_score)}%)",
                f"DMV confidentiality statement {day_to_date(r.confidentiality_day)}",
                "background check on file" if bool(r.background_check) else
                "no background check on file"]
    certified = bool(r.certified)
    status = ("certified when the incident began" if certified else
              "NOT certified when the incident began: " + (str(getattr(r, "lapses", "")) or "a lapse"))
    return dict(id=identifier(r.operator), name=str(r.name), part=str(r.part), role=str(r.role),
                user_id=str(r.user_id), agency=str(r.agency_name), ori=str(r.agency_ori),
                sex="woman" if r.sex == "F" else "man", age=int(r.age),
                certified=certified, status=status, training=training,
                hired=day_to_date(r.hire_day),
                shift=f"{int(r.shift_start):02d}:00-{int(r.shift_end):02d}:00, {r.workdays}")


def victim_cards(subs: list, rows: list[dict]) -> list[dict]:
    """The victims of an incident (from its subject rows), the most looked-up first."""
    times: dict[str, int] = {}
    for r in rows:
        if r["misuse"]:
            times[r["sid"]] = times.get(r["sid"], 0) + 1
    out = []
    for r in subs:
        if r.part != "victim":
            continue
        out.append(dict(id=identifier(r.subject), name=str(r.name),
                        sex="woman" if r.sex == "F" else "man", age=int(r.age),
                        relation=str(r.relation), address=f"{r.address}, {r.county} County",
                        lookups=times.get(identifier(r.subject), 0)))
    out.sort(key=lambda x: -x["lookups"])
    return out


def headline(label, operators, victims, n, first, last) -> str:
    """'Lone snooper: Ann Lee looked up 3 people (3 women) 12 times from ... to ....'"""
    who = operators[0]["name"] if operators else "an operator"
    if len(operators) > 1:
        who = f"{len(operators)} operators"
    women = sum(v["sex"] == "woman" for v in victims)
    whom = (f"{count(len(victims))} {'person' if len(victims) == 1 else 'people'}"
            + (f" ({women} {'woman' if women == 1 else 'women'})" if women and len(victims) > 1
               else ""))
    span = (f"on {day_to_date(first)}" if first == last
            else f"from {day_to_date(first)} to {day_to_date(last)}")
    return f"{label}: {who} looked up {whom} {count(n)} time{'s' if n != 1 else ''} {span}."
