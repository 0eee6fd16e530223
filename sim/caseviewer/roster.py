"""Who is who in each incident: the ``incident_people`` table the recorder
(`sim.caseviewer.record`) writes at the end of an oversight run, from the world (answer-key
side).

One row per (incident, operator): the operators whose id the incident's rows carry, then its
other actors (credential sharing: those who used the login), with their role, agency,
training, certification on the incident's first day (and what lapsed), and shift. Then one
row per (incident, subject): the victims (the people its misuse rows looked up), then the
others its operators looked up on its days, with their synthetic name, sex, age, address and
relation to the operator. Built column-wise over arrays of operators and subjects: a
statewide run has thousands of incidents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.config.world import ROLES
from sim.world import RELATION_KINDS, SHIFT_HOURS

RELATION_LABELS = {"household": "household member", "family": "relative", "ex_partner": "ex-partner",
                   "friend": "friend", "neighbour": "neighbour"}
ROLE_LABELS = {"full_access": "full-access operator",
               "less_than_full_access": "less-than-full-access operator",
               "practitioner": "practitioner (no CLETS login)",
               "administrator": "administrator (no CLETS login)"}
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OWNER = "login owner (the rows carry this id)"  # credential sharing: the parts operators play
BORROWER = "used the login (not in the journal)"

PEOPLE_COLUMNS = [
    "incident_id", "person_kind", "part", "operator", "subject", "name", "surname", "sex", "age",
    "address", "county", "relation", "high_profile", "role", "user_id", "agency_name", "agency_ori",
    "agency_county", "hire_day", "training_day", "test_day", "test_score", "confidentiality_day",
    "background_check", "certified", "lapses", "shift_start", "shift_end", "workdays"]
# the words of every workdays bitmask (bit 0 = Monday)
WORKDAY_WORDS = np.array([", ".join(DAY_NAMES[d] for d in range(7) if (m >> d) & 1)
                          for m in range(256)], dtype=object)


def _relation_words(kinds: int, media_figure: bool) -> str:
    """'relative, neighbour', 'media figure', 'stranger': a bitmask of relation kinds in words."""
    words = [RELATION_LABELS[k] for i, k in enumerate(RELATION_KINDS) if (kinds >> i) & 1]
    return ", ".join(words + (["media figure"] if media_figure else [])) or "stranger"


# [kinds bitmask, media figure]
RELATION_WORDS = np.array([[_relation_words(m, False), _relation_words(m, True)]
                           for m in range(1 << len(RELATION_KINDS))], dtype=object)


def relation_labels(world, ops: np.ndarray, subjects: np.ndarray) -> list[str]:
    """The subject's relation to the operator, in words: 'ex-partner', 'relative, neighbour',
    'self', 'media figure' or 'stranger' (from the world's relation table)."""
    s = world.subjects
    ops = np.asarray(ops, dtype=np.int64)
    subjects = np.asarray(subjects, dtype=np.int64)
    n = np.int64(len(s))
    keys, kinds = _relation_kinds(world.relations, np.unique(ops[ops >= 0]), n)
    key = np.where(ops >= 0, ops, 0) * n + subjects
    mask = np.zeros(len(key), dtype=np.int64)
    if len(keys):
        pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        found = keys[pos] == key
        mask[found] = kinds[pos[found]]
    hp = s.high_profile[subjects].astype(np.int64)
    me = np.where(ops >= 0, world.operators.subject[np.maximum(ops, 0)], -1)
    out = np.where(subjects == me, "self", RELATION_WORDS[mask, hp])
    out = np.where(ops < 0, np.where(hp == 1, "media figure", ""), out)
    return out.tolist()


def _relation_kinds(rel, ops: np.ndarray, n: np.int64) -> tuple[np.ndarray, np.ndarray]:
    """The (operator * n + subject) keys, sorted, of these operators' relations, and per key
    the bitmask of its relation kinds (the table is in CSR form, by operator)."""
    a, b = rel.ptr[ops], rel.ptr[ops + 1]
    length = b - a
    idx = np.repeat(a - np.cumsum(length) + length, length) + np.arange(int(length.sum()))
    key = rel.operator[idx].astype(np.int64) * n + rel.subject[idx]
    order = np.argsort(key, kind="stable")
    key, bit = key[order], np.left_shift(1, rel.kind[idx][order].astype(np.int64))
    if not len(key):
        return key, bit
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return key[first], np.bitwise_or.reduceat(bit, first)


def incident_people(world, incidents: pd.DataFrame, truth: pd.DataFrame,
                    misuse_journal: pd.DataFrame, journal: pd.DataFrame) -> pd.DataFrame:
    """One row per (incident, operator) and per (incident, subject looked up on its days)."""
    cols = PEOPLE_COLUMNS
    if not len(truth) or not len(incidents) or not len(misuse_journal):
        return pd.DataFrame(columns=cols)
    t = truth[["query_id", "incident_id", "day"]].merge(
        misuse_journal[["query_id", "operator", "subject"]], on="query_id", how="inner")
    t = t.assign(incident_id=t["incident_id"].astype(np.int64), operator=t["operator"].astype(np.int64),
                 subject=t["subject"].astype(np.int64))
    start = t.groupby("incident_id")["day"].min()

    # operators: those whose id the rows carry, and the other actors
    parts = incident_operators(incidents, t)
    operators = operator_rows(world, parts["incident_id"].to_numpy(), parts["operator"].to_numpy(),
                              parts["part"].tolist(), start.reindex(parts["incident_id"]).to_numpy())

    # subjects: the victims (misuse rows), then the others the operators looked up those days
    n = np.int64(len(world.subjects))
    v_iid, v_subj, v_op = _first_per_pair(*(t[c].to_numpy() for c in ("incident_id", "subject", "operator")), n)
    o_iid, o_subj, o_op = _other_lookups(t, journal, n)
    other = ~np.isin(o_iid * n + o_subj, v_iid * n + v_subj)
    iid = np.concatenate([v_iid, o_iid[other]])
    x = np.concatenate([v_subj, o_subj[other]])
    op = np.concatenate([v_op, o_op[other]])
    victim = np.arange(len(iid)) < len(v_iid)
    s = world.subjects
    first = start.reindex(iid).to_numpy()
    people = pd.DataFrame({
        "incident_id": iid, "person_kind": "subject",
        "part": np.where(victim, "victim", "other lookup").astype(object), "operator": op, "subject": x,
        "name": world.subject_names(x).astype(object), "surname": world.last_names[s.last[x]].astype(object),
        "sex": np.where(s.sex[x] == 0, "F", "M"), "age": ((first - s.birth_day[x]) // 365.25).astype(int),
        "address": _addresses(world, x).astype(object),
        "county": np.asarray(world.counties, dtype=object)[s.county[x]],
        "relation": relation_labels(world, op, x),
        "high_profile": s.high_profile[x]})
    out = pd.concat([operators, people.reindex(columns=cols)], ignore_index=True)
    # by incident: its operators, then its victims, then the others (each in the order above)
    n_ops = len(operators)
    order = np.lexsort((np.r_[np.ones(n_ops, dtype=bool), ~victim],
                        np.r_[np.zeros(n_ops, dtype=bool), np.ones(len(iid), dtype=bool)],
                        np.r_[parts["incident_id"].to_numpy(), iid]))
    return out.take(order).reset_index(drop=True)


def _first_per_pair(iid: np.ndarray, subject: np.ndarray, op: np.ndarray,
                    n: np.int64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each (incident, subject) pair once, sorted, with the operator of its first row."""
    key = iid.astype(np.int64) * n + subject
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = order[np.flatnonzero(np.r_[True, key[1:] != key[:-1]])] if len(key) else order
    return iid[first].astype(np.int64), subject[first].astype(np.int64), op[first].astype(np.int64)


def _other_lookups(t: pd.DataFrame, journal: pd.DataFrame,
                   n: np.int64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The people an incident's operators looked up on the incident's days (every journal row
    of an (operator, day) of its rows), each (incident, subject) once with the first operator
    who did, in the order of the incident's rows."""
    none = np.zeros(0, dtype=np.int64)
    if not len(journal):
        return none, none, none
    days = t[["incident_id", "operator", "day"]].drop_duplicates()
    d_iid, d_op, d_day = (days[c].to_numpy(dtype=np.int64) for c in ("incident_id", "operator", "day"))
    j_op = journal["operator"].to_numpy(dtype=np.float64, na_value=np.nan)
    j_op = np.where(np.isnan(j_op), -1, j_op).astype(np.int64)
    j_day = journal["time"].to_numpy().astype("datetime64[D]").astype(np.int64)
    j_key = j_op * (1 << 20) + j_day
    by_key = np.argsort(j_key, kind="stable")
    j_key = j_key[by_key]
    d_key = d_op * (1 << 20) + d_day
    lo, hi = np.searchsorted(j_key, d_key, "left"), np.searchsorted(j_key, d_key, "right")
    count = hi - lo
    row = np.repeat(np.arange(len(d_key)), count)  # the (incident, operator, day) of each match
    match = by_key[np.repeat(lo - np.cumsum(count) + count, count) + np.arange(int(count.sum()))]
    subject = journal["subject"].to_numpy(dtype=np.int64)[match]
    return _first_per_pair(d_iid[row], subject, d_op[row], n)


def incident_operators(incidents: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """(incident_id, operator, part) of each incident's operators, by incident: first those its
    rows carry (in the order the rows name them), then its other actors (in the incident's
    order). Credential sharing: the rows carry the login owner's id (the first actor); the
    others used the login."""
    rows = t[["incident_id", "operator"]].drop_duplicates()
    ids = np.unique(rows["incident_id"].to_numpy())
    inc = incidents[incidents["incident_id"].astype(np.int64).isin(ids)]
    inc_id = inc["incident_id"].to_numpy(dtype=np.int64)
    sharing = (inc["archetype"].astype(str) == "credential_sharing").to_numpy()
    row_sharing = np.isin(rows["incident_id"].to_numpy(), inc_id[sharing])
    n = np.array([len(a) for a in inc["actors"]], dtype=np.int64)
    actor = np.array([int(a) for acts in inc["actors"] for a in acts], dtype=np.int64)
    position = np.arange(len(actor)) - np.repeat(np.cumsum(n) - n, n)
    actor_sharing = np.repeat(sharing, n)
    keep = ~(actor_sharing & (position == 0))  # the owner: already among the rows' operators
    both = pd.DataFrame({
        "incident_id": np.concatenate([rows["incident_id"].to_numpy(), np.repeat(inc_id, n)[keep]]),
        "operator": np.concatenate([rows["operator"].to_numpy(), actor[keep]]),
        "part": np.concatenate([np.where(row_sharing, OWNER, "operator"),
                                np.where(actor_sharing[keep], BORROWER, "operator")]).astype(object)})
    order = np.argsort(both["incident_id"].to_numpy(), kind="stable")  # rows' operators first
    return both.iloc[order].drop_duplicates(["incident_id", "operator"]).reset_index(drop=True)


def operator_rows(world, iid: np.ndarray, o: np.ndarray, part: list[str],
                  start: np.ndarray) -> pd.DataFrame:
    """The operators' rows of `incident_people`: who they are, their agency, training and
    certification on the incident's first day (`start`), and their shift."""
    if not len(o):
        return pd.DataFrame(columns=PEOPLE_COLUMNS)
    ops, s, ag = world.operators, world.subjects, world.agencies
    o = np.asarray(o, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    me = ops.subject[o].astype(np.int64)
    a = ops.agency[o].astype(np.int64)
    shift = ops.shift_start[o].astype(np.int64)
    certified = ops.certified_on(start, o).astype(bool)
    lapses = np.full(len(o), "", dtype=object)
    for k in np.flatnonzero(~certified):
        lapses[k] = lapse_words(ops, int(o[k]), int(start[k]))

    def agency(field):
        return [str(v) for v in ag[field].to_numpy()[a]]

    n = len(o)
    cols = dict(
        incident_id=np.asarray(iid, dtype=np.int64), person_kind=["operator"] * n, part=list(part),
        operator=o, subject=me, name=world.subject_names(me).tolist(),
        surname=world.last_names[s.last[me]].tolist(), sex=np.where(s.sex[me] == 0, "F", "M").tolist(),
        age=((start - s.birth_day[me]) // 365.25).astype(np.int64), address=_addresses(world, me).tolist(),
        county=np.asarray(world.counties, dtype=object)[s.county[me]].tolist(), relation=[""] * n,
        high_profile=s.high_profile[me].astype(bool),
        role=np.array([ROLE_LABELS[r] for r in ROLES], dtype=object)[ops.role[o]].tolist(),
        user_id=ops.user_ids(o).tolist(), agency_name=agency("name"), agency_ori=agency("ori"),
        agency_county=agency("county"), hire_day=ops.hire_day[o].astype(np.int64),
        training_day=ops.training_day[o].astype(np.int64), test_day=ops.test_day[o].astype(np.int64),
        test_score=ops.test_score[o].astype(np.int64),
        confidentiality_day=ops.confidentiality_day[o].astype(np.int64),
        background_check=ops.background_check[o].astype(bool), certified=certified,
        lapses=lapses.tolist(), shift_start=shift, shift_end=(shift + SHIFT_HOURS) % 24,
        workdays=WORKDAY_WORDS[ops.workdays[o]].tolist())
    return pd.DataFrame(cols, columns=PEOPLE_COLUMNS)


def _addresses(world, x: np.ndarray) -> np.ndarray:
    s = world.subjects
    return np.char.add(np.char.add(s.house_number[x].astype(str), " "), world.streets[s.street[x]])


def lapse_words(ops, o: int, day: int) -> str:
    """What made the operator uncertified on `day` (the rules of `Operators.certified_on`)."""
    from sim.formatting import day_to_date

    out = []
    if ops.training_day[o] > day:
        out.append(f"not yet trained (trained {day_to_date(ops.training_day[o])})")
    if day - ops.test_day[o] > 730 and not ops.renews_test[o]:
        out.append(f"biennial proficiency test lapsed (last {day_to_date(ops.test_day[o])})")
    if ops.test_score[o] < 70:
        out.append(f"failed the proficiency test (score {int(ops.test_score[o])}%)")
    if day - ops.confidentiality_day[o] > 365 and not ops.renews_confidentiality[o]:
        out.append(f"annual DMV confidentiality statement lapsed (last "
                   f"{day_to_date(ops.confidentiality_day[o])})")
    if not ops.background_check[o]:
        out.append("no background check on file")
    return "; ".join(out)
