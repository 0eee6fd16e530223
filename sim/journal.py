"""The audit journal: Arrow schema, day-by-day generation, Parquet writer and reader.

The journal is what CLETS logs: one row per transaction (who, from which terminal,
which key, which database, whom, for what stated purpose, with which case number and
right to know).
The answer key is kept apart: a *truth* table keyed by ``query_id`` holding only the
misuse rows (a query absent from it is lawful), and an *incidents* table. A
`DayChunk` carries the two tables side by side, and `journal_tables` hands
consumers (detection) the journal alone.

On disk (``clets journal``)::

    <out>/journal/month=YYYY-MM/part-0.parquet   journal rows (full, or sampled)
    <out>/truth.parquet                          answer key: query_id, category, archetype, incident_id
    <out>/incidents.parquet                      incidents: archetype, actors, victims, dates
    <out>/operators.parquet, oris.parquet        the world's personnel and ORIs (not truth)
    <out>/manifest.json                          scenario, seed, mode, sample rate, counts

Memory stays bounded by one day's rows whatever the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterator

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.catalogue import (
    ANSWER_KEY_FIELDS,
    ARCHETYPES,
    CATEGORY_NAMES,
    KEY_NAMES,
    PURPOSES,
    RIGHT_TO_KNOW,
)
from sim.config import DATABASES, Scenario
from sim.misuse import MisuseGenerator, MisuseSet
from sim.rng import Streams
from sim.traffic import (
    ACHS_KEY_IDX,
    DAY,
    ROW_FIELDS,
    LawfulTraffic,
    concat_rows,
    empty_rows,
    key_database,
    merge_sorted,
)
from sim.world import WorldModel, build_world, day_number

JOURNAL_SCHEMA = pa.schema([
    ("query_id", pa.int64()),
    ("time", pa.timestamp("s")),
    ("operator", pa.int32()),  # null: automated system check
    ("requestor", pa.int32()),  # null: the operator asked for themself
    ("ori", pa.dictionary(pa.int32(), pa.string())),
    ("terminal", pa.dictionary(pa.int32(), pa.string())),
    ("device_kind", pa.dictionary(pa.int8(), pa.string())),
    ("key", pa.dictionary(pa.int8(), pa.string())),
    ("database", pa.dictionary(pa.int8(), pa.string())),
    ("subject", pa.int32()),
    ("purpose", pa.dictionary(pa.int8(), pa.string())),
    ("case_number", pa.int64()),  # null: none entered
    ("right_to_know", pa.dictionary(pa.int8(), pa.string())),  # ACHS authority; null: none entered
])
TRUTH_FIELDS = ANSWER_KEY_FIELDS
TRUTH_SCHEMA = pa.schema([
    ("query_id", pa.int64()),
    ("is_misuse", pa.bool_()),
    ("category", pa.dictionary(pa.int16(), pa.string())),
    ("archetype", pa.dictionary(pa.int8(), pa.string())),
    ("incident_id", pa.int32()),
])


@dataclass
class DayChunk:
    day: int  # days since 1970
    journal: pa.Table
    truth: pa.Table  # misuse rows only
    lawful_rows: int
    misuse_rows: int
    misuse_index: np.ndarray | None = None  # per truth row: its index in the horizon's misuse set
    # the day's automated checks (CAD/LPR/MDT, no operator), whatever the mode: rows in the
    # journal ("rows"), counted but not generated ("count"), 0 when not simulated ("none")
    automated_rows: int = 0


AUTOMATED_MODES = ("none", "count", "rows")


def automated_mode(value: bool | str) -> str:
    """'rows', 'count' or 'none' (True and False are the older spellings of rows and none)."""
    if value is True or value is False:
        return "rows" if value else "none"
    if value not in AUTOMATED_MODES:
        raise ValueError(f"automated must be one of {', '.join(AUTOMATED_MODES)} (or a bool), not {value!r}")
    return value


class JournalGenerator:
    """World + lawful traffic + misuse for a scenario; yields one `DayChunk` per day."""

    def __init__(self, scenario: Scenario, streams: Streams, graph: nx.DiGraph | None = None,
                 world: WorldModel | None = None, days: int | None = None,
                 automated: bool | str = True, start: date | None = None):
        from topology.builder import build_topology

        self.scenario = scenario
        self.streams = streams
        jc = scenario.journal
        start = start or jc.start_date
        self.first_day = day_number(start)
        self.n_days = days if days is not None else jc.days
        # automated checks: "rows" in the journal; "count": only their number (DayChunk.automated_rows),
        # same operator and misuse rows as "rows"; "none": neither (operator and misuse rows only)
        self.automated_mode = automated_mode(automated)
        self.automated = self.automated_mode == "rows"  # automated rows in the journal
        self._automated_n = 0  # the last day's automated checks
        if graph is None:
            graph = build_topology(scenario.topology, scenario.network, streams)
        self.graph = graph
        self.world = world or build_world(graph, scenario.world, streams, start)
        self.world.excluded_oris = list(scenario.topology.excluded_oris)
        self.lawful = LawfulTraffic(self.world, jc.queries, scenario.traffic.diurnal,
                                    streams.fresh("traffic"),
                                    streams.seed_sequence("traffic.automated"))
        self.misuse: MisuseSet = MisuseGenerator(self.world, scenario.misuse, self.lawful,
                                                 streams.fresh("misuse"),
                                                 streams.fresh("misuse:right_to_know")).generate(
            self.first_day, self.n_days)
        w = self.world
        self._ori_dict = pa.array(w.oris["ori"].tolist(), pa.string())
        self._term_dict = pa.array(w.device_names, pa.string())
        self._dict = {
            "device_kind": pa.array(["terminal", "mdt"]),
            "key": pa.array(list(KEY_NAMES)),
            "database": pa.array(list(DATABASES)),
            "purpose": pa.array(list(PURPOSES)),
            "category": pa.array(list(CATEGORY_NAMES)),
            "archetype": pa.array(list(ARCHETYPES)),
            "right_to_know": pa.array(list(RIGHT_TO_KNOW)),
        }
        mt = self.misuse.rows["time"]
        self._misuse_bounds = np.searchsorted(mt, (self.first_day + np.arange(self.n_days + 1)) * DAY)
        self.next_query_id = 0
        # callable(first, stop, k) -> bool mask over the misuse set's rows first:stop (day k):
        # which of the day's potential misuse rows happen (the oversight loop's deterrence)
        self.misuse_filter: Callable[[int, int, int], np.ndarray] | None = None

    # ------------------------------------------------------------------ days
    def days(self) -> Iterator[DayChunk]:
        for k in range(self.n_days):
            yield self.day(self.first_day + k, k)

    def day(self, day: int, k: int) -> DayChunk:
        """Day `day` (days since 1970), the `k`-th of the horizon: journal and answer key."""
        rows, pos, order, n_ops, mis = self._merged_rows(day, k)
        n_mis = len(mis["time"])
        n = len(rows["time"])
        qid = self.next_query_id + np.arange(n, dtype=np.int64)
        self.next_query_id += n
        # misuse rows are the small rows with index >= n_ops
        is_mis = order >= n_ops
        mis_pos = pos[is_mis]
        mis_idx = order[is_mis] - n_ops
        truth = pa.table({
            "query_id": pa.array(qid[mis_pos]),
            "is_misuse": pa.array(np.ones(len(mis_pos), dtype=bool)),
            "category": self._dictionary(mis["category"][mis_idx], "category", pa.int16()),
            "archetype": self._dictionary(mis["archetype"][mis_idx], "archetype", pa.int8()),
            "incident_id": pa.array(mis["incident_id"][mis_idx]),
        }, schema=TRUTH_SCHEMA)
        rtk = self._right_to_know(day, rows["key"], pos[~is_mis], mis_pos, mis["right_to_know"][mis_idx])
        return DayChunk(day, self._to_table(rows, qid, rtk), truth, n - n_mis, int(n_mis),
                        misuse_index=mis["_index"][mis_idx], automated_rows=self._automated_n)

    def rows(self, day: int, k: int) -> dict[str, np.ndarray]:
        """The day's journal rows as plain arrays (what the message-level model replays)."""
        return self._merged_rows(day, k)[0]

    def _merged_rows(self, day: int, k: int):
        """Operator rows and the day's misuse rows merged, in time order, into the automated rows."""
        ops = self.lawful.operator_rows(day)
        a, b = self._misuse_bounds[k], self._misuse_bounds[k + 1]
        mis = {f: v[a:b] for f, v in self.misuse.rows.items()}
        mis["_index"] = np.arange(a, b)
        # people who were dismissed or suspended, and sanctioned agencies, stop misusing too
        op = mis["operator"]
        live = self.lawful.active[op] & self.lawful.agency_active[self.world.operators.agency[op]]
        if self.misuse_filter is not None:  # oversight: hazards that deterrence lowers
            live = live & self.misuse_filter(a, b, k)
        if not live.all():
            mis = {f: v[live] for f, v in mis.items()}
        small = concat_rows([ops, {f: mis[f] for f in ROW_FIELDS}])
        auto = self.lawful.automated_rows(day) if self.automated else empty_rows()
        # count mode: the same count the rows would have (a per-day stream of its own)
        self._automated_n = (len(auto["time"]) if self.automated else
                             self.lawful.automated_count(day) if self.automated_mode == "count" else 0)
        rows, pos, order = merge_sorted(auto, small)
        return rows, pos, order, len(ops["time"]), mis

    def _dictionary(self, idx: np.ndarray, name: str, index_type) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(idx, index_type), self._dict[name])

    def _right_to_know(self, day: int, keys: np.ndarray, lawful_pos: np.ndarray,
                       mis_pos: np.ndarray, mis_rtk: np.ndarray) -> np.ndarray:
        """Right-to-know codes (-1 none): misuse rows keep theirs; lawful operator ACHS rows
        enter the criminal-justice authority at the configured rate. A per-day stream of its
        own, so no other column's draws change and any day can be regenerated alone."""
        rtk = np.full(len(keys), -1, dtype=np.int8)
        achs = lawful_pos[np.isin(keys[lawful_pos], ACHS_KEY_IDX)]
        u = self.streams.fresh(f"right_to_know:{day}").random(len(achs))
        p = self.lawful.cfg.achs_right_to_know_probability
        rtk[achs[u < p]] = RIGHT_TO_KNOW.index("PC 11105")
        rtk[mis_pos] = mis_rtk
        return rtk

    def _to_table(self, rows: dict[str, np.ndarray], qid: np.ndarray,
                  right_to_know: np.ndarray | None = None) -> pa.Table:
        rtk = np.full(len(qid), -1, dtype=np.int8) if right_to_know is None else right_to_know
        op, req, case = rows["operator"], rows["requestor"], rows["case_number"]
        device = rows["device"]
        return pa.table({
            "query_id": pa.array(qid),
            "time": pa.array(rows["time"].view("datetime64[s]")),
            "operator": pa.array(op, mask=op < 0),
            "requestor": pa.array(req, mask=req < 0),
            "ori": pa.DictionaryArray.from_arrays(pa.array(rows["ori"]), self._ori_dict),
            "terminal": pa.DictionaryArray.from_arrays(pa.array(device), self._term_dict),
            "device_kind": self._dictionary(self.world.device_kind[device], "device_kind", pa.int8()),
            "key": self._dictionary(rows["key"], "key", pa.int8()),
            "database": self._dictionary(key_database(rows["key"]), "database", pa.int8()),
            "subject": pa.array(rows["subject"]),
            "purpose": self._dictionary(rows["purpose"], "purpose", pa.int8()),
            "case_number": pa.array(case, mask=case == 0),
            "right_to_know": pa.DictionaryArray.from_arrays(pa.array(rtk, pa.int8(), mask=rtk < 0),
                                                            self._dict["right_to_know"]),
        }, schema=JOURNAL_SCHEMA)


