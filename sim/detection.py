"""Detection policies over the audit journal. Reads the journal and reference data only.

This module never sees the answer key: it is given journal tables (the journal schema,
no truth columns) and a `Registry` of what agencies and DOJ know anyway (their
personnel and shifts, the DMV/person records behind subject ids, the media-figure
list, the relations agencies have on file). `tests/test_detection.py` checks that it
imports nothing that carries truth.

Policies (each optional, all combinable):
* rules, one bit each in an alert's ``rules`` mask (names in `sim.config.oversight.RULES`);
* random audit: a share of operator queries sampled for review;
* anomaly: a monthly per-operator score, the sum of positive robust z-scores (median and
  MAD within the agency type) of journal features. Plain numpy rather than scikit-learn:
  no extra dependency, every feature is a share a trainer can explain, and it is exactly
  reproducible;
* complaints come from the world (a victim learns of a lookup), not from this module; they
  arrive as alerts of kind ``complaint`` through the oversight loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sim.catalogue import ACHS_KEYS, ANSWER_KEY_FIELDS, JOURNAL_COLUMNS, KEY_NAMES, PURPOSES
from sim.config.oversight import RULES, Detection
from sim.world import FAMILY, HOUSEHOLD, SHIFT_HOURS, WorldModel

ALERT_KINDS = ("rule", "random_audit", "anomaly", "complaint")
RULE_BIT = {r: 1 << i for i, r in enumerate(RULES)}
ACHS_KEY_IDX = np.array([KEY_NAMES.index(k) for k in ACHS_KEYS])
NONCRIMINAL_PURPOSES = np.array([PURPOSES.index("licensing"), PURPOSES.index("employment")])
# anomaly features (shares of an operator's month) and the per-row flags they count
FEATURE_SOURCES = {"off_shift": "off_shift", "no_case": "no_case",
                   "out_of_county": "out_of_county_no_case", "high_profile": "high_profile",
                   "surname_or_address": "surname_or_address", "repeat": "repeated_subject"}
FEATURES = tuple(FEATURE_SOURCES)
MAX_TALLY_BITS = 24  # at most 2^24 slots (64 MB) in the repeated-subject filter


@dataclass
class Registry:
    """What agencies and DOJ know without any answer key."""

    op_subject: np.ndarray
    op_agency: np.ndarray
    op_county: np.ndarray
    op_type: np.ndarray  # agency type index, for peer groups
    shift_start: np.ndarray
    workdays: np.ndarray
    certified_on: object  # callable(day, idx) -> bool array
    subj_last: np.ndarray
    subj_address: np.ndarray  # int64 key of county, street, house number
    subj_county: np.ndarray
    subj_high_profile: np.ndarray
    known_pairs: np.ndarray  # sorted int64 keys operator * n_subjects + subject

    @classmethod
    def from_world(cls, world: WorldModel, known_share: float, rng: np.random.Generator) -> Registry:
        ops, s, rel = world.operators, world.subjects, world.relations
        on_file = np.isin(rel.kind, (HOUSEHOLD, FAMILY)) & (rng.random(len(rel.kind)) < known_share)
        n = np.int64(len(s))
        pairs = np.sort(rel.operator[on_file].astype(np.int64) * n + rel.subject[on_file])
        types = world.agencies["agency_type"].to_numpy()
        _, type_idx = np.unique(types, return_inverse=True)
        address = (s.county.astype(np.int64) << 40) | (s.street.astype(np.int64) << 20) | s.house_number
        return cls(
            op_subject=ops.subject, op_agency=ops.agency,
            op_county=world.agencies["county_idx"].to_numpy()[ops.agency],
            op_type=type_idx[ops.agency], shift_start=ops.shift_start.astype(np.int64),
            workdays=ops.workdays, certified_on=ops.certified_on, subj_last=s.last,
            subj_address=address, subj_county=s.county, subj_high_profile=s.high_profile,
            known_pairs=pairs,
        )


def check_journal_columns(table: pa.Table) -> None:
    """Refuse anything but journal columns (a positive list, by name and by kind): detection
    must never be handed the answer key, however its columns are named or nested."""
    extra = [c for c in table.column_names if c not in JOURNAL_COLUMNS]
    leaked = sorted(set(table.column_names) & set(ANSWER_KEY_FIELDS))
    if leaked:
        raise ValueError(f"detection was handed answer-key columns {leaked}")
    if extra:
        raise ValueError(f"detection accepts journal columns only; refused {sorted(extra)[:10]}")
    nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
    if nested:
        raise ValueError(f"detection accepts flat journal columns only; refused nested {nested}")


@dataclass
class HumanRows:
    """The operator rows of one journal day as numpy columns."""

    query_id: np.ndarray
    time: np.ndarray
    operator: np.ndarray
    subject: np.ndarray
    key: np.ndarray
    purpose: np.ndarray
    has_case: np.ndarray
    vetted: bool = field(default=False, repr=False)  # made by from_journal (columns checked)

    @classmethod
    def from_journal(cls, table: pa.Table) -> HumanRows:
        check_journal_columns(table)
        operator = table.column("operator")
        # automated checks (no operator) are dropped; a journal without them is taken as is
        human = table.filter(pc.is_valid(operator)) if operator.null_count else table

        def col(name):
            return human.column(name).combine_chunks()

        return cls(
            query_id=col("query_id").to_numpy(),
            time=col("time").cast(pa.int64()).to_numpy(),
            operator=col("operator").to_numpy(),
            subject=col("subject").to_numpy(),
            key=col("key").indices.to_numpy(),
            purpose=col("purpose").indices.to_numpy(),
            has_case=pc.is_valid(col("case_number")).to_numpy(zero_copy_only=False),
            vetted=True,
        )


class Detector:
    """Runs the enabled policies day by day; keeps the little state rules need."""

    def __init__(self, cfg: Detection, registry: Registry, rng: np.random.Generator):
        self.cfg = cfg
        self.reg = registry
        self.rng = rng
        self.enabled = set(cfg.rules.enabled)
        n_ops = len(registry.op_agency)
        self.ewma = np.zeros(n_ops)
        self.seen_days = 0
        self._window: deque[tuple[int, tuple[np.ndarray, np.ndarray]]] = deque()
        # a counting filter over the window's (operator, subject) keys: a key whose slot is
        # empty was not queried in the window, so only the few others are looked up exactly
        slots = 8 * max(n_ops, 1) * cfg.rules.repeat_window_days  # ~8 slots per key: few collisions
        self._tally_bits = min(MAX_TALLY_BITS, max(12, (slots - 1).bit_length()))
        self._tally = np.zeros(1 << self._tally_bits, dtype=np.int32)
        # this month's per-operator counts: queries ("n") and each anomaly feature
        self._month = np.zeros((len(FEATURES) + 1, n_ops), dtype=np.int64)
        self._month_rows = False
        self.n_subjects = np.int64(len(registry.subj_last))
        self._derived_from: tuple = ()

    # ------------------------------------------------------------------ features
    def features(self, rows: HumanRows, day: int, wanted=None) -> dict[str, np.ndarray]:
        """Per-row flags; only those in `wanted` (default: all) are computed."""
        reg, op, subj = self.reg, rows.operator, rows.subject
        has_case = rows.has_case
        self._derive()
        cache = {}

        def who():
            """The subjects' records, gathered once: one random access per row, not five."""
            if "rec" not in cache:
                cache["rec"] = self._subj[subj]
            return cache["rec"]

        def surname_or_address():
            rec = who()
            return (rec["last"] == self._op_last[op]) | (rec["address"] == self._op_address[op])

        def off_shift():
            hour = (rows.time % 86400) // 3600
            start = reg.shift_start[op]
            in_shift = ((hour - start) % 24) < SHIFT_HOURS
            dow = (day + 3) % 7
            works_today = ((reg.workdays >> dow) & 1).astype(bool)  # per operator
            # a night shift that started yesterday covers today's early hours
            works_yesterday = ((reg.workdays >> ((dow - 1) % 7)) & 1).astype(bool)
            early = hour < (start + SHIFT_HOURS - 24)
            return ~(in_shift & np.where(early, works_yesterday[op], works_today[op]))

        def out_of_county():
            county = reg.op_county[op]
            return (county >= 0) & (who()["county"] != county) & ~has_case

        makers = {
            "surname_or_address": surname_or_address,
            "known_relation": lambda: self._known(op, subj, who()["on_file"]),
            "high_profile": lambda: who()["high_profile"].copy(),
            "achs_without_case": lambda: np.isin(rows.key, ACHS_KEY_IDX) & ~has_case,
            "achs_noncriminal_purpose": lambda: np.isin(rows.key, ACHS_KEY_IDX)
            & np.isin(rows.purpose, NONCRIMINAL_PURPOSES),
            "out_of_county_no_case": out_of_county,
            "off_shift": off_shift,
            # per operator (in order, so cheap), then per row
            "lapsed_certification": lambda: ~reg.certified_on(day, np.arange(len(reg.op_agency)))[op],
            "no_case": lambda: ~has_case,
        }
        names = makers if wanted is None else [n for n in makers if n in wanted]
        return {n: makers[n]() for n in names}

    def _derive(self) -> None:
        """Per-operator surname and address, and one record per subject (surname, address,
        county, media figure, whether some operator's relation to them is on file: a filter,
        only rows on those subjects are looked up in the sorted pairs), so a row's subject
        costs one random memory access. Built once; rebuilt if the registry's arrays are
        replaced (they are not modified in place)."""
        reg = self.reg
        src = (reg.op_subject, reg.subj_last, reg.subj_address, reg.subj_county, reg.subj_high_profile,
               reg.known_pairs)
        if len(src) == len(self._derived_from) and all(a is b for a, b in zip(src, self._derived_from)):
            return
        self._op_last = reg.subj_last[reg.op_subject]
        self._op_address = reg.subj_address[reg.op_subject]
        subj = np.zeros(len(reg.subj_last), dtype=[
            ("address", reg.subj_address.dtype), ("last", reg.subj_last.dtype),
            ("county", reg.subj_county.dtype), ("high_profile", np.bool_), ("on_file", np.bool_)])
        subj["address"], subj["last"], subj["county"] = reg.subj_address, reg.subj_last, reg.subj_county
        subj["high_profile"] = reg.subj_high_profile
        subj["on_file"][reg.known_pairs % self.n_subjects] = True
        self._subj = subj
        self._derived_from = src

    def _known(self, op: np.ndarray, subj: np.ndarray, on_file: np.ndarray | None = None) -> np.ndarray:
        pairs = self.reg.known_pairs
        out = np.zeros(len(op), dtype=bool)
        if len(pairs) == 0:
            return out
        self._derive()
        if on_file is None:
            on_file = self._subj["on_file"][subj]
        idx = np.flatnonzero(on_file)
        keys = op[idx].astype(np.int64) * self.n_subjects + subj[idx]
        pos = np.minimum(np.searchsorted(pairs, keys), len(pairs) - 1)
        out[idx] = pairs[pos] == keys
        return out

    # ------------------------------------------------------------------ a day
    def run_day(self, journal: pa.Table, day: int) -> pd.DataFrame:
        """Alerts raised on this day's journal (query-level and operator-level)."""
        return self.run_rows(HumanRows.from_journal(journal), day)

    def run_rows(self, rows: HumanRows, day: int) -> pd.DataFrame:
        """Alerts on rows made by `HumanRows.from_journal` (the columns were checked there)."""
        if not isinstance(rows, HumanRows) or not rows.vetted:
            raise ValueError("Detector.run_rows takes HumanRows.from_journal(journal) only")
        rules = self.enabled - {"volume_spike"}
        anomaly = self.cfg.anomaly.enabled
        alerts = []
        if rules or anomaly:
            wanted = set(rules) | (set(FEATURE_SOURCES.values()) if anomaly else set())
            f = self.features(rows, day, wanted)
            if "repeated_subject" in rules or anomaly:
                f["repeated_subject"] = self._repeated(rows, day)
            mask = np.zeros(len(rows.query_id), dtype=np.int64)
            for rule in rules:
                np.bitwise_or(mask, RULE_BIT[rule], out=mask, where=f[rule])
            hit = mask > 0
            if hit.any():
                alerts.append(self._alerts(rows, hit, "rule", mask[hit], day))
            if anomaly:
                self._add_features(rows, f)
        if self.cfg.random_audit_rate > 0:
            sampled = self.rng.random(len(rows.query_id)) < self.cfg.random_audit_rate
            if sampled.any():
                alerts.append(self._alerts(rows, sampled, "random_audit", np.zeros(sampled.sum()), day))
        if "volume_spike" in self.enabled:
            spike = self._spikes(rows, day)
            if len(spike):
                alerts.append(spike)
        return pd.concat(alerts, ignore_index=True) if alerts else empty_alerts()

    def _alerts(self, rows: HumanRows, sel: np.ndarray, kind: str, mask, day: int) -> pd.DataFrame:
        op = rows.operator[sel]
        return pd.DataFrame({
            "day": np.full(int(sel.sum()), day, dtype=np.int32),
            "kind": kinds(kind, int(sel.sum())),
            "query_id": rows.query_id[sel],
            "operator": op,
            "agency": self.reg.op_agency[op],
            "rules": np.asarray(mask, dtype=np.int64),
            "score": np.bitwise_count(np.asarray(mask, dtype=np.int64)).astype(float)
            if kind == "rule" else np.ones(int(sel.sum())),
        })

    def _repeated(self, rows: HumanRows, day: int) -> np.ndarray:
        """Rows whose (operator, subject) reaches `repeat_count` no-case queries in the window.

        The window keeps one sorted (keys, counts) pair per day. A counting filter (counts
        per hash slot over the window) rules out most of today's distinct keys at once;
        only keys whose slot is occupied (repeats, and a few % of collisions) are looked up
        in each day by binary search, so a day costs O(k + c w log n), not a re-count.
        """
        r = self.cfg.rules
        no_case = ~rows.has_case
        keys = rows.operator.astype(np.int64) * self.n_subjects + rows.subject
        while self._window and self._window[0][0] <= day - r.repeat_window_days:
            _, (old_keys, old_counts) = self._window.popleft()
            np.subtract.at(self._tally, tally_slot(old_keys, self._tally_bits), old_counts.astype(np.int32))
        today = keys[no_case]
        uniq, today_counts = np.unique(today, return_counts=True)
        slot = tally_slot(uniq, self._tally_bits)
        maybe = np.flatnonzero(self._tally[slot] > 0)  # the others were not seen in the window
        prior = np.zeros(len(uniq), dtype=np.int64)
        if len(maybe):
            cand = uniq[maybe]
            seen = np.zeros(len(cand), dtype=np.int64)
            for _, (w_keys, w_counts) in self._window:
                if len(w_keys):
                    pos = np.minimum(np.searchsorted(w_keys, cand), len(w_keys) - 1)
                    seen += np.where(w_keys[pos] == cand, w_counts[pos], 0)
            prior[maybe] = seen
        self._window.append((day, (uniq, today_counts)))
        np.add.at(self._tally, slot, today_counts.astype(np.int32))
        out = np.zeros(len(keys), dtype=bool)
        if len(today):
            crossing = uniq[(prior < r.repeat_count) & (prior + today_counts >= r.repeat_count)]
            out[no_case] = np.isin(today, crossing)
        return out

    def _spikes(self, rows: HumanRows, day: int) -> pd.DataFrame:
        r = self.cfg.rules
        counts = np.bincount(rows.operator, minlength=len(self.ewma)).astype(float)
        base = np.maximum(self.ewma, 1.0)
        spiking = (counts >= r.spike_min) & (counts > r.spike_factor * base) if self.seen_days >= 14 \
            else np.zeros(len(counts), dtype=bool)
        self.ewma = 0.9 * self.ewma + 0.1 * counts
        self.seen_days += 1
        ops = np.flatnonzero(spiking)
        return pd.DataFrame({
            "day": np.full(len(ops), day, dtype=np.int32), "kind": kinds("rule", len(ops)),
            "query_id": pd.array([pd.NA] * len(ops), dtype="Int64"), "operator": ops.astype(np.int32),
            "agency": self.reg.op_agency[ops], "rules": np.full(len(ops), RULE_BIT["volume_spike"]),
            "score": counts[ops] / base[ops],
        })

    # ------------------------------------------------------------------ monthly anomaly score
    def _add_features(self, rows: HumanRows, f: dict[str, np.ndarray]) -> None:
        """Add today's per-operator count of queries and of each flagged feature to the month."""
        n_ops = self._month.shape[1]
        op = rows.operator
        for j, src in enumerate(FEATURE_SOURCES.values()):
            self._month[j] += np.bincount(op[f[src]], minlength=n_ops)
        self._month[-1] += np.bincount(op, minlength=n_ops)
        self._month_rows = True

    def end_month(self, day: int) -> pd.DataFrame:
        """Operator-month anomaly alerts (call on the last day of each month)."""
        seen = self._month_rows
        counts, self._month = self._month, np.zeros_like(self._month)
        self._month_rows = False
        if not self.cfg.anomaly.enabled or not seen:
            return empty_alerts()
        a = self.cfg.anomaly
        present = np.flatnonzero(counts[-1] > 0)  # operators with queries this month
        df = pd.DataFrame(counts[:, present].T.astype(float), index=present, columns=[*FEATURES, "n"])
        n = df["n"]
        df = df[n >= a.min_queries]
        if df.empty:
            return empty_alerts()
        shares = df[list(FEATURES)].div(df["n"], axis=0)
        shares["volume"] = df["n"]
        group = self.reg.op_type[df.index.to_numpy()]
        med = shares.groupby(group).transform("median")
        mad = (shares - med).abs().groupby(group).transform("median") * 1.4826
        z = ((shares - med) / (mad + 0.02)).clip(lower=0, upper=10)
        score = z.sum(axis=1)
        hit = score[score > a.threshold]
        ops = hit.index.to_numpy().astype(np.int32)
        return pd.DataFrame({
            "day": np.full(len(ops), day, dtype=np.int32), "kind": kinds("anomaly", len(ops)),
            "query_id": pd.array([pd.NA] * len(ops), dtype="Int64"), "operator": ops,
            "agency": self.reg.op_agency[ops], "rules": np.zeros(len(ops), dtype=np.int64),
            "score": hit.to_numpy(),
        })


def tally_slot(keys: np.ndarray, bits: int) -> np.ndarray:
    """Slot of each (operator, subject) key in the repeated-subject filter (Fibonacci hashing)."""
    return ((keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)).astype(np.intp)


def kinds(kind: str, n: int) -> pd.Categorical:
    """An alert-kind column (categorical: millions of alerts stay small)."""
    return pd.Categorical.from_codes(np.full(n, ALERT_KINDS.index(kind), dtype=np.int8), ALERT_KINDS)


def empty_alerts() -> pd.DataFrame:
    return pd.DataFrame({
        "day": pd.Series(dtype=np.int32), "kind": kinds("rule", 0),
        "query_id": pd.Series(dtype="Int64"), "operator": pd.Series(dtype=np.int32),
        "agency": pd.Series(dtype=np.int32), "rules": pd.Series(dtype=np.int64),
        "score": pd.Series(dtype=float),
    })

