"""Hand-timed unit tests of one switch: deterministic service, exact expected numbers."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sim.config import ServiceTime
from sim.network import DELIVERED, LOST, R_BUFFER, R_FAILED, REJECTED, QueueNet
from tests.queueing_helpers import station


def one_station(arrivals, c=1, buffer=None, service=1.0, on_failure="lose"):
    net = QueueNet()
    st = station(net, "sw", c, ServiceTime(dist="deterministic", mean=service), 0, buffer)
    st.on_failure = on_failure
    net.routes = [((0.0, None, st, True),)]
    batch = SimpleNamespace(time=np.asarray(arrivals, dtype=float))
    net.env.process(net.source([batch], lambda b: np.zeros(len(b.time), dtype=np.int64)))
    return net, st


def test_fifo_times_and_time_integrals():
    net, st = one_station([0.0, 0.5, 0.6])
    net.env.run(until=10)
    assert list(st.sojourn) == pytest.approx([1.0, 1.5, 2.4])
    assert list(st.wait) == pytest.approx([0.0, 0.5, 1.4])
    st.account()
    assert st.busy_area == pytest.approx(3.0)  # busy from 0 to 3
    assert st.queue_area == pytest.approx(0.5 + 1.4)  # total waiting time
    assert net.log.end == pytest.approx([1.0, 2.0, 3.0])
    assert st.balance() == 0


def test_full_buffer_rejects_with_reason():
    net, st = one_station([0.0, 0.1, 0.2, 0.3], buffer=1)
    net.env.run(until=10)
    assert net.log.fate == [DELIVERED, DELIVERED, REJECTED, REJECTED]
    assert net.log.reason[2:] == [R_BUFFER, R_BUFFER]
    assert net.log.end[2:] == pytest.approx([0.2, 0.3])  # rejected on arrival
    assert st.rejected == 2 and st.balance() == 0


def test_two_servers_share_the_queue():
    net, st = one_station([0.0, 0.0, 0.0, 0.2], c=2)
    net.env.run(until=10)
    assert sorted(net.log.end) == pytest.approx([1.0, 1.0, 2.0, 2.0])


@pytest.mark.parametrize("policy,fate", [("lose", LOST), ("retry", DELIVERED)])
def test_failure_at_the_instant_a_waiting_message_is_released(policy, fate):
    """Message 2 is handed the server at t=1 by a departure, and the switch fails at that same
    instant before message 2 resumes: message 2 must be evicted, never served by a dead switch."""
    net, st = one_station([0.0, 0.5], on_failure=policy)
    env = net.env
    env.run(until=0.01)  # the fault's timer is created after message 1's service timer

    def fault():
        yield env.timeout(1.0 - env.now)
        st.fail()
        yield env.timeout(1.0)
        st.repair()

    env.process(fault())
    env.run(until=10)
    assert net.log.fate[0] == DELIVERED and net.log.end[0] == pytest.approx(1.0)
    assert net.log.fate[1] == fate
    if policy == "lose":
        assert net.log.reason[1] == R_FAILED
    else:
        assert net.log.end[1] == pytest.approx(3.0)  # waited for the repair at 2, then served
    assert st.busy == 0 and st.balance() == 0
