"""Per-node and end-to-end statistics of a message-level run (vectorized, after the run)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.config import DATABASES
from sim.messagelog import ANSWERED, IN_FLIGHT, REASONS, STATES
from sim.network import QueueNet

QUANTILES = (0.50, 0.95, 0.99)


def _quantiles(x: np.ndarray) -> list[float]:
    """`np.quantile(x, QUANTILES)` (its default linear method), step for step on the sorted
    sample: the same floats (test), without np.quantile's ~0.1 ms of overhead per call, which
    is most of `node_stats` over the statewide model's ~1,100 small samples. No NaN in `x`."""
    n = len(x)
    if n == 0:
        return [float("nan")] * len(QUANTILES)
    s = np.sort(x)
    out = []
    for q in QUANTILES:
        v = (n - 1) * q  # the virtual index
        if v >= n - 1:
            out.append(float(s[-1]))
            continue
        i = math.floor(v)
        g = v - i
        a, b = float(s[i]), float(s[i + 1])
        d = b - a
        out.append(b - d * (1 - g) if g >= 0.5 else a + d * g)  # numpy's _lerp
    return out


def node_stats(net: QueueNet, horizon: float) -> pd.DataFrame:
    """One row per station over [end of warm-up, horizon].

    Counts, utilisation and queue length cover that interval; the wait and sojourn figures
    (mean, share that waited, quantiles) cover the messages that arrived at the station in
    it (`Station.reset_stats` empties the warm-up samples)."""
    rows = []
    for st in net.stations:
        st.account()
        span = max(horizon - st.stats_from, 1e-12)
        soj = np.frombuffer(st.sojourn, dtype=float) if len(st.sojourn) else np.zeros(0)
        wait = np.frombuffer(st.wait, dtype=float) if len(st.wait) else np.zeros(0)
        p50, p95, p99 = _quantiles(soj)
        rows.append(
            dict(
                node=st.name,
                kind=st.kind,
                county=st.county,
                servers=st.servers,
                arrivals=st.arrivals,
                completed=st.completed,
                rejected=st.rejected,
                lost=st.lost,
                in_system_at_end=st.in_system(),
                utilization=st.busy_area / (st.servers * span),
                mean_queue=st.queue_area / span,
                throughput_per_s=st.completed / span,
                mean_sojourn_s=float(soj.mean()) if len(soj) else float("nan"),
                p50_s=p50,
                p95_s=p95,
                p99_s=p99,
                mean_wait_s=float(wait.mean()) if len(wait) else float("nan"),
                p_wait=float((wait > 0).mean()) if len(wait) else float("nan"),
                balance=st.balance(),
            )
        )
    return pd.DataFrame(rows)


def message_table(model, horizon: float) -> pa.Table:
    """Per-message records with the sender's final state (Parquet-ready, dictionary-encoded).

    With fan-out or resends (``model.tx``), one row per transaction (inquiry or administrative
    message): its state (`TransactionLog.final_states`), ``response_s`` to the last database's
    response, and the extra columns ``key``, ``databases`` (fan-out), ``messages`` (sent,
    resends included), ``attempts`` and ``first_response_s`` (to the first response)."""
    if model.tx is not None:
        return _transaction_table(model, horizon)
    log = model.log
    timeout = model.scenario.network.response_timeout_s
    state, reason = log.final_states(horizon, timeout)
    created = np.asarray(log.created)
    end = np.asarray(log.end)
    desc = model.describe_routes(np.asarray(log.route))
    where = np.asarray(log.where, dtype=np.int32)
    return _table(model, created, end, desc, state, reason, where, np.asarray(log.origin, dtype=np.int64))


def _transaction_table(model, horizon: float) -> pa.Table:
    from sim.catalogue import KEY_NAMES

    net = model.scenario.network
    tx = model.tx
    f = tx.final_states(model.log, horizon, net.response_timeout_s, net.resend.max + 1)
    state, created = f["state"], f["created"]
    desc = model.describe_routes(np.asarray(tx.route, dtype=np.int64))
    base = _table(model, created, f["end"], desc, state, f["reason"], f["where"],
                  np.asarray(tx.origin, dtype=np.int64))
    key = np.asarray(tx.key, dtype=np.int64)
    databases = np.asarray([len(p[1]) for p in tx.plan], dtype=np.int16)
    first = f["first"]
    seen = ~np.isnan(first) & (state != IN_FLIGHT)
    idx = pa.array(key.astype(np.int32), mask=key < 0)
    return base.append_column("key", pa.DictionaryArray.from_arrays(idx, pa.array(list(KEY_NAMES)))) \
        .append_column("databases", pa.array(databases)) \
        .append_column("messages", pa.array(f["messages"].astype(np.int32))) \
        .append_column("attempts", pa.array(f["attempts"].astype(np.int16))) \
        .append_column("first_response_s", pa.array(np.where(seen, first - created, np.nan)))


