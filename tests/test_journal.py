"""The journal: schema, ordering, ids, answer key kept apart, modes, volumes, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.config import Scenario, parse_scenario
from sim.journal import (
    JOURNAL_SCHEMA,
    TRUTH_FIELDS,
    JournalGenerator,
    iter_journal,
    journal_tables,
    read_journal,
    write_journal,
)
from sim.rng import Streams

SMALL = {"name": "j", "seed": 5, "topology": {"counties": ["Alpine", "Sierra", "Modoc", "Mono"]},
         "journal": {"start_date": "2018-01-30", "days": 4},
         "misuse": {"prevalence_scale": 40}}


def gen(seed=5, **over):
    d = dict(SMALL)
    d.update(over)
    return JournalGenerator(parse_scenario(d), Streams(seed))


def test_schema_order_and_ids():
    chunks = list(gen().days())
    qids = np.concatenate([c.journal.column("query_id").to_numpy() for c in chunks])
    np.testing.assert_array_equal(qids, np.arange(len(qids)))
    for c in chunks:
        assert c.journal.schema == JOURNAL_SCHEMA
        t = c.journal.column("time").to_numpy().astype("int64")
        assert (np.diff(t) >= 0).all()
        assert (t // 86400 == c.day).all()
        # every truth row points at a journal row of that day
        assert np.isin(c.truth.column("query_id").to_numpy(), c.journal.column("query_id").to_numpy()).all()
    assert sum(c.misuse_rows for c in chunks) == sum(c.truth.num_rows for c in chunks) > 0


def test_detection_side_cannot_see_the_answer_key(tmp_path):
    g = gen()
    tables = list(journal_tables(g.days()))
    for t in tables:
        assert isinstance(t, pa.Table)
        assert not set(t.column_names) & set(TRUTH_FIELDS)
    write_journal(gen(), tmp_path, "full", 1.0)
    on_disk = read_journal(tmp_path)
    assert not set(on_disk.column_names) & set(TRUTH_FIELDS)
    for f in (tmp_path / "journal").rglob("*.parquet"):
        assert not set(pq.read_schema(f).names) & set(TRUTH_FIELDS)
    # the answer key is elsewhere, and names journal rows
    truth = pq.read_table(tmp_path / "truth.parquet")
    assert set(TRUTH_FIELDS) <= set(truth.column_names)
    assert np.isin(truth.column("query_id").to_numpy(), on_disk.column("query_id").to_numpy()).all()


def test_misuse_rows_look_like_journal_rows():
    """Labels are not leaked through the rows themselves: misuse rows use the same columns,
    keys, devices and ORIs as lawful rows; only the answer key tells them apart."""
    chunks = list(gen().days())
    j = pa.concat_tables([c.journal for c in chunks])
    t = pa.concat_tables([c.truth for c in chunks])
    is_mis = np.isin(j.column("query_id").to_numpy(), t.column("query_id").to_numpy())
    ops = j.column("operator").to_numpy(zero_copy_only=False)
    assert not np.isnan(ops[is_mis].astype(float)).any()  # misuse rows have operators
    human = ~np.isnan(ops.astype(float))
    assert human[~is_mis].sum() > is_mis.sum()  # and hide among many lawful operator rows


def test_same_seed_same_journal_different_seed_differs():
    a = pa.concat_tables([c.journal for c in gen(5).days()])
    b = pa.concat_tables([c.journal for c in gen(5).days()])
    c = pa.concat_tables([c.journal for c in gen(6).days()])
    assert a.equals(b)
    assert not a.equals(c)


def test_sample_mode_keeps_all_misuse_and_a_share_of_lawful(tmp_path):
    s = write_journal(gen(), tmp_path, "sample", 0.05)
    j = read_journal(tmp_path)
    truth = pq.read_table(tmp_path / "truth.parquet")
    is_mis = np.isin(j.column("query_id").to_numpy(), truth.column("query_id").to_numpy())
    assert is_mis.sum() == truth.num_rows == s.misuse_rows
    lawful_total = s.rows - s.misuse_rows
    kept = int((~is_mis).sum())
    assert abs(kept - 0.05 * lawful_total) <= 4 * math.sqrt(lawful_total * 0.05 * 0.95)


def test_months_are_partitions_and_none_mode_writes_no_rows(tmp_path):
    write_journal(gen(), tmp_path / "full", "full", 1.0)
    months = sorted(p.name for p in (tmp_path / "full" / "journal").iterdir())
    assert months == ["month=2018-01", "month=2018-02"]  # 4 days from 30 January
    # streaming reader: same rows, in order, in bounded batches
    batches = list(iter_journal(tmp_path / "full", batch_rows=1000, columns=["query_id"]))
    assert max(b.num_rows for b in batches) <= 1000
    qid = np.concatenate([b.column(0).to_numpy() for b in batches])
    np.testing.assert_array_equal(qid, np.arange(len(qid)))
    assert len(qid) == read_journal(tmp_path / "full").num_rows
    s = write_journal(gen(), tmp_path / "none", "none", 1.0)
    assert s.rows > 0 and s.written_rows == 0
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())


def test_statewide_volume_and_san_diego_sheriff():
    s = Scenario(name="v", seed=1)
    g = JournalGenerator(s, Streams(1), days=7)
    w = g.world
    sd = int(w.agencies.index[w.agencies["name"] == "San Diego County Sheriff's Office"][0])
    sd_oris = np.flatnonzero(w.oris["agency"].to_numpy() == sd)
    rows = human_sd = 0
    for k in range(7):
        r = g.rows(g.first_day + k, k)
        rows += len(r["time"])
        human_sd += int((np.isin(r["ori"], sd_oris) & (r["operator"] >= 0)).sum())
    per_day = rows / 7
    assert per_day == pytest.approx(2.8e6, rel=0.05)  # the 2018 official estimate
    assert 0.7e6 < human_sd / 7 * 365 < 1.4e6  # "more than 1 million queries in a fiscal year"


def test_lawful_traffic_has_natural_false_positive_material():
    """Lawful lookups hit relations and media figures at their base rates, and some happen off
    shift, so detection rules meet false positives."""
    rel_rate, hp_rate = 0.05, 0.01
    g = gen(misuse={"prevalence_scale": 0},
            journal={"start_date": "2018-01-30", "days": 4,
                     "queries": {"relation_base_rate": rel_rate, "high_profile_base_rate": hp_rate}})
    w = g.world
    ops = w.operators
    hits_relation = hits_hp = off_shift = n = 0
    for k in range(4):
        r = g.rows(g.first_day + k, k)
        human = r["operator"] >= 0
        op, subj = r["operator"][human], r["subject"][human]
        n += len(op)
        hits_hp += int(w.subjects.high_profile[subj].sum())
        hour = (r["time"][human] % 86400) // 3600
        off_shift += int((((hour - ops.shift_start[op]) % 24) >= 10).sum())
        hits_relation += sum(int(s in w.relations.of(o)[0]) for o, s in zip(op.tolist(), subj.tolist()))
    assert n > 1000
    # at least the base rate (chance coincidences add a little), within binomial tolerance
    for hits, p in ((hits_relation, rel_rate), (hits_hp, hp_rate)):
        assert hits >= n * p - 4 * math.sqrt(n * p * (1 - p))
        assert hits <= n * p * 1.5 + 4 * math.sqrt(n * p)
    off = g.scenario.journal.queries.off_shift_share
    assert abs(off_shift - n * off) <= 4 * math.sqrt(n * off * (1 - off)) + 2


def test_cli_journal(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["journal", str(scen), "--days", "2", "--mode", "full", "--out", str(out)])
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["mode"] == "full"
    assert read_journal(out).num_rows == man["summary"]["rows"]
    assert "misuse rows by category" in r.output and "rows/s" in r.output
    for args, needle in ((["--mode", "everything"], "--mode"), (["--days", "0"], "--days"),
                         (["--sample-rate", "1.5"], "--sample-rate")):
        r = CliRunner().invoke(app, ["journal", str(scen), *args, "--out", str(tmp_path / "x")])
        assert r.exit_code == 2 and needle in r.output
        assert not (tmp_path / "x").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "b", "misuse": {"occasional": {"user_share": 2}}}))
    r = CliRunner().invoke(app, ["journal", str(bad), "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and "misuse.occasional.user_share" in r.output


def test_network_replays_the_journal():
    d = dict(SMALL)
    d.update(traffic={"source": "journal"},
             horizon={"start_hour": 10, "duration_s": 1800, "warmup_s": 0})
    s = parse_scenario(d)
    from sim.runner import simulate_network

    run = simulate_network(s)
    g = JournalGenerator(s, Streams(s.seed), days=1)
    r = g.rows(g.first_day, 0)
    t0 = g.first_day * 86400 + 10 * 3600
    # each logged second is jittered uniformly within itself, so the window is exact in seconds
    in_window = ((r["time"] >= t0) & (r["time"] < t0 + 1800)).sum()
    assert run.summary["generated"] == in_window
    assert run.summary["generated"] == run.summary["answered"] + run.summary["rejected"] \
        + run.summary["timed_out"] + run.summary["in_flight"]
    with pytest.raises(Exception, match="traffic.source"):
        simulate_network(s, load_factor=2.0)

