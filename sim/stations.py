"""Queueing primitives of the message path: switches (stations), the hub role, links.

A `Station` is a FIFO multi-server switch with a finite waiting room. It is not
a SimPy Resource: the message process in `sim.network` drives it inline, and a waiting
message waits as itself (its process goes in `queue`, and into the event queue when a
departure or a failure wakes it, with the key `Event.succeed` would have given), which is
what keeps the model faster than a bare SimPy chain. The station keeps
exact time integrals of busy servers and queue length, so utilisation and
time-average queue length need no sampling. It also knows the processes in
service (`serving`, in order of service start) so a failure can interrupt them.

A *steady* station (one no fault can take down: `QueueNet.mark_steady`) may settle a
departure lazily: the message records it in `pending` and goes straight on (its service and
next link as one Timeout), and the station applies the departure, at its own time and in the
order its event would have had, when it is next looked at (`flush`). A message that must wait
turns the pending departures back into events (`materialize`), since one of them wakes it.
"""

from __future__ import annotations

from array import array
from collections import deque
from heapq import heappop, heappush

import numpy as np
from simpy import Environment, Event
from simpy.events import URGENT

from sim.distributions import BLOCK, Sampler


class Station:
    """A switch: `servers` processors, a FIFO queue of at most `buffer` waiting messages."""

    __slots__ = (
        "env", "name", "kind", "county", "servers", "buffer", "sample", "busy", "queue", "up",
        "epoch", "slow", "on_failure", "recovered", "extra_latency", "serving",
        "arrivals", "completed", "rejected", "lost",
        "busy_area", "queue_area", "last_t", "stats_from",
        "sojourn", "wait", "record_from", "initial", "steady", "pending",
    )

    def __init__(self, env: Environment, name: str, kind: str, servers: int, buffer: int | None,
                 sample: Sampler, county: str = "", on_failure: str = "lose"):
        self.env = env
        self.name = name
        self.kind = kind
        self.county = county
        self.servers = servers
        self.buffer = buffer if buffer is not None else 1 << 62
        self.sample = sample
        self.busy = 0
        self.queue: deque = deque()  # waiting message processes (`sim.eventloop.MessageProcess`)
        # processes in service -> None; a dict keeps service-start order (a set would
        # interrupt them in id order, which differs from run to run)
        self.serving: dict = {}
        self.up = True
        self.epoch = 0
        self.slow = 1.0
        self.on_failure = on_failure
        self.recovered: Event | None = None
        self.extra_latency = 0.0
        self.arrivals = 0
        self.completed = 0
        self.rejected = 0
        self.lost = 0
        self.busy_area = 0.0
        self.queue_area = 0.0
        self.last_t = 0.0
        self.stats_from = 0.0
        self.sojourn = array("d")
        self.wait = array("d")
        self.record_from = 0.0
        self.initial = 0  # messages inside when statistics (re)started
        self.steady = False  # never fails: departures may be settled lazily
        # lazy departures: (time, event id it would have had, arrival time, service start)
        self.pending: list[tuple[float, int, float, float]] = []

    def flush(self) -> None:
        """Apply the lazy departures that precede the event being processed (`env._cur`,
        `FastEnvironment`), in the order of their keys (time, priority 1, event id) as the
        event loop would have: the same accounting steps, counts and samples, in that order.
        No message waits while departures are pending (`materialize`), so none is started.
        `QueueNet._walk` repeats these steps inline at a message's arrival (the hot path):
        a change here is a change there."""
        cur = self.env._cur
        now = cur[0]
        pend = self.pending
        busy, area, last, done = self.busy, self.busy_area, self.last_t, self.completed
        sojourn, wait, record_from = self.sojourn, self.wait, self.record_from
        while pend:
            t2, e2, t_arr, t_start = pend[0]
            if t2 >= now and (t2 > now or cur[1] < 1 or (cur[1] == 1 and e2 > cur[2])):
                break
            heappop(pend)
            area += busy * (t2 - last)  # nobody waits: the queue-length integral is unchanged
            last = t2
            busy -= 1
            done += 1
            if t_arr >= record_from:
                sojourn.append(t2 - t_arr)
                wait.append(t_start - t_arr)
        self.busy, self.busy_area, self.last_t, self.completed = busy, area, last, done

    def materialize(self) -> None:
        """A message is about to wait: schedule the pending departures as events (one of them
        will wake it), at their times and with their event ids, so the order is unchanged."""
        env = self.env
        queue = env._queue
        depart = self._depart
        for t2, e2, t_arr, t_start in self.pending:
            ev = Event(env)
            ev.callbacks.append(depart)
            ev._ok = True
            ev._value = (t_arr, t_start)
            heappush(queue, (t2, 1, e2, ev))
        self.pending.clear()

    def _depart(self, event: Event) -> None:
        """A materialized departure: what the message's own service end would have done."""
        if self.pending:
            self.flush()
        t_arr, t_start = event._value
        now = self.env._now
        q = self.queue
        dt = now - self.last_t
        self.busy_area += self.busy * dt
        self.queue_area += len(q) * dt
        self.last_t = now
        if q:  # the next waiting message process starts now (`Event.succeed`'s key)
            env = self.env
            heappush(env._queue, (now, 1, next(env._eid), q.popleft()))
        else:
            self.busy -= 1
        self.completed += 1
        if t_arr >= self.record_from:
            self.sojourn.append(now - t_arr)
            self.wait.append(t_start - t_arr)

    def account(self) -> None:
        """Bring the busy/queue time integrals up to now."""
        if self.pending:
            self.flush()
        now = self.env.now
        dt = now - self.last_t
        self.busy_area += self.busy * dt
        self.queue_area += len(self.queue) * dt
        self.last_t = now

    def reset_stats(self) -> None:
        """Start statistics afresh at the current time (end of warm-up).

        Counters and time integrals restart; the per-message wait and sojourn samples are
        emptied and from now on taken from messages arriving at or after this instant (a
        message inside at the reset counts in `completed` when it leaves, not in the samples).
        """
        self.account()
        self.busy_area = self.queue_area = 0.0
        self.arrivals = self.completed = self.rejected = self.lost = 0
        self.stats_from = self.env.now
        self.record_from = self.env.now
        self.sojourn = array("d")
        self.wait = array("d")
        self.initial = self.in_system()

    def fail(self) -> None:
        """Go down: servers stop and every message inside is evicted at this instant.

        Each sees a new epoch: those in service are interrupted (in order of service start),
        then the waiting ones are woken (in queue order), so they are lost or, with retry, wait
        for the repair in their order of arrival here."""
        if not self.up:
            return
        if self.steady:  # its departures may be pending: marking it steady was wrong
            raise RuntimeError(f"{self.name} is marked steady (never fails) but failed")
        self.account()
        self.up = False
        self.epoch += 1
        self.lost += self.busy + len(self.queue)  # evicted: lost, or retried elsewhere/later
        self.busy = 0
        serving = self.serving
        self.serving = {}
        waiting = list(self.queue)
        self.queue.clear()
        self.recovered = Event(self.env)
        for proc in serving:
            proc.interrupt()  # urgent: handled at this instant, before the woken waiters
        queue, eid, now = self.env._queue, self.env._eid, self.env._now
        for proc in waiting:  # each wakes as itself, with `Event.succeed`'s key
            heappush(queue, (now, 1, next(eid), proc))

    def repair(self) -> None:
        """Come back up. Messages held by a retry resume first (urgent), in the order they
        were evicted, ahead of any other message arriving at this instant."""
        if self.up:
            return
        self.account()
        self.up = True
        rec, self.recovered = self.recovered, None
        if rec is not None:
            rec._ok = True
            rec._value = None
            self.env.schedule(rec, URGENT)

    def in_system(self) -> int:
        if self.pending:
            self.flush()
        return self.busy + len(self.queue)

    def balance(self) -> int:
        """Flow conservation residual; zero when every arrival is accounted for.

        arrivals + initial = completed + rejected + lost (evicted by a failure) + still inside.
        """
        return self.arrivals + self.initial - (
            self.completed + self.rejected + self.lost + self.in_system()
        )