def journal_tables(chunks: Iterator[DayChunk]) -> Iterator[pa.Table]:
    """The journal alone, for consumers that must never see the answer key (detection)."""
    for chunk in chunks:
        yield chunk.journal


# ---------------------------------------------------------------------- writing


@dataclass
class JournalSummary:
    days: int
    rows: int
    written_rows: int
    misuse_rows: int
    by_category: dict[str, int]
    by_archetype: dict[str, int]
    incidents: int
    seconds: float


def write_journal(gen: JournalGenerator, out: Path, mode: str, sample_rate: float,
                  progress: Callable[[int], None] | None = None) -> JournalSummary:
    """Stream the journal to month-partitioned Parquet (or nowhere, mode 'none')."""
    import time as _time

    t0 = _time.perf_counter()
    out = Path(out)
    rng = gen.streams.fresh("sample")
    writer: pq.ParquetWriter | None = None
    month = None
    truth_parts: list[pa.Table] = []
    rows = written = misuse = 0
    for chunk in gen.days():
        rows += chunk.journal.num_rows
        misuse += chunk.misuse_rows
        truth_parts.append(chunk.truth)
        if mode != "none":
            table = chunk.journal
            if mode == "sample":
                keep = rng.random(table.num_rows) < sample_rate
                qid = table.column("query_id").to_numpy()
                keep[np.searchsorted(qid, chunk.truth.column("query_id").to_numpy())] = True
                table = table.filter(pa.array(keep))
            d = date(1970, 1, 1) + timedelta(days=chunk.day)
            m = f"{d.year:04d}-{d.month:02d}"
            if m != month:
                if writer is not None:
                    writer.close()
                part = out / "journal" / f"month={m}"
                part.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(part / "part-0.parquet", JOURNAL_SCHEMA, compression="zstd")
                month = m
            writer.write_table(table, row_group_size=1 << 20)
            written += table.num_rows
        if progress is not None:
            progress(1)
    if writer is not None:
        writer.close()
    truth = pa.concat_tables(truth_parts) if truth_parts else TRUTH_SCHEMA.empty_table()
    incidents = gen.misuse.incidents
    if mode != "none":
        pq.write_table(truth, out / "truth.parquet")
        incidents.to_parquet(out / "incidents.parquet", index=False)
        _world_tables(gen.world, out)
    cats = truth.column("category").to_pandas().value_counts()
    arch = truth.column("archetype").to_pandas().value_counts()
    return JournalSummary(
        days=gen.n_days, rows=rows, written_rows=written, misuse_rows=misuse,
        by_category={str(k): int(v) for k, v in cats.items()},
        by_archetype={str(k): int(v) for k, v in arch.items()},
        incidents=len(incidents), seconds=_time.perf_counter() - t0,
    )