def message_legs(model, horizon: float) -> pd.DataFrame:
    """With fan-out or resends: one row per message (database leg of one attempt) with the
    state its own send would have from the sender's point of view (response timeout from the
    send), for per-database response times and message-level conservation."""
    log = model.log
    state, reason = log.final_states(horizon, model.scenario.network.response_timeout_s)
    created = np.asarray(log.created)
    desc = model.describe_routes(np.asarray(log.route, dtype=np.int64))
    db = desc["database"]
    return pd.DataFrame({
        "created_s": created,
        "txn": np.asarray(log.txn, dtype=np.int64),
        "attempt": np.asarray(log.attempt, dtype=np.int16),
        "database": pd.Categorical.from_codes(np.where(db >= 0, db, -1), categories=list(DATABASES)),
        "state": pd.Categorical.from_codes(state.astype(np.int8), categories=list(STATES)),
        "response_s": np.where(state == ANSWERED, np.asarray(log.end) - created, np.nan),
    })


def _table(model, created, end, desc, state, reason, where, origin) -> pa.Table:
    station_names = [s.name for s in model.stations]
    agency_names = model.agencies
    county_of_agency = [model.graph.nodes[a]["county"] for a in agency_names]
    type_of_agency = [model.graph.nodes[a]["agency_type"] for a in agency_names]
    answered = state == ANSWERED
    response = np.where(answered, end - created, np.nan)

    def dict_col(indices: np.ndarray, values: list[str]) -> pa.DictionaryArray:
        idx = pa.array(indices.astype(np.int32), mask=indices < 0)
        return pa.DictionaryArray.from_arrays(idx, pa.array(values, pa.string()))

    def per_agency_col(values_of_agency: list[str]) -> pa.DictionaryArray:
        """The value of each message's agency, dictionary-encoded in order of first appearance
        (as ``pa.array(strings).dictionary_encode()`` would, without 200,000 Python strings)."""
        names, code_of_agency = np.unique(np.asarray(values_of_agency, dtype=object),
                                          return_inverse=True)
        codes = code_of_agency[agency]
        seen, first = np.unique(codes, return_index=True)
        order = seen[np.argsort(first)]
        recode = np.zeros(len(names), dtype=np.int32)
        recode[order] = np.arange(len(order), dtype=np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(recode[codes]),
                                              pa.array(names[order].tolist(), pa.string()))

    agency = desc["agency"]
    return pa.table(
        {
            "msg_id": pa.array(np.arange(len(created), dtype=np.int64)),
            "created_s": pa.array(created),
            "kind": dict_col((desc["database"] < 0).astype(np.int32), ["inquiry", "admin"]),
            "device": dict_col(origin, list(model.device_names)),
            "device_kind": dict_col(desc["device_kind"], ["terminal", "mdt"]),
            "agency": dict_col(agency, agency_names),
            "agency_type": per_agency_col(type_of_agency),
            "county": per_agency_col(county_of_agency),
            "database": dict_col(desc["database"], list(DATABASES)),
            "dest_agency": dict_col(desc["dest_agency"], agency_names),
            "state": dict_col(state.astype(np.int32), list(STATES)),
            "reason": dict_col(np.where(reason > 0, reason, -1).astype(np.int32), list(REASONS)),
            "where": dict_col(where, station_names),
            "end_s": pa.array(end),
            "response_s": pa.array(response),
        }
    )


def end_to_end(messages: pd.DataFrame, by: str, warmup: float) -> pd.DataFrame:
    """Answered-response-time summary grouped by `by` (messages created after warm-up)."""
    m = messages[messages["created_s"] >= warmup]
    counts = m.groupby(by, observed=True)["state"].value_counts().unstack(fill_value=0)
    ans = m[m["state"] == "answered"].groupby(by, observed=True)["response_s"]
    out = pd.DataFrame(
        {
            "mean_s": ans.mean(),
            "p50_s": ans.quantile(0.50),
            "p95_s": ans.quantile(0.95),
            "p99_s": ans.quantile(0.99),
        }
    )
    out = counts.join(out, how="left").reset_index()
    for col in STATES:
        if col not in out:
            out[col] = 0
    return out


def state_counts(messages: pd.DataFrame) -> dict[str, int]:
    vc = messages["state"].value_counts()
    return {s: int(vc.get(s, 0)) for s in STATES}


