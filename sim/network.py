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
"""

from __future__ import annotations

import math

import numpy as np
from simpy import Environment, Event, Interrupt, Timeout

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
    """Columnar record of every generated message (plain lists: cheapest to append and set)."""

    def __init__(self) -> None:
        self.created: list[float] = []
        self.route: list[int] = []  # route id (the model knows what it means)
        self.origin: list[int] = []  # originating device index (-1 when not tracked)
        self.fate: list[int] = []
        self.end: list[float] = []
        self.reason: list[int] = []
        self.where: list[int] = []  # station index where it failed, -1 otherwise
        self.finalized = 0  # number of fate assignments (must equal non-pending count)

    def __len__(self) -> int:
        return len(self.created)

    def add(self, times: np.ndarray, route_ids: np.ndarray, origin: np.ndarray | None = None) -> int:
        """Register a batch; returns the id of its first message."""
        first = len(self.created)
        n = len(times)
        self.created.extend(times.tolist())
        self.route.extend(route_ids.tolist())
        self.origin.extend(origin.tolist() if origin is not None else [-1] * n)
        self.fate.extend([PENDING] * n)
        self.end.extend([math.nan] * n)
        self.reason.extend([R_NONE] * n)
        self.where.extend([-1] * n)
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


class QueueNet:
    """A network of stations driven by SimPy message processes along fixed routes."""

    def __init__(self, env: Environment | None = None):
        self.env = env or Environment()
        self.stations: list[Station] = []
        self._station_index: dict[int, int] = {}  # id(station) -> position, for `where`
        self.routes: list[tuple[Hop, ...]] = []  # route id -> hops
        self.log = MessageLog()

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

    # ------------------------------------------------------------------ the hot path
    def message(self, i: int, route: tuple[Hop, ...]):
        """SimPy process: message `i` walks `route`; settles exactly once unless still pending."""
        env = self.env
        for delay, link, target, outbound in route:
            if link is not None:
                if not link.up:
                    self._settle(i, REJECTED if outbound else LOST, R_LINK)
                    return
                if link.lossy:
                    n = link.attempts()
                    if n > link.max_attempts:
                        yield Timeout(env, link.max_attempts * (delay + link.retry_timeout))
                        self._settle(i, REJECTED if outbound else LOST, R_RADIO)
                        return
                    delay = n * delay + (n - 1) * link.retry_timeout
            if delay > 0.0:
                yield Timeout(env, delay)
            if target is None:
                break
            while True:  # one pass per attempt at this hop (a retry after a failure loops)
                st = target
                if st.__class__ is HubRole:
                    while st.active is None:  # a new switch-over may begin as the last one ends
                        yield st.ready
                    st = st.active
                    if st.extra_latency:
                        yield Timeout(env, st.extra_latency)
                st.arrivals += 1
                if not st.up:
                    st.rejected += 1
                    self._settle(i, REJECTED if outbound else LOST, R_DOWN, st)
                    return
                t_arr = env._now
                q = st.queue
                dt = t_arr - st.last_t
                st.busy_area += st.busy * dt
                st.queue_area += len(q) * dt
                st.last_t = t_arr
                epoch = st.epoch  # a failure while this message is inside bumps the epoch
                if st.busy < st.servers:
                    st.busy += 1
                else:
                    if len(q) >= st.buffer:
                        st.rejected += 1
                        self._settle(i, REJECTED if outbound else LOST, R_BUFFER, st)
                        return
                    ev = Event(env)
                    q.append(ev)
                    yield ev
                t_start = env._now
                if st.epoch == epoch:
                    # in service: registered so that a failure can interrupt it (`Station.fail`)
                    proc = env._active_proc
                    serving = st.serving
                    serving[proc] = None
                    try:
                        yield Timeout(env, st.sample() * st.slow)
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
                    self._settle(i, LOST, R_FAILED, st)
                    return
                now = env._now
                dt = now - st.last_t
                st.busy_area += st.busy * dt
                st.queue_area += len(q) * dt
                st.last_t = now
                if q:
                    q.popleft().succeed()
                else:
                    st.busy -= 1
                st.completed += 1
                if t_arr >= st.record_from:
                    st.sojourn.append(now - t_arr)
                    st.wait.append(t_start - t_arr)
                break
        self._settle(i, DELIVERED)

    def source(self, batches, route_of):
        """SimPy process: start one message process per arrival of each batch, in time order.

        `batches` yields objects with a sorted ``time`` array; `route_of(batch)` gives the
        route ids (into ``self.routes``) of the batch's messages.
        """
        env = self.env
        process = env.process
        message = self.message
        routes = self.routes
        for batch in batches:
            ids = route_of(batch)
            first = self.log.add(batch.time, ids, getattr(batch, "device", None))
            for j, (t, r) in enumerate(zip(batch.time.tolist(), ids.tolist())):
                dt = t - env._now
                if dt > 0:
                    yield Timeout(env, dt)
                process(message(first + j, routes[r]))


def link_delay(latency_s: float, bandwidth_bps: float, size_bytes: int) -> float:
    """Propagation plus transmission time of one message on one link."""
    return latency_s + size_bytes * 8.0 / bandwidth_bps
