"""The SimPy message path: messages walk a precomputed route of (link, switch) hops.

A route is a tuple of hops ``(delay, link, station, outbound)``: wait ``delay``
on ``link`` (latency + size/bandwidth, precomputed for the message size), then
queue and be served at ``station`` (a `Station`, or the `HubRole` which resolves to
the active hub site). The last hop has ``station=None``: the message has reached
the terminal (or, for administrative traffic, the last hop is the destination
agency). ``outbound`` says whether a failure there can still be reported to the
sender (rejected) or only leaves the sender waiting (lost -> timed out).

Every message ends in exactly one *fate* recorded in `MessageLog`:
delivered, rejected (reason, where) or lost (reason, where); messages with no fate
at the horizon are pending. `MessageLog.final_states` turns fates into the four
states users see (answered / rejected / timed_out / in_flight) from the sender's
point of view, using the response timeout.

With fan-out or resends on (`network.fan_out`, `network.resend.max`), the unit the sender
sees is a *transaction* (`TransactionLog`: one inquiry or administrative message) and the
log holds its *messages*: one per database of the inquiry's fan-out and per attempt
(`_send`). An attempt walks its route to and through the hub once (`_walk`), then splits
into one leg per database: database, hub, MSC, agency, device. A failure before the
split settles every message of the attempt the same way. A resend (`_resender`) sends all the
inquiry's messages again; older copies still in queues are served too (store and forward)
and the first copy of each database's response counts. `TransactionLog.final_states` gives
each transaction its single state. With both options off each transaction is one message
walking its whole route (`_walk` without a transaction).

Speed (the same results, event for event): switches and circuits no fault can take down are
*steady* (`QueueNet.mark_steady`); a message leaving a steady switch over a steady circuit
takes its service and the circuit as one wait, and the switch settles the departure itself
(`Station.flush`). Waits on circuits, in a switch's queue and in service at a steady switch
put the message process itself in the event queue (`_SELF`), and a message's last circuit
before the horizon needs no event at all.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from heapq import heappop, heappush

import numpy as np
from simpy import Environment, Event, Interrupt, Timeout
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import PENDING as _NOT_TRIGGERED
from simpy.events import URGENT, Initialize, Process

from sim.stations import HubRole, Station

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

Hop = tuple  # (delay: float, link: LinkState | None, station: Station | HubRole | None, outbound: bool)


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


class FastEnvironment(Environment):
    """`simpy.Environment` whose `run` processes events in an inlined loop (the body of
    `Environment.step`, without a method call per event): same events, same order. It keeps
    the key (time, priority, id, event) of the event being processed in `_cur`: a steady
    station settles its lazy departures against it (`Station.flush`)."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self._cur = (self._now, URGENT, -1, None)

    def step(self) -> None:
        if self._queue:
            self._cur = self._queue[0]
        super().step()

    def run(self, until=None):
        if until is not None:
            if not isinstance(until, Event):
                at = until if isinstance(until, int) else float(until)
                if at <= self._now:
                    raise ValueError(f"until ({at}) must be greater than the current simulation time")
                until = Event(self)
                until._ok = True
                until._value = None
                self.schedule(until, URGENT, at - self._now)
            elif until.callbacks is None:
                return until.value
            until.callbacks.append(StopSimulation.callback)
        queue = self._queue
        message = _Message
        selfwake = _SELF
        try:
            while True:
                try:
                    self._cur = cur = heappop(queue)
                except IndexError:
                    raise EmptySchedule from None
                self._now = cur[0]
                event = cur[3]
                if event.__class__ is message:  # a message waking itself (`_Message`):
                    # `_Message._resume(_SELF)`, inlined for its commonest case
                    self._active_proc = event
                    try:
                        target = event._generator.send(None)
                    except StopIteration:
                        event._finish()
                        continue
                    if target is not selfwake:  # (woken here, its target was `_SELF`)
                        if target.callbacks is not None:
                            target.callbacks.append(event._resume)
                        else:  # already processed: go on the general way
                            event._resume(target)
                            continue
                        event._target = target
                    self._active_proc = None
                    continue
                callbacks, event.callbacks = event.callbacks, None
                try:
                    for callback in callbacks:
                        callback(event)
                except StopSimulation:
                    event.callbacks = callbacks[callbacks.index(callback) + 1:]
                    self.schedule(event, -1)
                    raise
                if not event._ok and not hasattr(event, "_defused"):
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            if until is not None:
                assert not until.triggered
                raise RuntimeError(f'No scheduled events left but "until" event was not '
                                   f"triggered: {until}") from None
        return None


