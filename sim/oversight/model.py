"""The oversight loop: the processes of this package wired on one SimPy clock (days).

Day 0 is `warmup_days` before `journal.start_date`; the loop runs the reported years and
then a paperwork-only tail (the last forms, census and CAC meetings). Each day the journal
generator logs the day (its misuse thinned by `Behaviour`), detection raises alerts from
the journal alone, and the ledger records what really happened. The processes:

=============  ===========================================  ===============
module         process                                      random stream
=============  ===========================================  ===============
complaints     victims complain about lookups               complaints
cases          monthly reviews; investigations              review, investigation
reporting      HDC 0010 forms, DOJ follow-up, census        reporting, follow_up
audits         DOJ audits of logs and registry              audit
cac            the CAC deliberates and sanctions            cac
behaviour      deterrence and retraining                    deterrence
=============  ===========================================  ===============

Each stream is spawned from the run's root seed by name, so changing one policy never
reshuffles another process's draws (common random numbers).
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import simpy

from sim.caseviewer.record import CaseRecorder
from sim.config import Scenario
from sim.detection import Detector, HumanRows, Registry, empty_alerts
from sim.journal import JournalGenerator
from sim.oversight.audits import Audits
from sim.oversight.behaviour import Behaviour
from sim.oversight.cac import Cac
from sim.oversight.cases import Cases
from sim.oversight.clock import Clock
from sim.oversight.complaints import Complaints
from sim.oversight.ledger import Ledger
from sim.oversight.reporting import Reporting
from sim.oversight.results import OversightResult, build_result
from sim.rng import Streams
from sim.world import day_number

STREAMS = ("complaints", "review", "investigation", "reporting", "follow_up", "audit", "cac",
           "deterrence")


class OversightModel:
    def __init__(self, scenario: Scenario, streams: Streams, graph=None):
        self.scenario = scenario
        self.cfg = cfg = scenario.oversight
        self.streams = streams
        self.rngs = {name: streams.fresh(f"oversight.{name}") for name in STREAMS}
        self.start = start = scenario.journal.start_date  # the first reported year starts here
        sim_start = start - timedelta(days=cfg.warmup_days)
        end = date(start.year + cfg.years, 1, 1)
        fu = cfg.follow_up
        outreach = fu.calls_after_deadline * fu.call_interval_days if fu.regime == "proactive" else 0
        # run past the last year's deadline, census and outreach, and long enough after it for
        # the CAC to deliberate on (and act on) the last items: one meeting gap per discussion
        days = sorted(cfg.cac.meeting_days_of_year)
        gap = max(b - a for a, b in zip(days, days[1:] + [days[0] + 365]))
        tail = 31 + max(cfg.reporting.census_days_after_deadline, outreach) \
            + (cfg.cac.deliberation_meetings + 1) * gap
        self.tail_days = tail
        self.clock = Clock(day_number(sim_start))
        self.first_day = self.clock.first_day
        # the journal runs to the end of the reported years, or `days` from the start (a teaching
        # run); after it, paperwork only
        journal_end = start + timedelta(days=cfg.days) if cfg.days else end
        self.journal_days = (journal_end - sim_start).days
        self.n_days = (end - sim_start).days + tail
        self.gen = JournalGenerator(scenario, streams, graph=graph, days=self.journal_days,
                                    automated=cfg.automated_rows, start=sim_start)
        self.world = w = self.gen.world
        self.lawful = self.gen.lawful
        self.registry = Registry.from_world(w, cfg.detection.rules.known_relation_share,
                                            streams.fresh("registry"))
        self.detector = Detector(cfg.detection, self.registry, streams.fresh("detection"))
        self.env = simpy.Environment()
        self.n_ag = len(w.agencies)
        self.removed = np.zeros(self.n_ag, dtype=bool)
        self.dismissed = np.zeros(len(w.operators), dtype=bool)  # terminated or resigned: never back
        self.ledger = Ledger(len(w.operators), self.journal_days)
        self.behaviour = Behaviour(self)
        self.complaints = Complaints(self)
        self.cases = Cases(self)
        self.reporting = Reporting(self)
        self.audits = Audits(self)
        self.cac = Cac(self)
        self.gen.misuse_filter = self.behaviour.keep
        self._alert_parts: list[pd.DataFrame] = []
        self._next_alert_id = 0
        self.alert_columns = AlertColumns()
        self.volume_by_year: dict[int, dict[str, int]] = {}
        self.potential_by_year: dict[int, int] = {}
        # answer-key side, never read by detection: what the trainer's case viewer shows
        self.case_records = CaseRecorder(self)

    # former attribute names (tests, benchmarks)
    @property
    def level(self) -> np.ndarray:
        return self.cac.level

    def k_of(self, d: date) -> int:
        return self.clock.k_of(d)

    def date_of(self, k: int) -> date:
        return self.clock.date_of(k)

    # ------------------------------------------------------------------ run
    def run(self, progress=None) -> OversightResult:
        t0 = time.perf_counter()
        env = self.env
        env.process(self._days(progress))
        env.process(self.cases.reviews())
        env.process(self.cases.internal_affairs(self.gen.misuse.incidents))
        env.process(self.reporting.bulletin())
        env.process(self.reporting.seasons())
        env.process(self.cac.process())
        env.process(self.audits.process())
        env.run(until=self.n_days)
        for k, n in self.behaviour.potential_by_k.items():
            y = self.clock.date_of(k).year
            self.potential_by_year[y] = self.potential_by_year.get(y, 0) + n
        result = build_result(self)
        result.summary["wall_s"] = round(time.perf_counter() - t0, 2)
        return result

    def _days(self, progress):
        env = self.env
        for k in range(self.n_days):
            if k < self.journal_days:
                self._journal_day(k)
            self._enqueue(self.complaints.arriving(k))
            if progress is not None:
                progress(1)
            yield env.timeout(1)

    def _journal_day(self, k: int) -> None:
        day = self.clock.abs(k)
        chunk = self.gen.day(day, k)
        rows = HumanRows.from_journal(chunk.journal)
        vol = self.volume_by_year.setdefault(self.clock.date_of(k).year, {"operator": 0, "automated": 0})
        vol["operator"] += len(rows.query_id)
        vol["automated"] += int(chunk.automated_rows)  # generated or only counted
        self.ledger.log_day(k, day, rows.operator)
        misuse = None
        if chunk.truth.num_rows:
            op = rows.operator[np.searchsorted(rows.query_id, chunk.truth.column("query_id").to_numpy())]
            misuse = self.ledger.log_misuse(k, day, chunk, op)
        self.complaints.on_day(k, rows, misuse, chunk.misuse_index)
        alerts = self.detector.run_rows(rows, day)
        self.case_records.on_day(k, day, chunk, rows, alerts)
        self._enqueue(alerts)
        if self.clock.date_of(k + 1).day == 1 or k + 1 == self.journal_days:
            self._enqueue(self.detector.end_month(day))

    def _enqueue(self, alerts: pd.DataFrame | None) -> None:
        if alerts is None or alerts.empty:
            return
        n = len(alerts)
        ids = np.arange(self._next_alert_id, self._next_alert_id + n, dtype=np.int64)
        self._next_alert_id += n
        alerts = alerts.assign(alert_id=ids)
        self._alert_parts.append(alerts)
        self.alert_columns.append(alerts)
        self.cases.enqueue(alerts, ids)

    def alert_table(self) -> pd.DataFrame:
        """Every alert so far, indexed by alert id."""
        if not self._alert_parts:
            return empty_alerts().assign(alert_id=pd.Series(dtype=np.int64))
        if len(self._alert_parts) > 1:
            self._alert_parts = [pd.concat(self._alert_parts, ignore_index=True)]
        return self._alert_parts[0]


class AlertColumns:
    """What reviews read of every alert so far (query, operator, kind, score), as arrays that
    grow by doubling: a month's review never re-copies millions of earlier alerts."""

    FIELDS = {"query_id": np.float64, "operator": np.int64, "kind": np.int8, "score": np.float64}

    def __init__(self):
        self.n = 0
        self.data = {f: np.zeros(1024, dtype=t) for f, t in self.FIELDS.items()}

    def append(self, alerts: pd.DataFrame) -> None:
        m = len(alerts)
        if self.n + m > len(self.data["score"]):
            cap = max(2 * len(self.data["score"]), self.n + m)
            for f, arr in self.data.items():
                grown = np.zeros(cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self.data[f] = grown
        new = {"query_id": alerts["query_id"].to_numpy(dtype=np.float64, na_value=np.nan),
               "operator": alerts["operator"].to_numpy(), "kind": alerts["kind"].cat.codes.to_numpy(),
               "score": alerts["score"].to_numpy()}
        for f, arr in self.data.items():
            arr[self.n:self.n + m] = new[f]
        self.n += m

    def __getitem__(self, field: str) -> np.ndarray:
        return self.data[field][: self.n]


def simulate_oversight(scenario: Scenario, seed: int | None = None, progress=None) -> OversightResult:
    """Run the oversight loop of a scenario (its `oversight.years` from `journal.start_date`)."""
    streams = Streams(seed if seed is not None else scenario.seed)
    return OversightModel(scenario, streams).run(progress)
