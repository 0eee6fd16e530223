"""The event loop of the message path: a faster `simpy.Environment` and the message process.

`FastEnvironment.run` processes the same events in the same order as SimPy's, inlined, and
resumes a message process that put itself in the event queue (`SELF`) without an event
object. `MessageProcess` is a SimPy process that can start later than now with one queue
entry, wait as itself, and end without a completion event (nothing waits on a message).
`sim.network` drives them; the keys it pushes are those SimPy's own events would have had.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

from simpy import Environment, Event
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import PENDING as _NOT_TRIGGERED
from simpy.events import URGENT, Initialize, Process


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
        message = MessageProcess
        selfwake = SELF
        try:
            while True:
                try:
                    self._cur = cur = heappop(queue)
                except IndexError:
                    raise EmptySchedule from None
                self._now = cur[0]
                event = cur[3]
                if event.__class__ is message:  # a message waking itself (`MessageProcess`):
                    # `MessageProcess._resume(SELF)`, inlined for its commonest case
                    self._active_proc = event
                    try:
                        target = event._generator.send(None)
                    except StopIteration:
                        event._finish()
                        continue
                    if target is not selfwake:  # (woken here, its target was `SELF`)
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


class Wake:
    """What the walk schedules for a Timeout of its own: all the event loop and `MessageProcess`
    look at (its callbacks; ok, value None), without a SimPy Timeout's instance dict."""

    __slots__ = ("callbacks",)
    _ok = True
    _value = None


class SelfWake:
    """What a message yields after scheduling its own process in the event queue: the loop
    resumes the process directly (`FastEnvironment.run`). Nothing is registered with it (its
    callbacks drop what is appended); only waits that nothing can interrupt use it."""

    __slots__ = ()
    callbacks = deque(maxlen=0)
    _ok = True
    _value = None


SELF = SelfWake()


class MessageProcess(Process):
    """A message's SimPy process, cheaper than `simpy.Process` in three ways that leave the
    order of every other event unchanged:

    - it may start at a later time `at` (after its first link: the sender has already checked
      the link and drawn its losses) with one entry in the event queue instead of an
      Initialize event followed by a Timeout; with ``at=None`` it starts at once like any
      process (urgent Initialize);
    - a wait nothing can interrupt (a link, a switch's queue, a service at a steady switch) is
      the process itself in the event queue, resumed by the loop without an event object
      (`SELF`); a waiting message is put there by the departure (or failure) that wakes it;
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
            self._target = SELF

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
