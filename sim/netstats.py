"""Per-node and end-to-end statistics of a message-level run (vectorized, after the run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.config import DATABASES
from sim.network import ANSWERED, REASONS, STATES, QueueNet

QUANTILES = (0.50, 0.95, 0.99)


def _quantiles(x: np.ndarray) -> list[float]:
    if len(x) == 0:
        return [float("nan")] * len(QUANTILES)
    return [float(v) for v in np.quantile(x, QUANTILES)]


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
    """Per-message records with the sender's final state (Parquet-ready, dictionary-encoded)."""
    log = model.log
    timeout = model.scenario.network.response_timeout_s
    state, reason = log.final_states(horizon, timeout)
    created = np.asarray(log.created)
    end = np.asarray(log.end)
    desc = model.describe_routes(np.asarray(log.route))
    where = np.asarray(log.where, dtype=np.int32)
    station_names = [s.name for s in model.stations]
    agency_names = model.agencies
    county_of_agency = [model.graph.nodes[a]["county"] for a in agency_names]
    type_of_agency = [model.graph.nodes[a]["agency_type"] for a in agency_names]
    answered = state == ANSWERED
    response = np.where(answered, end - created, np.nan)

    def dict_col(indices: np.ndarray, values: list[str]) -> pa.DictionaryArray:
        idx = pa.array(indices.astype(np.int32), mask=indices < 0)
        return pa.DictionaryArray.from_arrays(idx, pa.array(values, pa.string()))

    agency = desc["agency"]
    origin = np.asarray(log.origin, dtype=np.int64)
    return pa.table(
        {
            "msg_id": pa.array(np.arange(len(created), dtype=np.int64)),
            "created_s": pa.array(created),
            "kind": dict_col((desc["database"] < 0).astype(np.int32), ["inquiry", "admin"]),
            "device": dict_col(origin, list(model.device_names)),
            "device_kind": dict_col(desc["device_kind"], ["terminal", "mdt"]),
            "agency": dict_col(agency, agency_names),
            "agency_type": pa.array(np.asarray(type_of_agency, dtype=object)[agency]
                                    if len(agency) else np.zeros(0, dtype=object)).dictionary_encode(),
            "county": pa.array(np.asarray(county_of_agency, dtype=object)[agency]
                               if len(agency) else np.zeros(0, dtype=object)).dictionary_encode(),
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
