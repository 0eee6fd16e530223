"""The record of a run's messages and transactions, and what the sender saw of them.

Every message ends in exactly one *fate* recorded in `MessageLog`: delivered, rejected (reason,
where) or lost (reason, where); messages with no fate at the horizon are pending.
`MessageLog.final_states` turns fates into the four states users see (answered / rejected /
timed_out / in_flight) from the sender's point of view, using the response timeout. With
fan-out or resends, `TransactionLog` holds the transactions (one inquiry or administrative
message each) and `TransactionLog.final_states` gives each its single state.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

# fates (internal) ------------------------------------------------------------
PENDING, DELIVERED, REJECTED, LOST = 0, 1, 2, 3
# states (what the sender sees) -----------------------------------------------
STATES = ("in_flight", "answered", "rejected", "timed_out")
IN_FLIGHT, ANSWERED, S_REJECTED, TIMED_OUT = range(4)

REASONS = (
    "",  # none
    "buffer_full",
    "node_down",
    "link_down",
    "radio_loss",
    "failed_in_node",
    "no_response",
    "late_response",
)
R_NONE, R_BUFFER, R_DOWN, R_LINK, R_RADIO, R_FAILED, R_NO_RESPONSE, R_LATE = range(len(REASONS))


class MessageLog:
    """Columnar record of every generated message. Columns set during the run are plain lists
    (cheapest to set; their values are small cached ints, or floats); columns written once are
    typed arrays (a quarter of a list's memory over a day's ~3 million messages)."""

    def __init__(self) -> None:
        self.created = array("d")
        self.route = array("i")  # route id (the model knows what it means)
        self.origin = array("i")  # originating device index (-1 when not tracked)
        self.fate: list[int] = []
        self.end: list[float] = []
        self.reason: list[int] = []
        self.where = array("i")  # station index where it failed, -1 otherwise
        self.finalized = 0  # number of fate assignments (must equal non-pending count)
        # with fan-out or resends: the transaction and attempt (0 = first send) of each message
        self.txn = array("i")
        self.attempt = array("i")

    def __len__(self) -> int:
        return len(self.created)

    def add(self, times: np.ndarray, route_ids: np.ndarray, origin: np.ndarray | None = None) -> int:
        """Register a batch; returns the id of its first message."""
        first = len(self.created)
        n = len(times)
        self.created.frombytes(np.ascontiguousarray(times, dtype=np.float64).tobytes())
        self.route.frombytes(np.ascontiguousarray(route_ids, dtype=np.int32).tobytes())
        self.origin.frombytes((np.ascontiguousarray(origin, dtype=np.int32) if origin is not None
                               else np.full(n, -1, dtype=np.int32)).tobytes())
        self.fate.extend([PENDING] * n)
        self.end.extend([math.nan] * n)
        self.reason.extend([R_NONE] * n)
        self.where.frombytes(np.full(n, -1, dtype=np.int32).tobytes())
        return first

    def final_states(self, horizon: float, timeout: float) -> tuple[np.ndarray, np.ndarray]:
        """(state, reason) per message as the sender sees them at the horizon."""
        fate = np.asarray(self.fate, dtype=np.int8)
        created = np.asarray(self.created)
        end = np.asarray(self.end)
        reason = np.asarray(self.reason, dtype=np.int8).copy()
        state = np.full(len(fate), IN_FLIGHT, dtype=np.int8)
        gave_up = created + timeout <= horizon  # the sender's timer has expired by the horizon
        delivered = fate == DELIVERED
        late = delivered & (end - created > timeout)
        state[delivered & ~late] = ANSWERED
        state[late] = TIMED_OUT
        reason[late] = R_LATE
        state[fate == REJECTED] = S_REJECTED
        lost = fate == LOST
        state[lost & gave_up] = TIMED_OUT
        pending = fate == PENDING
        state[pending & gave_up] = TIMED_OUT
        reason[pending & gave_up] = R_NO_RESPONSE
        return state, reason


class TransactionLog:
    """Columnar record of transactions (one inquiry or administrative message each) when
    inquiries fan out or are resent; their messages are in `MessageLog` (``txn``, ``attempt``)."""

    def __init__(self) -> None:
        self.created: list[float] = []
        self.route: list[int] = []  # route id of the first database's message (describes it)
        self.origin: list[int] = []
        self.key: list[int] = []  # message key index (-1: admin, or none drawn)
        self.plan: list = []  # (up hops, legs, route ids), shared by equal transactions
        self.full: list[int] = []  # bit mask of its databases (one bit per leg)
        self.got: list[int] = []  # legs answered so far (by any copy)
        self.attempts: list[int] = []  # sends so far (1 + resends)
        self.last_send: list[float] = []
        self.first: list[float] = []  # first response of any database (nan: none yet)
        self.complete: list[float] = []  # last database's first response (nan: incomplete)

    def __len__(self) -> int:
        return len(self.created)

    def final_states(self, log: MessageLog, horizon: float, timeout: float, max_attempts: int
                     ) -> dict[str, np.ndarray]:
        """State, reason, where and end time per transaction, from the sender's point of view.

        The sender gives up ``timeout`` after its last allowed attempt (G); before that it
        keeps resending while incomplete. *answered*: every database answered (any copy) by G;
        *timed_out*: complete after G (``late_response``), or incomplete at G <= horizon
        (reason of the last attempt's first lost message, else ``no_response``); *rejected*:
        incomplete and every message of the last allowed attempt came back answered or rejected,
        at least one rejected (reason and where of the first); *in_flight* otherwise."""
        n = len(self.created)
        created = np.asarray(self.created)
        complete = np.asarray(self.complete)
        attempts = np.asarray(self.attempts, dtype=np.int64)
        last_send = np.asarray(self.last_send)
        give_up = np.where(attempts >= max_attempts, last_send + timeout, np.inf)
        txn = np.asarray(log.txn, dtype=np.int64)
        last = np.asarray(log.attempt, dtype=np.int64) == attempts[txn] - 1
        fate = np.asarray(log.fate, dtype=np.int8)
        m_end = np.asarray(log.end)
        m_reason = np.asarray(log.reason, dtype=np.int8)
        m_where = np.asarray(log.where, dtype=np.int32)

        def count(mask):
            return np.bincount(txn[mask], minlength=n)

        def first_of(mask, values, fill):
            """Per transaction, `values` of its first message (by id) selected by `mask`."""
            out = np.full(n, fill, dtype=values.dtype)
            idx = np.flatnonzero(mask)
            t, at = np.unique(txn[idx], return_index=True)
            out[t] = values[idx[at]]
            return out

        rej_last = last & (fate == REJECTED)
        open_last = last & ((fate == LOST) | (fate == PENDING))
        heard_failed = (count(rej_last) > 0) & (count(open_last) == 0)
        lost_last = last & (fate == LOST)
        done = ~np.isnan(complete)
        state = np.full(n, IN_FLIGHT, dtype=np.int8)
        reason = np.zeros(n, dtype=np.int8)
        where = np.full(n, -1, dtype=np.int32)
        answered = done & (complete <= give_up)
        state[answered] = ANSWERED
        late = done & ~answered
        state[late] = TIMED_OUT
        reason[late] = R_LATE
        rejected = ~done & heard_failed & (attempts >= max_attempts)
        state[rejected] = S_REJECTED
        reason[rejected] = first_of(rej_last, m_reason, 0)[rejected]
        where[rejected] = first_of(rej_last, m_where, -1)[rejected]
        gave_up = ~done & ~rejected & (give_up <= horizon)
        state[gave_up] = TIMED_OUT
        lost_reason = first_of(lost_last, m_reason, R_NO_RESPONSE)
        reason[gave_up] = lost_reason[gave_up]
        where[gave_up] = np.where(lost_reason[gave_up] == R_NO_RESPONSE, -1,
                                  first_of(lost_last, m_where, -1)[gave_up])
        # end: the last response when complete, else the last settled message's end
        settled = np.flatnonzero(fate != PENDING)
        end = np.full(n, -np.inf)
        np.maximum.at(end, txn[settled], m_end[settled])
        end = np.where(done, complete, np.where(np.isinf(end), np.nan, end))
        messages = np.bincount(txn, minlength=n)
        return {"state": state, "reason": reason, "where": where, "end": end,
                "first": np.asarray(self.first), "messages": messages, "attempts": attempts,
                "created": created}
