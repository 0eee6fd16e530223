"""Hand-timed unit tests of one switch: deterministic service, exact expected numbers."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sim.config import ServiceTime
from sim.messagelog import DELIVERED, LOST, R_BUFFER, R_FAILED, REJECTED
from sim.network import QueueNet
from tests.queueing_helpers import station


def one_station(arrivals, c=1, buffer=None, service=1.0, on_failure="lose"):
    net = QueueNet()
    st = station(net, "sw", c, ServiceTime(dist="deterministic", mean=service), 0, buffer)
    st.on_failure = on_failure
    net.routes = [((0.0, None, st, True),)]
    batch = SimpleNamespace(time=np.asarray(arrivals, dtype=float))
    net.source([batch], lambda b: np.zeros(len(b.time), dtype=np.int64))
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


# ------------------------------------------------------------------ issue 12: warm-up, failures in service


def test_warmup_samples_leave_the_wait_and_sojourn_statistics():
    """Ten messages at t=0 queue up during the warm-up (waits 0..9 s); the warm-up ends at
    t=5.5 with one in service and four waiting; after it, ten messages at 20, 22, ..., 38 never
    wait. Wait and time-in-node figures cover messages that arrived after the warm-up only
    (the five still inside at its end count in `completed`, not in the samples)."""
    from sim.netstats import node_stats

    net, st = one_station([0.0] * 10 + [20.0 + 2 * k for k in range(10)])
    env = net.env
    env.run(until=5.5)
    st.reset_stats()
    env.run(until=50)
    row = node_stats(net, 50.0).iloc[0]
    assert row["completed"] == 15 and row["balance"] == 0
    assert len(st.wait) == len(st.sojourn) == 10
    assert row["mean_wait_s"] == 0.0 and row["p_wait"] == 0.0
    assert row["mean_sojourn_s"] == pytest.approx(1.0)
    assert [row["p50_s"], row["p95_s"], row["p99_s"]] == pytest.approx([1.0, 1.0, 1.0])
    assert row["utilization"] == pytest.approx((4.5 + 10) / 44.5)


def fail_and_repair(net, st, down=1.0, up=2.0):
    env = net.env

    def fault():
        yield env.timeout(down)
        st.fail()
        yield env.timeout(up - down)
        st.repair()

    env.process(fault())


def test_lose_a_message_in_service_at_the_failure_instant():
    """10 s service, failure at 1, repair at 2, a second arrival at 3: the message in service
    is lost at t=1 (not when its service time would have ended, t=10)."""
    net, st = one_station([0.0, 3.0], service=10.0, on_failure="lose")
    fail_and_repair(net, st)
    net.env.run(until=30)
    assert net.log.fate == [LOST, DELIVERED]
    assert net.log.reason[0] == R_FAILED
    assert net.log.end == pytest.approx([1.0, 13.0])
    assert st.lost == 1 and st.completed == 1 and st.balance() == 0
    st.account()
    assert st.busy_area == pytest.approx(1.0 + 10.0)  # busy 0-1 and 3-13, idle while down


def test_retry_a_message_in_service_at_the_repair_ahead_of_later_arrivals():
    """Same timing with retry: the interrupted message re-enters at the repair (t=2), ahead of
    the message arriving at t=3, and is served again in full: it ends at 12, the other at 22
    (not 23 and 13: FIFO by arrival at the switch)."""
    net, st = one_station([0.0, 3.0], service=10.0, on_failure="retry")
    fail_and_repair(net, st)
    net.env.run(until=30)
    assert net.log.fate == [DELIVERED, DELIVERED]
    assert net.log.end == pytest.approx([12.0, 22.0])
    # evicted once, re-entered as a new arrival at the repair
    assert st.arrivals == 3 and st.lost == 1 and st.completed == 2 and st.balance() == 0
    assert list(st.wait) == pytest.approx([0.0, 9.0])
    assert list(st.sojourn) == pytest.approx([10.0, 19.0])


def test_retry_keeps_arrival_order_of_everything_evicted():
    """Two servers, three in service and queued plus a waiting one when the switch fails: all
    are evicted at the failure and re-enter at the repair in their order of arrival, before a
    message arriving at the repair instant (one at 1.5 finds the switch down)."""
    net, st = one_station([0.0, 0.1, 0.2, 0.3, 1.5, 2.0], c=2, service=10.0, on_failure="retry")
    fail_and_repair(net, st)
    net.env.run(until=60)
    assert net.log.fate == [DELIVERED] * 4 + [REJECTED, DELIVERED]
    assert net.log.end == pytest.approx([12.0, 12.0, 22.0, 22.0, 1.5, 32.0])
    assert st.lost == 4 and st.rejected == 1 and st.balance() == 0
