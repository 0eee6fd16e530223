"""Detection: journal only, and each rule fires exactly where it should on a hand-built journal."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sim.catalogue import KEY_NAMES, PURPOSES
from sim.config import parse_scenario
from sim.config.oversight import RULES
from sim.detection import RULE_BIT, Detector, HumanRows, Registry
from sim.journal import JOURNAL_SCHEMA, TRUTH_FIELDS
from sim.rng import Streams
from sim.world import HOUSEHOLD, build_world, day_number
from topology import build_topology

DAY = day_number(date(2018, 3, 7))  # a Wednesday


@pytest.fixture(scope="module")
def world():
    s = parse_scenario({"name": "d", "topology": {"counties": ["Mono", "Alpine"]}})
    streams = Streams(3)
    return build_world(build_topology(s.topology, s.network, streams), s.world, streams, date(2018, 1, 1))


def detector(world, rules, **kw):
    s = parse_scenario({"name": "d", "oversight": {"detection": {"rules": {"enabled": rules, **kw}}}})
    reg = Registry.from_world(world, 1.0, np.random.default_rng(0))
    return Detector(s.oversight.detection, reg, np.random.default_rng(1))


def journal(rows: list[dict]) -> pa.Table:
    """A journal table in the real schema from a few hand-written rows."""
    n = len(rows)
    keys = [KEY_NAMES.index(r.get("key", "DL")) for r in rows]
    return pa.table({
        "query_id": pa.array(np.arange(n, dtype=np.int64)),
        "time": pa.array(np.array([r["time"] for r in rows], dtype="datetime64[s]")),
        "operator": pa.array([r["operator"] for r in rows], pa.int32()),
        "requestor": pa.array([None] * n, pa.int32()),
        "ori": pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array(["CA0000000"])),
        "terminal": pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array(["t"])),
        "device_kind": pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int8()), pa.array(["terminal", "mdt"])),
        "key": pa.DictionaryArray.from_arrays(pa.array(keys, pa.int8()), pa.array(list(KEY_NAMES))),
        "database": pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int8()), pa.array(["DMV"])),
        "subject": pa.array([r["subject"] for r in rows], pa.int32()),
        "purpose": pa.DictionaryArray.from_arrays(
            pa.array([PURPOSES.index(r.get("purpose", "investigation")) for r in rows], pa.int8()),
            pa.array(list(PURPOSES))),
        "case_number": pa.array([r.get("case") for r in rows], pa.int64()),
        "right_to_know": pa.DictionaryArray.from_arrays(pa.array([None] * n, pa.int8()),
                                                        pa.array(["PC 11105"])),
    }, schema=JOURNAL_SCHEMA)


def pick_operator(world):
    """A certified operator, working on DAY, with a household relation and a day shift."""
    ops = world.operators
    dow = (DAY + 3) % 7
    for op in range(len(ops)):
        subj, kinds = world.relations.of(op)
        if (ops.certified_on(DAY, np.array([op]))[0] and (ops.workdays[op] >> dow) & 1
                and ops.shift_start[op] in (6, 7) and (kinds == HOUSEHOLD).any()
                and world.agencies["county_idx"].iat[int(ops.agency[op])] >= 0):
            return op, subj[kinds == HOUSEHOLD][0]
    raise AssertionError("no suitable operator in the test world")


def test_each_rule_fires_exactly_where_it_should(world):
    op, relative = pick_operator(world)
    s, ops = world.subjects, world.operators
    county = world.agencies["county_idx"].iat[int(ops.agency[op])]
    lo, hi = s.county_start[county], s.county_start[county + 1]
    me = ops.subject[op]
    stranger = next(int(x) for x in range(lo, hi) if s.last[x] != s.last[me]
                    and s.street[x] != s.street[me] and not s.high_profile[x])
    other_county = next(int(x) for x in range(len(s)) if s.county[x] != county and s.last[x] != s.last[me]
                        and not s.high_profile[x])
    star = int(world.high_profile_ids[0])
    noon = DAY * 86400 + 12 * 3600
    rows = [
        dict(time=noon, operator=op, subject=stranger, case=1),  # 0 clean
        dict(time=noon, operator=op, subject=relative, case=1),  # 1 household: surname/address, known
        dict(time=noon, operator=op, subject=star, case=1),  # 2 media figure
        dict(time=noon, operator=op, subject=stranger, key="QH"),  # 3 ACHS without case
        dict(time=noon, operator=op, subject=other_county, case=1),  # 4 out of county, with case
        dict(time=noon, operator=op, subject=other_county),  # 5 out of county, no case
        dict(time=DAY * 86400 + 2 * 3600, operator=op, subject=stranger, case=1),  # 6 off shift
        dict(time=noon, operator=op, subject=stranger, key="QH", case=1, purpose="licensing"),  # 7 CCW
        dict(time=noon, operator=op, subject=stranger, key="DL", case=1, purpose="licensing"),  # 8 not ACHS
    ]
    det = detector(world, list(RULES))
    alerts = det.run_day(journal(rows), DAY)
    masks = dict(zip(alerts["query_id"].astype(int), alerts["rules"]))
    assert 0 not in masks
    assert masks[1] & RULE_BIT["surname_or_address"] and masks[1] & RULE_BIT["known_relation"]
    assert masks[2] == RULE_BIT["high_profile"]
    assert masks[3] == RULE_BIT["achs_without_case"]
    assert 4 not in masks
    assert masks[5] == RULE_BIT["out_of_county_no_case"]
    assert masks[6] == RULE_BIT["off_shift"]
    assert masks[7] == RULE_BIT["achs_noncriminal_purpose"]
    assert 8 not in masks


def test_lapsed_operator_and_repeated_subject(world):
    ops = world.operators
    lapsed = int(np.flatnonzero(~ops.certified_on(DAY) & np.isin(ops.role, (0, 1)))[0])
    op, _ = pick_operator(world)
    noon = DAY * 86400 + 12 * 3600
    det = detector(world, ["lapsed_certification", "repeated_subject"], repeat_count=3)
    subj = int(world.subjects.county_start[0]) + 5
    a1 = det.run_day(journal([dict(time=noon, operator=lapsed, subject=subj, case=9),
                              dict(time=noon, operator=op, subject=subj),
                              dict(time=noon + 60, operator=op, subject=subj)]), DAY)
    assert list(a1["query_id"]) == [0] and a1["rules"].iat[0] == RULE_BIT["lapsed_certification"]
    # the third no-case query of the same subject within the window crosses the threshold
    a2 = det.run_day(journal([dict(time=noon + 86400, operator=op, subject=subj),
                              dict(time=noon + 86400, operator=op, subject=subj)]), DAY + 1)
    assert list(a2["rules"]) == [RULE_BIT["repeated_subject"]] * 2
    a3 = det.run_day(journal([dict(time=noon + 2 * 86400, operator=op, subject=subj)]), DAY + 2)
    assert a3.empty  # already past the threshold: not re-alerted


def test_volume_spike_against_own_history(world):
    op, _ = pick_operator(world)
    det = detector(world, ["volume_spike"], spike_factor=4.0, spike_min=12)
    subj = int(world.subjects.county_start[0])
    for d in range(20):
        t = (DAY + d) * 86400 + 9 * 3600
        rows = [dict(time=t, operator=op, subject=subj + i, case=1) for i in range(3)]
        assert det.run_day(journal(rows), DAY + d).empty
    t = (DAY + 20) * 86400 + 9 * 3600
    spike = det.run_day(journal([dict(time=t, operator=op, subject=subj + i, case=1) for i in range(40)]),
                        DAY + 20)
    assert list(spike["operator"]) == [op] and spike["query_id"].isna().all()


def test_detection_refuses_answer_key_columns(world):
    op, _ = pick_operator(world)
    table = journal([dict(time=DAY * 86400, operator=op, subject=0, case=1)])
    with pytest.raises(ValueError, match="answer-key"):
        HumanRows.from_journal(table.append_column("is_misuse", pa.array([True])))
    assert set(TRUTH_FIELDS) <= {"is_misuse", "category", "archetype", "incident_id"}
    # renamed or nested answer-key columns are refused too: only journal columns pass
    for name, col in (("x_is_misuse", pa.array([True])), ("IS_MISUSE", pa.array([True])),
                      ("label", pa.array([{"is_misuse": True}]))):
        with pytest.raises(ValueError, match="journal columns only"):
            HumanRows.from_journal(table.append_column(name, col))
    # and run_rows takes only rows whose columns were checked
    det = detector(world, ["off_shift"])
    rows = HumanRows.from_journal(table)
    unchecked = HumanRows(**{k: getattr(rows, k) for k in ("query_id", "time", "operator", "subject",
                                                           "key", "purpose", "has_case")})
    with pytest.raises(ValueError, match="from_journal"):
        det.run_rows(unchecked, DAY)
    assert "kind" in det.run_rows(rows, DAY).columns


def test_journal_columns_list_is_the_journal_schema():
    from sim.catalogue import JOURNAL_COLUMNS

    assert tuple(JOURNAL_SCHEMA.names) == JOURNAL_COLUMNS


def test_detection_module_imports_nothing_that_carries_truth():
    """Static check: detection imports no generator of misuse or of the answer key."""
    src = (Path(__file__).resolve().parent.parent / "sim" / "detection.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert not imported & {"sim.misuse", "sim.journal", "sim.oversight", "sim.metrics"}


def test_anomaly_score_flags_the_operator_who_behaves_unlike_peers(world):
    """A month of ordinary operators and one who works off shift, without case numbers, on
    media figures: only that one gets an operator-month anomaly alert."""
    s = parse_scenario({"name": "d", "oversight": {"detection": {"anomaly": {"enabled": True}}}})
    reg = Registry.from_world(world, 1.0, np.random.default_rng(0))
    det = Detector(s.oversight.detection, reg, np.random.default_rng(1))
    ops = world.operators
    same_type = world.agencies["agency_type"].to_numpy()[ops.agency] == "sheriff"
    pool = np.flatnonzero(same_type & np.isin(ops.role, (0, 1)))[:30]
    odd = int(pool[0])
    rng = np.random.default_rng(5)
    first = day_number(date(2018, 4, 1))
    n_subj = int(world.subjects.county_start[-1])
    for d in range(30):
        day = first + d
        rows = []
        for op in pool.tolist():
            start = int(ops.shift_start[op])
            for _ in range(4):
                if op == odd:
                    hour = (start + 12 + int(rng.integers(0, 10))) % 24  # off shift
                    subj, case = int(rng.choice(world.high_profile_ids)), None
                else:
                    hour = (start + int(rng.integers(0, 10))) % 24
                    subj, case = int(rng.integers(0, n_subj)), 1
                rows.append(dict(time=day * 86400 + hour * 3600, operator=op, subject=subj, case=case))
        assert det.run_day(journal(rows), day).empty  # nothing query-level: no rules enabled
    alerts = det.end_month(first + 29)
    assert list(alerts["operator"]) == [odd]
    assert (alerts["kind"] == "anomaly").all() and alerts["query_id"].isna().all()