def sender_response_times(messages: pd.DataFrame, timeout: float) -> pd.Series:
    """Response time as the sender sees it: answered messages at their response time,
    timed-out ones at the timeout (censored), so overload shows as a rising tail instead
    of vanishing from the answered sample. Rejected and in-flight messages are left out."""
    waited = messages[messages["state"].isin(["answered", "timed_out"])]
    return waited["response_s"].where(waited["state"] == "answered", timeout).clip(upper=timeout)


def timeline(messages: pd.DataFrame, timeout: float, bin_s: float = 60.0) -> pd.DataFrame:
    """Per time bin of creation: counts by end state and the sender's response-time quantiles
    (timed-out messages counted at the timeout), to see a fault's effect over time."""
    m = messages.assign(bin_start_s=(messages["created_s"] // bin_s) * bin_s)
    counts = m.groupby("bin_start_s")["state"].value_counts().unstack(fill_value=0)
    for col in STATES:
        if col not in counts:
            counts[col] = 0
    rt = sender_response_times(m, timeout)
    g = rt.groupby(m.loc[rt.index, "bin_start_s"])
    q = pd.DataFrame({"p50_s": g.quantile(0.50), "p95_s": g.quantile(0.95), "p99_s": g.quantile(0.99)})
    return counts[list(STATES)].join(q, how="left").reset_index()


def response_summary(messages: pd.DataFrame, timeout: float) -> dict:
    """Headline response-time figures of a set of messages, both ways, labelled by name:

    * ``p50_s``/``p95_s``/``p99_s``/``mean_s``: answered messages only (timed-out ones left out,
      so these look better as more messages time out);
    * ``p95_censored_s``/``p99_censored_s``: the sender's view, timed-out messages counted at
      the timeout (`sender_response_times`); equal to the timeout once more than 5% (1%) of
      the senders who waited timed out;
    * ``waited``: the censored sample (answered + timed out), ``waited_timed_out_share``: the
      share of it that timed out; ``answered_share``/``rejected_share``/``timed_out_share``:
      shares of all messages given.
    """
    n = len(messages)
    state = messages["state"]
    answered = messages.loc[state == "answered", "response_s"]
    rt = sender_response_times(messages, timeout)
    timed_out = int((state == "timed_out").sum())

    def q(x: pd.Series, p: float) -> float | None:
        return float(x.quantile(p)) if len(x) else None

    return {
        "messages": n,
        "answered_share": float((state == "answered").sum()) / n if n else None,
        "rejected_share": float((state == "rejected").sum()) / n if n else None,
        "timed_out_share": timed_out / n if n else None,
        "mean_s": float(answered.mean()) if len(answered) else None,
        "p50_s": q(answered, 0.50),
        "p95_s": q(answered, 0.95),
        "p99_s": q(answered, 0.99),
        "p50_censored_s": q(rt, 0.50),
        "p95_censored_s": q(rt, 0.95),
        "p99_censored_s": q(rt, 0.99),
        "waited": len(rt),
        "waited_timed_out_share": timed_out / len(rt) if len(rt) else None,
        "response_timeout_s": float(timeout),
    }


def mark_faults(tl: pd.DataFrame, windows: list[dict], bin_s: float = 60.0) -> pd.DataFrame:
    """The timeline with a ``fault`` column: the labels of the fault windows overlapping each
    bin ("; "-joined, empty when none)."""
    starts = tl["bin_start_s"].to_numpy(dtype=float)
    labels = []
    for b in starts:
        hit = [w["label"] for w in windows if w["start_s"] < b + bin_s and w["end_s"] > b]
        labels.append("; ".join(dict.fromkeys(hit)))
    return tl.assign(fault=labels)


COMPARED = ("messages", "answered", "rejected", "timed_out", "lost_in_node", "p95_s", "p95_censored_s")


def window_comparison(with_fault: pd.DataFrame, without: pd.DataFrame, windows: list[dict],
                      timeout: float) -> pd.DataFrame:
    """Per fault window, messages created in it with the fault and in the no-fault twin (same
    seed, same arrivals): counts by end state, messages lost inside a failed node, and the
    p95 both ways. Long format: window, start_s, end_s, measure, with_fault, without_fault,
    difference."""
    rows = []

    def figures(m: pd.DataFrame, start: float, end: float) -> dict:
        w = m[(m["created_s"] >= start) & (m["created_s"] < end)]
        s = response_summary(w, timeout)
        counts = w["state"].value_counts()
        return {"messages": len(w), "answered": int(counts.get("answered", 0)),
                "rejected": int(counts.get("rejected", 0)),
                "timed_out": int(counts.get("timed_out", 0)),
                "lost_in_node": int((w["reason"] == "failed_in_node").sum()),
                "p95_s": s["p95_s"], "p95_censored_s": s["p95_censored_s"]}

    for w in windows:
        a = figures(with_fault, w["start_s"], w["end_s"])
        b = figures(without, w["start_s"], w["end_s"])
        for name in COMPARED:
            x, y = a[name], b[name]
            diff = None if x is None or y is None else x - y
            rows.append(dict(window=w["label"], start_s=w["start_s"], end_s=w["end_s"], measure=name,
                             with_fault=x, without_fault=y, difference=diff))
    return pd.DataFrame(rows, columns=["window", "start_s", "end_s", "measure", "with_fault",
                                       "without_fault", "difference"])


def transaction_summary(after: pd.DataFrame, legs: pd.DataFrame, warmup: float) -> dict:
    """Summary figures of a run with fan-out or resends: ``after`` is the transaction table
    (created after the warm-up), ``legs`` the per-message frame (`message_legs`).

    * ``inquiries``, ``messages_per_inquiry``: the amplification (database messages per
      inquiry, each resend counting all its messages again);
    * ``first_p50_s``/``first_p95_s``: time to the first database's response, over answered
      inquiries (the headline ``p*_s`` are to the last);
    * ``messages_sent`` (after the warm-up) and ``message_*`` (every message of the run by
      its own state: each send judged against one response timeout) for conservation."""
    inq = after[after["kind"] == "inquiry"]
    ans = inq.loc[inq["state"] == "answered", "first_response_s"]
    states = legs["state"].value_counts()
    out = {
        "inquiries": len(inq),
        "messages_per_inquiry": float(inq["messages"].sum() / len(inq)) if len(inq) else None,
        "first_p50_s": float(ans.quantile(0.5)) if len(ans) else None,
        "first_p95_s": float(ans.quantile(0.95)) if len(ans) else None,
        "messages_sent": int((legs["created_s"] >= warmup).sum()),
        "messages_total": len(legs),
    }
    out |= {f"message_{s}": int(states.get(s, 0)) for s in STATES}
    return out


def hub_recovery(samples: list[tuple[float, int]], per_minute: pd.DataFrame, windows: list[dict],
                 warmup: float, bin_s: float = 60.0) -> tuple[pd.DataFrame, dict]:
    """The hub backlog over time and the recovery after a hub failover.

    ``samples`` are (time, backlog) every few seconds (`HubRole.backlog`: messages in either
    hub site, waiting or in service, plus those held at their MSC for the switch-over). The
    *pre-fault level* is the 95th percentile of the samples from the end of the warm-up to the
    failure. ``hub_recovery_s``: from the failback (switch-back to the primary) until the
    first sample at or below that level (0 when already there; None with no failback in the
    run, NaN-free: ``hub_recovered`` False when it never got back before the horizon).
    ``hub_recovery_after_switchover_s``: the same from the moment the backup took over.
    Adds ``hub_backlog`` (the largest sample in each minute) to the timeline."""
    t = np.array([a for a, _ in samples], dtype=float)
    b = np.array([x for _, x in samples], dtype=float)
    bins = (t // bin_s) * bin_s
    peak = pd.Series(b).groupby(bins).max()
    per_minute = per_minute.assign(
        hub_backlog=per_minute["bin_start_s"].map(peak).astype(float))
    sw = [w for w in windows if w["fault"] == "hub_failover" and "switch-over" in w["label"]]
    out: dict = {"hub_backlog_pre_fault": None, "hub_backlog_peak": None, "hub_recovery_s": None,
                 "hub_recovered": None, "hub_recovery_after_switchover_s": None}
    if not sw:
        return per_minute, out
    fail = sw[0]["start_s"]
    before = b[(t >= warmup) & (t < fail)]
    if len(before) == 0:
        before = b[t < fail]
    level = float(np.quantile(before, 0.95)) if len(before) else 0.0
    out["hub_backlog_pre_fault"] = level
    out["hub_backlog_peak"] = float(b[t >= fail].max()) if (t >= fail).any() else None

    def back_within(start: float) -> float | None:
        ok = np.flatnonzero((t >= start) & (b <= level))
        return float(t[ok[0]] - start) if len(ok) else None

    backup = [w for w in windows if w["fault"] == "hub_failover" and w["label"] == "on the backup hub"
              and w["start_s"] >= fail]
    if backup:
        out["hub_recovery_after_switchover_s"] = back_within(backup[0]["start_s"])
        if not backup[0]["until_horizon"]:
            r = back_within(backup[0]["end_s"])
            out["hub_recovery_s"] = r
            out["hub_recovered"] = r is not None
    return per_minute, out
