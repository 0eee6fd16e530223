"""What the case viewer needs, recorded during an oversight run (answer-key side).

The run directory does not hold the synthetic world, and the oversight loop keeps only the
misuse rows of the journal. For each incident the viewer needs more, so the loop hands
this recorder every journal day:

* ``incident_journal``: every journal row (lawful and misuse) of an operator on a day on
  which that operator has a potential misuse row: the operator's working day around each
  lookup, not the statewide journal (bounded by the number of misuse rows, and capped);
* shadow detection (only with ``outputs.case_viewer``): each rule the scenario did not
  enable runs over the same rows with its own state, and nothing acts on its alerts.
  ``shadow_rules``: per rule, the alerts it would have raised over the journal, how many of
  them would be new (no enabled rule flagged the row) and how many fall on misuse rows;
  ``shadow_hits``: its alerts on the incident journal's rows;
* ``incident_people`` (at the end): per incident, its operators (role, agency, training and
  certification dates, shift) and the subjects of its rows (synthetic name, sex, age,
  address, relation to the operator from the world's relation table, or "media figure",
  "self", "stranger").

Detection stays blind: the shadow detector is an ordinary `Detector` handed journal rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.oversight import RULES
from sim.config.world import ROLES
from sim.detection import RULE_BIT, Detector
from sim.traffic import DAY
from sim.world import RELATION_KINDS, SHIFT_HOURS

MAX_INCIDENT_ROWS = 2_000_000  # a statewide run keeps ~100,000; beyond this, stop keeping rows
RELATION_LABELS = {"household": "household member", "family": "relative", "ex_partner": "ex-partner",
                   "friend": "friend", "neighbour": "neighbour"}
ROLE_LABELS = {"full_access": "full-access operator",
               "less_than_full_access": "less-than-full-access operator",
               "practitioner": "practitioner (no CLETS login)",
               "administrator": "administrator (no CLETS login)"}
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CaseRecorder:
    def __init__(self, model):
        self.m = model
        w = model.world
        rows = model.gen.misuse.rows
        self.n_ops = n_ops = np.int64(max(len(w.operators), 1))
        day = (rows["time"] // DAY).astype(np.int64)
        # (day, operator) of every potential misuse row: those operator-days are kept
        self.keys = np.unique(day * n_ops + rows["operator"].astype(np.int64))
        self.parts: list[pa.Table] = []
        self.n_rows = 0
        self.truncated = False
        self.shadow: Detector | None = None
        self.shadow_rules: list[str] = []
        cfg = model.cfg.detection
        if model.scenario.outputs.case_viewer:
            self.shadow_rules = [r for r in RULES if r not in set(cfg.rules.enabled)]
        if self.shadow_rules:
            shadow_cfg = cfg.model_copy(update={
                "rules": cfg.rules.model_copy(update={"enabled": self.shadow_rules}),
                "random_audit_rate": 0.0,
                "anomaly": cfg.anomaly.model_copy(update={"enabled": False})})
            self.shadow = Detector(shadow_cfg, model.registry, model.streams.fresh("detection.shadow"))
        self.counts = {r: np.zeros(3, dtype=np.int64) for r in self.shadow_rules}
        self.hits: list[pd.DataFrame] = []
        self.journal_days = 0

    # ------------------------------------------------------------------ each journal day
    def on_day(self, k: int, day: int, chunk, rows, alerts: pd.DataFrame) -> None:
        lo, hi = np.searchsorted(self.keys, [day * self.n_ops, (day + 1) * self.n_ops])
        ops_today = (self.keys[lo:hi] - day * self.n_ops).astype(np.int32)
        kept_q = np.zeros(0, dtype=np.int64)
        if len(ops_today) and not self.truncated:
            journal = chunk.journal
            mask = pc.is_in(journal.column("operator"), value_set=pa.array(ops_today, pa.int32()))
            kept = journal.filter(pc.fill_null(mask, False))
            if self.n_rows + kept.num_rows > MAX_INCIDENT_ROWS:
                self.truncated = True
            else:
                self.parts.append(kept)
                self.n_rows += kept.num_rows
                kept_q = kept.column("query_id").to_numpy()
        self.journal_days += 1
        if self.shadow is None:
            return
        sa = self.shadow.run_rows(rows, day)
        if sa.empty:
            return
        q = sa["query_id"].to_numpy(dtype=np.float64, na_value=np.nan)
        mask = sa["rules"].to_numpy()
        is_rule = (alerts["kind"] == "rule").to_numpy() if len(alerts) else np.zeros(0, bool)
        real_q = alerts["query_id"].to_numpy(dtype=np.float64, na_value=np.nan)[is_rule]
        new = ~np.isin(q, real_q[~np.isnan(real_q)])
        misuse_q = chunk.truth.column("query_id").to_numpy() if chunk.truth.num_rows else []
        on_misuse = np.isin(q, np.asarray(misuse_q, dtype=np.float64))
        for rule in self.shadow_rules:
            fired = (mask & RULE_BIT[rule]) > 0
            c = self.counts[rule]
            c[0] += int(fired.sum())
            c[1] += int((fired & new).sum())
            c[2] += int((fired & on_misuse).sum())
        op = sa["operator"].to_numpy()
        hit = np.isin(q, kept_q.astype(np.float64)) | (np.isnan(q) & np.isin(op, ops_today))
        if hit.any():
            self.hits.append(pd.DataFrame({
                "day": np.full(int(hit.sum()), day, dtype=np.int32),
                "query_id": pd.Series(q[hit]).astype("Int64").to_numpy(),
                "operator": op[hit].astype(np.int32), "rules": mask[hit].astype(np.int64)}))

    # ------------------------------------------------------------------ at the end
    def tables(self, incidents: pd.DataFrame, truth: pd.DataFrame,
               misuse_journal: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """incident_journal, incident_people, shadow_rules and shadow_hits as DataFrames."""
        journal = (pa.concat_tables(self.parts).to_pandas() if self.parts
                   else misuse_journal.iloc[:0].copy())
        shadow = pd.DataFrame(
            [dict(rule=r, alerts=int(c[0]), new_alerts=int(c[1]), misuse_rows=int(c[2]),
                  journal_days=self.journal_days, incident_rows_truncated=self.truncated)
             for r, c in self.counts.items()],
            columns=["rule", "alerts", "new_alerts", "misuse_rows", "journal_days",
                     "incident_rows_truncated"])
        hits = (pd.concat(self.hits, ignore_index=True) if self.hits else pd.DataFrame({
            "day": pd.Series(dtype=np.int32), "query_id": pd.Series(dtype="Int64"),
            "operator": pd.Series(dtype=np.int32), "rules": pd.Series(dtype=np.int64)}))
        people = incident_people(self.m.world, incidents, truth, misuse_journal, journal)
        return dict(incident_journal=journal, incident_people=people, shadow_rules=shadow,
                    shadow_hits=hits)


# ---------------------------------------------------------------------- people


def relation_labels(world, ops: np.ndarray, subjects: np.ndarray) -> list[str]:
    """The subject's relation to the operator, in words: 'ex-partner', 'relative, neighbour',
    'self', 'media figure' or 'stranger' (from the world's relation table)."""
    rel, s = world.relations, world.subjects
    ops = np.asarray(ops, dtype=np.int64)
    subjects = np.asarray(subjects, dtype=np.int64)
    n = np.int64(len(s))
    rel_key = rel.operator.astype(np.int64) * n + rel.subject  # sorted by operator, not subject
    order = np.argsort(rel_key, kind="stable")
    rel_key, rel_kind = rel_key[order], rel.kind[order]
    key = np.where(ops >= 0, ops, 0) * n + subjects
    lo, hi = np.searchsorted(rel_key, key, "left"), np.searchsorted(rel_key, key, "right")
    me = np.where(ops >= 0, world.operators.subject[np.maximum(ops, 0)], -1)
    out = []
    for k in range(len(ops)):
        if ops[k] < 0:
            out.append("media figure" if s.high_profile[subjects[k]] else "")
            continue
        if subjects[k] == me[k]:
            out.append("self")
            continue
        kinds = sorted(set(rel_kind[lo[k]:hi[k]].tolist()))
        labels = [RELATION_LABELS[RELATION_KINDS[x]] for x in kinds]
        if s.high_profile[subjects[k]]:
            labels.append("media figure")
        out.append(", ".join(labels) or "stranger")
    return out


def incident_people(world, incidents: pd.DataFrame, truth: pd.DataFrame,
                    misuse_journal: pd.DataFrame, journal: pd.DataFrame) -> pd.DataFrame:
    """One row per (incident, operator) and per (incident, subject looked up on its days)."""
    cols = ["incident_id", "person_kind", "part", "operator", "subject", "name", "surname", "sex",
            "age", "address", "county", "relation", "high_profile", "role", "user_id",
            "agency_name", "agency_ori", "agency_county", "hire_day", "training_day", "test_day",
            "test_score", "confidentiality_day", "background_check", "certified", "lapses",
            "shift_start", "shift_end", "workdays"]
    if not len(truth) or not len(incidents) or not len(misuse_journal):
        return pd.DataFrame(columns=cols)
    t = truth[["query_id", "incident_id", "day"]].merge(
        misuse_journal[["query_id", "operator", "subject"]], on="query_id", how="inner")
    t = t.assign(incident_id=t["incident_id"].astype(np.int64), operator=t["operator"].astype(np.int64),
                 subject=t["subject"].astype(np.int64))
    start = t.groupby("incident_id")["day"].min()
    inc = incidents.set_index("incident_id")

    # operators: those whose id the rows carry, and the other actors
    op_rows = []
    for iid, g in t.groupby("incident_id", sort=True):
        iid = int(iid)
        info = inc.loc[iid] if iid in inc.index else None
        actors = [int(a) for a in (info["actors"] if info is not None else [])]
        archetype = str(info["archetype"]) if info is not None else ""
        parts = {}
        for o in pd.unique(g["operator"]).tolist():
            parts[int(o)] = ("login owner (the rows carry this id)" if archetype == "credential_sharing"
                             else "operator")
        for o in actors[1:] if archetype == "credential_sharing" else actors:
            parts.setdefault(o, "used the login (not in the journal)"
                             if archetype == "credential_sharing" else "operator")
        op_rows += [_operator_row(world, iid, o, part, int(start[iid])) for o, part in parts.items()]

    # subjects: the victims (misuse rows), then the others the operators looked up those days
    victims = (t.groupby(["incident_id", "subject"], sort=True)["operator"].first().reset_index()
               .assign(part="victim"))
    days = t[["incident_id", "operator", "day"]].drop_duplicates()
    others = victims.iloc[:0]
    if len(journal):
        j_op = journal["operator"].to_numpy(dtype=np.float64, na_value=np.nan)
        jj = pd.DataFrame({
            "operator": np.where(np.isnan(j_op), -1, j_op).astype(np.int64),
            "day": journal["time"].to_numpy().astype("datetime64[D]").astype(np.int64),
            "subject": journal["subject"].to_numpy(dtype=np.int64)})
        m = days.merge(jj, on=["operator", "day"])
        m = m.groupby(["incident_id", "subject"], sort=True)["operator"].first().reset_index()
        m = m.merge(victims[["incident_id", "subject"]], how="left", indicator=True)
        others = m[m["_merge"] == "left_only"].drop(columns="_merge").assign(part="other lookup")
    subj = pd.concat([victims, others], ignore_index=True)
    x = subj["subject"].to_numpy(dtype=np.int64)
    s = world.subjects
    first = start.reindex(subj["incident_id"]).to_numpy()
    people = pd.DataFrame({
        "incident_id": subj["incident_id"].to_numpy(), "person_kind": "subject",
        "part": subj["part"].to_numpy(), "operator": subj["operator"].to_numpy(), "subject": x,
        "name": world.subject_names(x).astype(object), "surname": world.last_names[s.last[x]].astype(object),
        "sex": np.where(s.sex[x] == 0, "F", "M"), "age": ((first - s.birth_day[x]) // 365.25).astype(int),
        "address": np.char.add(np.char.add(s.house_number[x].astype(str), " "),
                               world.streets[s.street[x]]).astype(object),
        "county": np.asarray(world.counties, dtype=object)[s.county[x]],
        "relation": relation_labels(world, subj["operator"].to_numpy(), x),
        "high_profile": s.high_profile[x]})
    out = pd.concat([pd.DataFrame(op_rows, columns=cols), people.reindex(columns=cols)],
                    ignore_index=True)
    order = out["person_kind"].map({"operator": 0, "subject": 1})
    part = out["part"].map({"victim": 0}).fillna(1)
    return (out.assign(_o=order, _p=part).sort_values(["incident_id", "_o", "_p"], kind="stable")
            .drop(columns=["_o", "_p"]).reset_index(drop=True))


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


def _operator_row(world, iid: int, o: int, part: str, start: int) -> dict:
    ops, s, ag = world.operators, world.subjects, world.agencies
    me = int(ops.subject[o])
    a = int(ops.agency[o])
    shift = int(ops.shift_start[o])
    days = [DAY_NAMES[d] for d in range(7) if (int(ops.workdays[o]) >> d) & 1]
    return dict(
        incident_id=iid, person_kind="operator", part=part, operator=o, subject=me,
        name=str(world.subject_names(np.array([me]))[0]), surname=str(world.last_names[s.last[me]]),
        sex="F" if s.sex[me] == 0 else "M", age=int((start - s.birth_day[me]) // 365.25),
        address=f"{s.house_number[me]} {world.streets[s.street[me]]}",
        county=world.counties[int(s.county[me])], relation="", high_profile=bool(s.high_profile[me]),
        role=ROLE_LABELS[ROLES[int(ops.role[o])]], user_id=str(ops.user_ids(np.array([o]))[0]),
        agency_name=str(ag["name"].iat[a]), agency_ori=str(ag["ori"].iat[a]),
        agency_county=str(ag["county"].iat[a]), hire_day=int(ops.hire_day[o]),
        training_day=int(ops.training_day[o]), test_day=int(ops.test_day[o]),
        test_score=int(ops.test_score[o]), confidentiality_day=int(ops.confidentiality_day[o]),
        background_check=bool(ops.background_check[o]),
        certified=bool(ops.certified_on(start, np.array([o]))[0]), lapses=lapse_words(ops, o, start),
        shift_start=shift, shift_end=(shift + SHIFT_HOURS) % 24, workdays=", ".join(days))
