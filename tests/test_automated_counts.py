"""Automated checks counted, not generated: the same run as row by row, at a fraction of the cost.

Automated checks (CAD, LPR, MDT auto-queries) have no operator, so they can be neither
misuse nor a rule hit. `JournalGenerator(automated="count")` draws each day's number of
them (`DayChunk.automated_rows`) and leaves the traffic stream where the row-by-row
generator leaves it, so everything else is the row-by-row run.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.config import parse_scenario
from sim.errors import ScenarioError
from sim.journal import JournalGenerator
from sim.rng import Streams
from sim.traffic import weekday

SMALL = {"name": "a", "seed": 5, "topology": {"counties": ["Alpine", "Sierra", "Modoc", "Mono"]},
         "journal": {"start_date": "2018-01-30", "days": 60}, "misuse": {"prevalence_scale": 40}}
TOLERANCE_SD = 4  # a Poisson total is within 4 sd of its mean but once in ~16,000 runs


def generator(mode, days=60, seed=5, **over) -> JournalGenerator:
    return JournalGenerator(parse_scenario({**SMALL, **over}), Streams(seed), days=days, automated=mode)


def human(chunk) -> pa.Table:
    """The day's operator and misuse rows, without query ids (those number automated rows too)."""
    j = chunk.journal
    return j.filter(pc.is_valid(j.column("operator"))).drop_columns(["query_id"])


def test_count_mode_gives_the_rows_mode_run_without_its_automated_rows():
    rows_gen, count_gen = generator("rows", days=5), generator("count", days=5)
    for rows_chunk, count_chunk in zip(rows_gen.days(), count_gen.days(), strict=True):
        rj, cj = rows_chunk.journal, count_chunk.journal
        n_auto = rj.num_rows - pc.sum(pc.is_valid(rj.column("operator"))).as_py()
        assert n_auto > 1000  # the small world still logs thousands of automated checks a day
        # the same count, the same operator and misuse rows, the same answer key
        assert count_chunk.automated_rows == rows_chunk.automated_rows == n_auto
        assert cj.num_rows == rj.num_rows - n_auto
        assert pc.all(pc.is_valid(cj.column("operator"))).as_py()  # no automated rows in the table
        assert human(count_chunk).equals(human(rows_chunk))
        assert count_chunk.truth.num_rows == rows_chunk.truth.num_rows > 0
        assert count_chunk.truth.drop_columns(["query_id"]).equals(rows_chunk.truth.drop_columns(["query_id"]))
        assert (count_chunk.misuse_rows, count_chunk.lawful_rows + n_auto) == \
            (rows_chunk.misuse_rows, rows_chunk.lawful_rows)
        # the answer key still names the right journal rows
        qid = cj.column("query_id").to_numpy()
        assert np.isin(count_chunk.truth.column("query_id").to_numpy(), qid).all()
    # the stream is where the rows mode left it: the next draws agree
    assert rows_gen.lawful.rng.random() == count_gen.lawful.rng.random()


def test_none_mode_counts_nothing_and_bools_are_the_old_spellings():
    assert all(c.automated_rows == 0 for c in generator("none", days=2).days())
    assert generator(True, days=1).automated_mode == "rows"
    assert generator(False, days=1).automated_mode == "none"
    with pytest.raises(ValueError, match="automated"):
        generator("sometimes", days=1)


def expected_total(gen: JournalGenerator, days: range) -> float:
    """Sum of the daily Poisson means, computed here from the configuration, not the code."""
    lawful = gen.lawful
    active_devices = int(lawful.agency_active[gen.world.device_agency].sum())
    per_device = gen.scenario.journal.queries.automated_per_device_day
    weekly = np.asarray(gen.scenario.journal.queries.weekly)
    return sum(per_device * weekly[weekday(d)] / weekly.mean() * active_devices for d in days)


def test_daily_counts_follow_the_poisson_mean():
    g = generator("count", days=60)
    days = range(g.first_day, g.first_day + g.n_days)
    total = sum(g.day(d, k).automated_rows for k, d in enumerate(days))
    mean = expected_total(g, days)
    assert mean > 100_000
    assert abs(total - mean) < TOLERANCE_SD * math.sqrt(mean), (total, mean)


def test_suspended_agencies_devices_are_not_counted():
    g = generator("count", days=60)
    w, lawful = g.world, g.lawful
    # suspend the agency with the most devices (as the CAC does)
    big = int(np.bincount(w.device_agency).argmax())
    share = np.mean(w.device_agency == big)
    assert share > 0.02
    lawful.agency_active[big] = False
    days = range(g.first_day, g.first_day + g.n_days)
    total = sum(g.day(d, k).automated_rows for k, d in enumerate(days))
    mean = expected_total(g, days)
    lawful.agency_active[big] = True
    with_big = expected_total(g, days)
    assert with_big - mean > 2 * TOLERANCE_SD * math.sqrt(with_big)  # the test can tell them apart
    assert abs(total - mean) < TOLERANCE_SD * math.sqrt(mean), (total, mean, with_big)


def test_excluded_oris_count_as_the_rows_mode_does():
    probe = generator("count", days=1)
    oris = probe.world.oris
    big = int(np.bincount(probe.world.device_agency).argmax())
    excluded = oris.loc[oris["agency"] == big, "ori"].tolist()
    over = {"topology": {**SMALL["topology"], "excluded_oris": excluded}}
    rows_gen, count_gen = generator("rows", days=3, **over), generator("count", days=3, **over)
    assert not count_gen.lawful.agency_active[big]
    for rc, cc in zip(rows_gen.days(), count_gen.days(), strict=True):
        terminals = rc.journal.column("terminal").combine_chunks()
        devices = terminals.indices.to_numpy()
        assert not (rows_gen.world.device_agency[devices] == big).any()
        assert cc.automated_rows == rc.automated_rows > 0


def test_oversight_config_takes_the_mode():
    def mode(value):
        s = parse_scenario({"name": "o", "model": "oversight", "oversight": {"automated_rows": value}})
        return s.oversight.automated_rows

    assert parse_scenario({"name": "o", "model": "oversight"}).oversight.automated_rows == "count"
    assert [mode(v) for v in ("none", "count", "rows", True, False)] == \
        ["none", "count", "rows", "rows", "none"]
    with pytest.raises(ScenarioError, match="automated_rows.*'none', 'count' or 'rows'"):
        mode("all")