class _Wake:
    """What the walk schedules for a Timeout of its own: all the event loop and `_Message`
    look at (its callbacks; ok, value None), without a SimPy Timeout's instance dict."""

    __slots__ = ("callbacks",)
    _ok = True
    _value = None


class _SelfWake:
    """What a message yields after scheduling its own process in the event queue: the loop
    resumes the process directly (`FastEnvironment.run`). Nothing is registered with it (its
    callbacks drop what is appended); only waits that nothing can interrupt use it."""

    __slots__ = ()
    callbacks = deque(maxlen=0)
    _ok = True
    _value = None


_SELF = _SelfWake()


class _Message(Process):
    """A message's SimPy process, cheaper than `simpy.Process` in three ways that leave the
    order of every other event unchanged:

    - it may start at a later time `at` (after its first link: the sender has already checked
      the link and drawn its losses) with one entry in the event queue instead of an
      Initialize event followed by a Timeout; with ``at=None`` it starts at once like any
      process (urgent Initialize);
    - a wait nothing can interrupt (a link, a switch's queue, a service at a steady switch) is
      the process itself in the event queue, resumed by the loop without an event object
      (`_SELF`); a waiting message is put there by the departure (or failure) that wakes it;
    - when its generator ends it schedules no completion event: nothing ever waits on a
      message process, so that event would do nothing.
    """

    def __init__(self, env: Environment, generator, at: float | None = None):
        self.env = env
        self.callbacks = []
        self._value = _NOT_TRIGGERED
        self._generator = generator
        if at is None:
            self._target = Initialize(env, self)
        else:
            heappush(env._queue, (at, 1, next(env._eid), self))
            self._target = _SELF

    def _finish(self) -> None:
        """The generator has ended."""
        self._ok = True
        self._value = None
        self.callbacks = None  # processed: nothing waits on it
        self.env._active_proc = None

    def _resume(self, event: Event) -> None:
        env = self.env
        env._active_proc = self
        gen = self._generator
        while True:
            try:
                if event._ok:
                    event = gen.send(event._value)
                else:  # an Interrupt (a station failed during its service)
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = gen.throw(exc)
            except StopIteration:
                self._finish()
                return
            if event.callbacks is not None:
                event.callbacks.append(self._resume)
                break
        self._target = event
        env._active_proc = None


