"""The SimPy message path: messages walk a precomputed route of (link, switch) hops.

A route is a tuple of hops ``(delay, link, station, outbound)``: wait ``delay``
on ``link`` (latency + size/bandwidth, precomputed for the message size), then
queue and be served at ``station`` (a `Station`, or the `HubRole` which resolves to
the active hub site). The last hop has ``station=None``: the message has reached
the terminal (or, for administrative traffic, the last hop is the destination
agency). ``outbound`` says whether a failure there can still be reported to the
sender (rejected) or only leaves the sender waiting (lost -> timed out).

Every message ends in exactly one *fate* (delivered, rejected or lost, with reason and where),
recorded in `sim.messagelog.MessageLog`, or is still pending at the horizon.

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
(`Station.flush`); at a steady hub the service and the split over steady circuits are one wait
too (`tests/test_fast_paths.py` checks these shortcuts change nothing). Waits on circuits, in
a switch's queue and in service at a steady switch put the message process itself in the
event queue (`sim.eventloop.SELF`), and a message's last circuit before the horizon needs no
event at all.
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappop, heappush

from simpy import Event, Interrupt, Timeout

from sim.eventloop import SELF, FastEnvironment, MessageProcess, Wake
from sim.messagelog import (
    DELIVERED,
    LOST,
    PENDING,
    R_BUFFER,
    R_DOWN,
    R_FAILED,
    R_LINK,
    R_NONE,
    R_RADIO,
    REJECTED,
    MessageLog,
    TransactionLog,
)
from sim.stations import HubRole, Station

Hop = tuple  # (delay: float, link: LinkState | None, station: Station | HubRole | None, outbound: bool)


class QueueNet:
    """A network of stations driven by SimPy message processes along fixed routes."""

    def __init__(self, env: FastEnvironment | None = None):
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
                        yield SELF
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
                        yield SELF
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
                                    yield SELF
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
                                    MessageProcess(env, self._walk(m + j, hops, True, None, t, b),
                                                   end + hops[0][0])
                                legs = ()  # split: the first leg goes on here
                                yield SELF
                                break
                        if st.steady:  # nothing can interrupt the service: wake itself
                            heappush(queue, (end, 1, next(eid), env._active_proc))
                            yield SELF
                        else:
                            # in service: registered so that a failure can interrupt it
                            # (`Station.fail`)
                            proc = env._active_proc
                            serving = st.serving
                            serving[proc] = None
                            ev = new(Wake)
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
                    yield SELF
            legs = None
            started = True
        self._deliver(m, t, bit, env._now)

    def _steady_legs(self, legs) -> bool:
        """Whether every leg's first link has a delay and is steady (nothing to check or draw
        when the leg crosses it): the hub's service and the split can then be one wait. The same
        test as the sender's for a message's first hop (`_arrivals`, inlined there: per message)."""
        steady = self.steady_links
        for _, hops in legs:
            delay, link, target, _ = hops[0]
            if not (delay > 0.0 and target is not None and (link is None or link in steady)):
                return False
        return True

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
                    MessageProcess(self.env, self._settle_later(m, REJECTED if outbound else LOST,
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
                MessageProcess(self.env, self._walk(m, route, True, legs, t, bit),
                               self.env._now + delay)
        else:  # nothing to merge: the walk crosses the link itself
            MessageProcess(self.env, self._walk(m, route, False, legs, t, bit))

    def source(self, batches, route_of) -> MessageProcess:
        """Start the sender: a process that starts one message process per arrival of each
        batch, in time order (`_arrivals`)."""
        return MessageProcess(self.env, self._arrivals(batches, route_of))

    def _arrivals(self, batches, route_of):
        """The sender's process body (run as a `MessageProcess`: it wakes itself, `SELF`).

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
                    MessageProcess(env, walk(i, route, True), now + delay)
                    continue
                if now > env._now:
                    heappush(queue, (now, 1, next(eid), env._active_proc))
                    yield SELF
                delay = self._cross(i, route[0], None)
                if delay is None:
                    continue
                if target is None:  # a route of one link (none in the CLETS model)
                    MessageProcess(env, self._settle_later(i, DELIVERED, R_NONE),
                                   env._now + delay if delay > 0.0 else None)
                else:
                    MessageProcess(env, walk(i, route, True),
                                   env._now + delay if delay > 0.0 else None)

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

    def transaction_source(self, batches, register) -> MessageProcess:
        """Start the sender of transactions: like `source`; `register(batch)` records the
        batch's transactions in `self.tx` and returns the id of its first."""
        return MessageProcess(self.env, self._transaction_arrivals(batches, register))

    def _transaction_arrivals(self, batches, register):
        """The sender's process body for transactions (run as a `MessageProcess`)."""
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
                    yield SELF
                send(first + j)


def link_delay(latency_s: float, bandwidth_bps: float, size_bytes: int) -> float:
    """Propagation plus transmission time of one message on one link."""
    return latency_s + size_bytes * 8.0 / bandwidth_bps