class HubRole:
    """The hub as routes see it: whichever site (primary or backup) is active.

    During a switch-over `active` is None and arriving messages wait on `ready`
    (the county MSCs store and forward them until the backup takes over).
    """

    __slots__ = ("env", "primary", "backup", "active", "ready", "waiting")

    def __init__(self, env: Environment, primary: Station, backup: Station):
        self.env = env
        self.primary = primary
        self.backup = backup
        self.active: Station | None = primary
        self.ready: Event | None = None
        self.waiting = 0  # messages held at their MSC for the switch-over to end

    def backlog(self) -> int:
        """Messages at the hub: in both sites (waiting and in service) and held for the
        switch-over."""
        return self.primary.in_system() + self.backup.in_system() + self.waiting

    def begin_switchover(self) -> None:
        self.active = None
        self.ready = Event(self.env)

    def complete_switchover(self, site: Station) -> None:
        self.active = site
        ready, self.ready = self.ready, None
        if ready is not None:
            ready.succeed()


class LinkState:
    """A circuit (both directions) that faults can take down; radio links can lose frames."""

    __slots__ = ("name", "up", "lossy", "max_attempts", "retry_timeout", "_rng", "_p", "_buf", "_i")

    def __init__(self, name: str, loss_probability: float = 0.0, max_retries: int = 0,
                 retry_timeout: float = 0.0, rng: np.random.Generator | None = None):
        self.name = name
        self.up = True
        self.lossy = loss_probability > 0
        self.max_attempts = max_retries + 1
        self.retry_timeout = retry_timeout
        self._rng = rng
        self._p = loss_probability
        self._buf: list[int] = []
        self._i = 0

    def attempts(self) -> int:
        """Transmissions needed to get one frame through (geometric in the loss probability)."""
        i = self._i
        if i >= len(self._buf):
            self._buf = self._rng.geometric(1.0 - self._p, BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]


class RadioGateway:
    """One agency's MDT radio gateway: up or down on its own (random faults), while its frames
    are lost exactly as on the shared radio link (the same `attempts`, the same draws)."""

    __slots__ = ("name", "up", "lossy", "max_attempts", "retry_timeout", "attempts")

    def __init__(self, name: str, radio: LinkState):
        self.name = name
        self.up = True
        self.lossy = radio.lossy
        self.max_attempts = radio.max_attempts
        self.retry_timeout = radio.retry_timeout
        self.attempts = radio.attempts