class QueueNet:
    """A network of stations driven by SimPy message processes along fixed routes."""

    def __init__(self, env: Environment | None = None):
        self.env = env or FastEnvironment()
        self.stations: list[Station] = []
        self._station_index: dict[int, int] = {}  # id(station) -> position, for `where`
        self.routes: list[tuple[Hop, ...]] = []  # route id -> hops
        self.log = MessageLog()
        # run horizon when known (`sim.runner` sets it): a message whose last link ends before it
        # is delivered at once, at the link's end time, without an event of its own
        self.horizon: float | None = None
        # links that never go down and never lose frames (the model says which): a message
        # whose first link is one of these needs no check at its arrival instant
        self.steady_links: set = set()
        # fan-out / resends (`use_transactions`); None: one message per transaction
        self.tx: TransactionLog | None = None
        self.resend_max = 0
        self.resend_after = math.inf  # timeout + delay: from a send to its resend
        self._resend_q: deque = deque()
        self._resend_wake: Event | None = None

    def use_transactions(self, resend_max: int = 0, timeout: float = math.inf,
                         delay: float = 0.0) -> None:
        """Record transactions apart from messages (fan-out and/or resends)."""
        self.tx = TransactionLog()
        self.resend_max = resend_max
        self.resend_after = timeout + delay
        if resend_max > 0:
            self.env.process(self._resender())

    def add_station(self, station: Station) -> Station:
        self._station_index[id(station)] = len(self.stations)
        self.stations.append(station)
        return station

    # ------------------------------------------------------------------ fates
    def _settle(self, i: int, fate: int, reason: int = R_NONE, where: Station | None = None) -> None:
        log = self.log
        if log.fate[i] != PENDING:  # would break conservation: a bug, never user error
            raise RuntimeError(f"message {i} settled twice")
        log.fate[i] = fate
        log.end[i] = self.env.now
        log.reason[i] = reason
        if where is not None:
            log.where[i] = self._station_index[id(where)]
        log.finalized += 1

    # ------------------------------------------------------------------ steady parts
    def mark_steady(self, stations, links) -> None:
        """Declare `stations` that never fail and `links` that never go down nor lose frames
        (the run knows them from its fault plan).

        A message served at a steady station with nobody waiting behind it, whose next link is
        steady, takes its service and that link as one Timeout (to its arrival at the next
        switch, or its delivery), and the station settles the departure itself (`Station.flush`,
        `Station.materialize`): the same event times and, at each station, the same accounting
        steps in the same order. Only the merged Timeout's id is drawn at the service start
        instead of its end, which could reorder it against another event at exactly the same
        time (never with continuous draws)."""
        if not isinstance(self.env, FastEnvironment):
            raise TypeError("steady stations need a FastEnvironment (Station.flush reads its _cur)")
        for st in stations:
            st.steady = True
        self.steady_links.update(links)

    # ------------------------------------------------------------------ the hot path
    def _walk(self, m: int, route: tuple[Hop, ...], started: bool = False, legs=None,
              t: int = -1, bit: int = 0):
        """SimPy process: message `m` walks `route`; settles exactly once unless still pending.

        With `started`, the first hop's link is already crossed (by the sender, `_start`):
        the process begins at the first switch. For a transaction `t` >= 0 (fan-out, resends),
        with `legs`, `route` is the way to and through the hub of an attempt whose messages are
        m, m+1, ...: a failure before the split settles them all; at the hub the attempt splits
        into one leg per database (`legs`: (bit, hops)), the first continues here. A delivered
        message sets its database's bit `bit` (`_deliver`).

        One generator serves single messages and transactions (a shared sub-generator,
        `yield from`, cost ~9% of the run time). Timeouts are built and scheduled inline
        (exactly what `simpy.Timeout` does, without its two calls per hop)."""
        env = self.env
        queue = env._queue
        eid = env._eid
        new = object.__new__
        horizon = self.horizon
        steady = self.steady_links
        while True:
            last = len(route) - 1
            for k, (delay, link, target, outbound) in enumerate(route):
                if started:
                    started = False
                else:
                    if link is not None:
                        if not link.up:
                            self._fail(m, legs, REJECTED if outbound else LOST, R_LINK, None)
                            return
                        if link.lossy:
                            n = link.attempts()
                            if n > link.max_attempts:
                                yield Timeout(env, link.max_attempts * (delay + link.retry_timeout))
                                self._fail(m, legs, REJECTED if outbound else LOST, R_RADIO, None)
                                return
                            delay = n * delay + (n - 1) * link.retry_timeout
                    if delay > 0.0:
                        # the last link before the horizon: delivered at its end without an event
                        # (a transaction's only over a fixed delay, so that copies and legs are
                        # delivered in the order of their ends)
                        if target is None and horizon is not None and (
                                t < 0 or link is None or link in steady):
                            at = env._now + delay
                            if at < horizon:
                                self._deliver(m, t, bit, at)
                                return
                        heappush(queue, (env._now + delay, 1, next(eid), env._active_proc))
                        yield _SELF
                if target is None:
                    break
                while True:  # one pass per attempt at this hop (a retry after a failure loops)
                    st = target
                    if st.__class__ is HubRole:
                        while st.active is None:  # a new switch-over may begin as the last one ends
                            st.waiting += 1
                            yield st.ready
                            st.waiting -= 1
                        st = st.active
                        if st.extra_latency:
                            yield Timeout(env, st.extra_latency)
                    st.arrivals += 1
                    if not st.up:
                        st.rejected += 1
                        self._fail(m, legs, REJECTED if outbound else LOST, R_DOWN, st)
                        return
                    t_arr = env._now
                    pend = st.pending
                    busy = st.busy
                    q = st.queue
                    if pend and pend[0][0] <= t_arr:
                        # the departures that precede this event: `Station.flush`'s steps, inlined;
                        # then the busy integral up to now (nobody waits while departures are
                        # pending, `materialize`: the queue-length integral is unchanged)
                        cur = env._cur
                        last_t = st.last_t
                        area = st.busy_area
                        done = st.completed
                        record_from = st.record_from
                        while pend:
                            t2, e2, a2, s2 = pend[0]
                            if t2 >= t_arr and (t2 > t_arr or cur[1] < 1 or
                                                (cur[1] == 1 and e2 > cur[2])):
                                break
                            heappop(pend)
                            area += busy * (t2 - last_t)
                            last_t = t2
                            busy -= 1
                            done += 1
                            if a2 >= record_from:
                                st.sojourn.append(t2 - a2)
                                st.wait.append(s2 - a2)
                        st.busy_area = area + busy * (t_arr - last_t)  # (+ 0.0 when none is busy)
                        st.completed = done
                    else:
                        dt = t_arr - st.last_t
                        if busy:  # (adding 0.0 would change nothing)
                            st.busy_area += busy * dt
                        if q:
                            st.queue_area += len(q) * dt
                    st.last_t = t_arr
                    epoch = st.epoch  # a failure while this message is inside bumps the epoch
                    if busy < st.servers:
                        st.busy = busy + 1
                    else:
                        st.busy = busy  # (after the departures settled above)
                        if len(q) >= st.buffer:
                            st.rejected += 1
                            self._fail(m, legs, REJECTED if outbound else LOST, R_BUFFER, st)
                            return
                        if st.pending:  # one of them wakes this message
                            st.materialize()
                        # it waits as itself: a departure (or a failure) puts the process in
                        # the event queue, where `Event.succeed` would have put an event
                        q.append(env._active_proc)
                        yield _SELF
                    t_start = env._now
                    if st.epoch == epoch:
                        v = next(st.sample.draws, None)  # `Sampler.__call__`, inlined
                        if v is None:
                            v = st.sample.refill()
                        end = t_start + v * st.slow
                        if st.steady and not q:
                            if k < last:
                                ndelay, nlink, ntarget, _ = route[k + 1]
                                if ndelay > 0.0 and (nlink is None or nlink in steady):
                                    # the station settles the departure; service and the next
                                    # link as one Timeout (`mark_steady`)
                                    heappush(pend, (end, next(eid), t_arr, t_start))
                                    at = end + ndelay
                                    if ntarget is None and t < 0 and horizon is not None:
                                        # delivered over its last link at once, without an event
                                        # (a transaction's deliveries wait for their time: its
                                        # copies and legs count in the order of their ends)
                                        if at < horizon:
                                            self._deliver(m, t, bit, at)
                                        return
                                    heappush(queue, (at, 1, next(eid), env._active_proc))
                                    yield _SELF
                                    started = True  # the next hop's link is crossed
                                    break
                            elif legs and self._steady_legs(legs):
                                # the split at the hub over steady circuits, with the service:
                                # every leg starts at its first link's end, in leg order
                                heappush(pend, (end, next(eid), t_arr, t_start))
                                bit, route = legs[0]
                                heappush(queue, (end + route[0][0], 1, next(eid), env._active_proc))
                                for j in range(1, len(legs)):
                                    b, hops = legs[j]
                                    _Message(env, self._walk(m + j, hops, True, None, t, b),
                                             end + hops[0][0])
                                legs = ()  # split: the first leg goes on here
                                yield _SELF
                                break
                        if st.steady:  # nothing can interrupt the service: wake itself
                            heappush(queue, (end, 1, next(eid), env._active_proc))
                            yield _SELF
                        else:
                            # in service: registered so that a failure can interrupt it
                            # (`Station.fail`)
                            proc = env._active_proc
                            serving = st.serving
                            serving[proc] = None
                            ev = new(_Wake)
                            ev.callbacks = []
                            heappush(queue, (end, 1, next(eid), ev))
                            try:
                                yield ev
                                del serving[proc]
                            except Interrupt:  # the station failed during the service: act now
                                pass
                    if st.epoch != epoch:  # the station failed while this message was inside
                        if st.on_failure == "retry":
                            # wait for the repair, then arrive again: messages evicted together
                            # resume in the order they were evicted (in service, then waiting, i.e.
                            # FIFO by arrival here), ahead of later arrivals. At the hub, go round
                            # the role again (to the backup site once the switch-over ends).
                            if target.__class__ is not HubRole and st.recovered is not None:
                                yield st.recovered
                            continue
                        self._fail(m, legs, LOST, R_FAILED, st)
                        return
                    # the departure: the steps of `Station._depart`, inlined (the hot path)
                    now = env._now
                    if st.pending:
                        st.flush()
                    dt = now - st.last_t
                    st.busy_area += st.busy * dt
                    if q:
                        st.queue_area += len(q) * dt
                    st.last_t = now
                    if q:  # the next waiting message starts now (`Event.succeed`'s key)
                        heappush(queue, (now, 1, next(eid), q.popleft()))
                    else:
                        st.busy -= 1
                    st.completed += 1
                    if t_arr >= st.record_from:
                        st.sojourn.append(now - t_arr)
                        st.wait.append(t_start - t_arr)
                    break
            if legs is None:
                break
            if legs:  # (else split already, with the hub's service)
                # the split at the hub: each leg crosses its first link now, in leg order; legs
                # after the first go on as processes of their own (started at their link's end)
                bit, route = legs[0]
                delay = self._cross(m, route[0], None)
                if delay is not None and delay > 0.0:
                    heappush(queue, (env._now + delay, 1, next(eid), env._active_proc))
                for j in range(1, len(legs)):
                    b, hops = legs[j]
                    self._start(m + j, hops, t, b)
                if delay is None:
                    return
                if delay > 0.0:
                    yield _SELF
            legs = None
            started = True
        self._deliver(m, t, bit, env._now)

    def _steady_legs(self, legs) -> bool:
        """Whether every leg's first link has a delay and is steady (nothing to check or draw
        when the leg crosses it): the hub's service and the split can then be one wait."""
        steady = self.steady_links
        for _, hops in legs:
            delay, link, target, _ = hops[0]
            if not (delay > 0.0 and target is not None and (link is None or link in steady)):
                return False
        return True

    def message(self, i: int, route: tuple[Hop, ...], started: bool = False):
        """SimPy process: a single message `i` walks `route` (`_walk`)."""
        return self._walk(i, route, started)

    def _deliver(self, m: int, t: int, bit: int, at: float) -> None:
        """Message `m` delivered at `at` (now, or its last link's end before the horizon). For
        a transaction, the first copy of each database's response counts."""
        self._settle_at(m, at)
        if t < 0:
            return
        tx = self.tx
        got = tx.got[t]
        if got & bit:
            return  # an older or newer copy answered first
        got |= bit
        tx.got[t] = got
        if tx.first[t] != tx.first[t]:  # nan
            tx.first[t] = at
        if got == tx.full[t]:
            tx.complete[t] = at

    def _settle_at(self, i: int, at: float) -> None:
        """Message `i` delivered at time `at` (now, or its last link's end before the horizon)."""
        log = self.log
        if log.fate[i] != PENDING:
            raise RuntimeError(f"message {i} settled twice")
        log.fate[i] = DELIVERED
        log.end[i] = at
        log.finalized += 1

    def _settle_later(self, i: int, fate: int, reason: int, legs=None):
        """SimPy process body: settle message `i` (with `legs`, its attempt's) when started
        (after its radio retries)."""
        self._fail(i, legs, fate, reason, None)
        return
        yield  # a generator

    def _cross(self, m: int, hop: Hop, legs) -> float | None:
        """The sender crosses `hop`'s link now for message `m` (an attempt's messages with
        `legs`), as the message would at this instant: its delay (with radio retries), or None
        when the message failed on it (settled now, or after its radio retries)."""
        delay, link, target, outbound = hop
        if link is not None:
            if not link.up:
                self._fail(m, legs, REJECTED if outbound else LOST, R_LINK, None)
                return None
            if link.lossy:
                n = link.attempts()
                if n > link.max_attempts:
                    _Message(self.env, self._settle_later(m, REJECTED if outbound else LOST,
                                                          R_RADIO, legs),
                             self.env._now + link.max_attempts * (delay + link.retry_timeout))
                    return None
                delay = n * delay + (n - 1) * link.retry_timeout
        return delay

    def _start(self, m: int, route: tuple[Hop, ...], t: int = -1, bit: int = 0, legs=None) -> None:
        """Start message `m` (a transaction's): its first link crossed now, its process at the
        link's end (one Timeout instead of an Initialize event and a Timeout)."""
        hop = route[0]
        if hop[0] > 0.0 and hop[2] is not None:
            delay = self._cross(m, hop, legs)
            if delay is not None:
                _Message(self.env, self._walk(m, route, True, legs, t, bit), self.env._now + delay)
        else:  # nothing to merge: the walk crosses the link itself
            _Message(self.env, self._walk(m, route, False, legs, t, bit))

    def source(self, batches, route_of) -> Process:
        """Start the sender: a process that starts one message process per arrival of each
        batch, in time order (`_arrivals`)."""
        return _Message(self.env, self._arrivals(batches, route_of))

    def _arrivals(self, batches, route_of):
        """The sender's process body (run as a `_Message`: it wakes itself, `_SELF`).

        `batches` yields objects with a sorted ``time`` array; `route_of(batch)` gives the
        route ids (into ``self.routes``) of the batch's messages. The sender crosses the first
        hop's link itself (its state and losses at the arrival instant, as the message would)
        and starts the message's process at the link's end. Over a steady link (or none) there
        is nothing to do at the arrival instant: the sender schedules the start without waking
        (at the time its own Timeouts would have given, to the last bit).
        """
        env = self.env
        queue = env._queue
        eid = env._eid
        walk = self._walk
        routes = self.routes
        steady = self.steady_links
        now = env._now  # where the sender is: it wakes only for arrivals that need it
        for batch in batches:
            ids = route_of(batch)
            first = self.log.add(batch.time, ids, getattr(batch, "device", None))
            for j, (t, r) in enumerate(zip(batch.time.tolist(), ids.tolist())):
                dt = t - now
                if dt > 0:
                    now = now + dt  # the instant a Timeout(dt) from `now` would wake it at
                i = first + j
                route = routes[r]
                delay, link, target, outbound = route[0]
                if delay > 0.0 and target is not None and (link is None or link in steady):
                    # nothing to check or draw at the arrival instant: start at the link's end
                    _Message(env, walk(i, route, True), now + delay)
                    continue
                if now > env._now:
                    heappush(queue, (now, 1, next(eid), env._active_proc))
                    yield _SELF
                delay = self._cross(i, route[0], None)
                if delay is None:
                    continue
                if target is None:  # a route of one link (none in the CLETS model)
                    _Message(env, self._settle_later(i, DELIVERED, R_NONE),
                             env._now + delay if delay > 0.0 else None)
                else:
                    _Message(env, walk(i, route, True), env._now + delay if delay > 0.0 else None)

    # ------------------------------------------------------------------ transactions
    # Fan-out and resends: `_send` starts an attempt's walk (`_walk` with the transaction).
    def _fail(self, m: int, legs, fate: int, reason: int, where) -> None:
        """Settle message `m`, or every message of an attempt that failed before the split."""
        for i in range(m, m + (len(legs) if legs is not None else 1)):
            self._settle(i, fate, reason, where)

    def _send(self, t: int) -> None:
        """Send transaction `t` now (first send or resend): one message per leg, one process."""
        tx, log = self.tx, self.log
        up, legs, rids = tx.plan[t]
        now = self.env._now
        k = len(legs)
        first = len(log.created)
        a = tx.attempts[t]
        log.created.extend([now] * k)
        log.route.extend(rids)
        log.origin.extend([tx.origin[t]] * k)
        log.fate.extend([PENDING] * k)
        log.end.extend([math.nan] * k)
        log.reason.extend([R_NONE] * k)
        log.where.extend([-1] * k)
        log.txn.extend([t] * k)
        log.attempt.extend([a] * k)
        tx.attempts[t] = a + 1
        tx.last_send[t] = now
        if up:
            self._start(first, up, t, 0, legs)
        else:  # nothing to split: one message along its whole route
            bit, route = legs[0]
            self._start(first, route, t, bit)
        if a < self.resend_max:  # its timer: resend if still incomplete at timeout + delay
            q = self._resend_q
            q.append((now + self.resend_after, t))
            wake = self._resend_wake
            if wake is not None:
                self._resend_wake = None
                wake.succeed()

    def _resender(self):
        """SimPy process: the devices' resend timers, one queue in due order (every send
        adds timeout + delay to its time, so the queue stays sorted)."""
        env, q, tx = self.env, self._resend_q, self.tx
        while True:
            if not q:
                self._resend_wake = Event(env)
                yield self._resend_wake
                continue
            due, t = q[0]
            if due > env._now:
                yield Timeout(env, due - env._now)
                continue
            q.popleft()
            # still incomplete (a delivery settled ahead of its time, `_deliver`, counts from then)
            if not tx.complete[t] <= env._now:
                self._send(t)

    def transaction_source(self, batches, register) -> Process:
        """Start the sender of transactions: like `source`; `register(batch)` records the
        batch's transactions in `self.tx` and returns the id of its first."""
        return _Message(self.env, self._transaction_arrivals(batches, register))

    def _transaction_arrivals(self, batches, register):
        """The sender's process body for transactions (run as a `_Message`)."""
        env = self.env
        queue = env._queue
        eid = env._eid
        send = self._send
        for batch in batches:
            first = register(batch)
            for j, t in enumerate(batch.time.tolist()):
                dt = t - env._now
                if dt > 0:  # the instant a Timeout(dt) would wake it at
                    heappush(queue, (env._now + dt, 1, next(eid), env._active_proc))
                    yield _SELF
                send(first + j)


def link_delay(latency_s: float, bandwidth_bps: float, size_bytes: int) -> float:
    """Propagation plus transmission time of one message on one link."""
    return latency_s + size_bytes * 8.0 / bandwidth_bps