def _world_tables(world: WorldModel, out: Path) -> None:
    """Personnel and ORIs: what an agency knows about its own people (not the answer key)."""
    import pandas as pd

    from sim.config.world import ROLES

    ops = world.operators
    pd.DataFrame({
        "operator": np.arange(len(ops), dtype=np.int32),
        "user_id": ops.user_ids(),
        "ori": world.oris["ori"].to_numpy()[ops.ori],
        "agency": world.agencies["name"].to_numpy()[ops.agency],
        "role": np.asarray(ROLES)[ops.role],
        "subject": ops.subject,
        "home_terminal": np.where(ops.device >= 0, np.asarray(world.device_names, dtype=object)[ops.device], None),
        "shift_start_hour": ops.shift_start,
        "workdays_mask": ops.workdays,
        "hire_date": pd.to_datetime(ops.hire_day, unit="D"),
        "training_date": pd.to_datetime(ops.training_day, unit="D"),
        "last_test_date": pd.to_datetime(ops.test_day, unit="D"),
        "test_score": ops.test_score,
        "renews_test": ops.renews_test,
        "confidentiality_date": pd.to_datetime(ops.confidentiality_day, unit="D"),
        "renews_confidentiality": ops.renews_confidentiality,
        "background_check": ops.background_check,
    }).to_parquet(out / "operators.parquet", index=False)
    world.oris.assign(agency_name=world.agencies["name"].to_numpy()[world.oris["agency"]]).to_parquet(
        out / "oris.parquet", index=False)


def read_journal(directory: Path, columns: list[str] | None = None) -> pa.Table:
    """The journal rows of a written run (all months), without the answer key."""
    return pq.read_table(Path(directory) / "journal", columns=columns)


def iter_journal(directory: Path, batch_rows: int = 1 << 20,
                 columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream the journal month by month in record batches (memory bounded by one batch)."""
    for part in sorted((Path(directory) / "journal").glob("month=*/*.parquet")):
        yield from pq.ParquetFile(part).iter_batches(batch_size=batch_rows, columns=columns)
