"""Summaries computed after a run by joining the answer key: detection quality and CIs.

Everything here takes plain tables (the Parquet outputs read back give the same
numbers: `tests/test_oversight.py` recomputes the written metrics from the files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.config.oversight import RULES
from sim.detection import RULE_BIT


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-based confidence interval over replications (half-width 0 for one value)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if len(x) < 2:
        return m, m, m
    h = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - h, m + h


def detection_metrics(alerts: pd.DataFrame, truth: pd.DataFrame, incidents: pd.DataFrame,
                      reviews: int | None = None) -> dict[str, pd.DataFrame]:
    """Precision by policy, recall by category and archetype, recall at the alert budget,
    and time to detection by archetype."""
    q_alerts = alerts[alerts["query_id"].notna()].copy()
    q_alerts["query_id"] = q_alerts["query_id"].astype(np.int64)
    misuse_ids = set(truth["query_id"].astype(np.int64).tolist())
    q_alerts["true_positive"] = q_alerts["query_id"].isin(misuse_ids)
    # precision: each single rule separately (an alert counts for every rule it carries)
    rows = []
    for kind in ("random_audit", "complaint"):
        sel = q_alerts[q_alerts["kind"] == kind]
        rows.append(dict(policy=kind, alerts=len(sel), true_positives=int(sel["true_positive"].sum())))
    rule_alerts = q_alerts[q_alerts["kind"] == "rule"]
    for r in RULES:
        sel = rule_alerts[(rule_alerts["rules"].astype(np.int64) & RULE_BIT[r]) > 0]
        rows.append(dict(policy=r, alerts=len(sel), true_positives=int(sel["true_positive"].sum())))
    op_alerts = alerts[alerts["query_id"].isna()]
    for kind in ("anomaly", "rule"):
        sel = op_alerts[op_alerts["kind"] == kind]
        rows.append(dict(policy=f"{kind} (operator-level)", alerts=len(sel), true_positives=np.nan))
    by_policy = pd.DataFrame(rows)
    by_policy["precision"] = by_policy["true_positives"] / by_policy["alerts"].where(by_policy["alerts"] > 0)

    flagged = set(q_alerts["query_id"].tolist())
    t = truth.assign(detected=truth["query_id"].astype(np.int64).isin(flagged))

    def recall(by: str) -> pd.DataFrame:
        g = t.groupby(by, observed=False)["detected"]
        out = pd.DataFrame({"misuse_rows": g.size(), "detected_rows": g.sum()})
        out["recall"] = out["detected_rows"] / out["misuse_rows"].where(out["misuse_rows"] > 0)
        return out.reset_index()

    # recall at a fixed budget: the `reviews` highest-scoring query alerts (ties by date)
    k = len(q_alerts) if reviews is None else int(reviews)
    top = q_alerts.sort_values(["score", "day", "query_id"], ascending=[False, True, True]).head(k)
    at_budget = pd.DataFrame([dict(
        budget=k, misuse_rows=len(t),
        detected_rows=int(t["query_id"].astype(np.int64).isin(set(top["query_id"].tolist())).sum()))])
    at_budget["recall"] = at_budget["detected_rows"] / max(len(t), 1)

    # time to detection: first query alert on one of the incident's rows
    first_alert = q_alerts.groupby("query_id")["day"].min()
    hit = t[t["detected"]].assign(alert_day=lambda d: d["query_id"].astype(np.int64).map(first_alert))
    first_by_incident = hit.groupby("incident_id")["alert_day"].min()
    inc = incidents[["incident_id", "archetype", "start_day"]].copy()
    inc = inc[inc["incident_id"].isin(set(t["incident_id"].tolist()))]
    inc["first_alert_day"] = inc["incident_id"].map(first_by_incident)
    inc["days_to_detection"] = inc["first_alert_day"] - inc["start_day"]
    ttd = inc.groupby("archetype").agg(incidents=("incident_id", "size"),
                                       detected=("first_alert_day", "count"),
                                       median_days=("days_to_detection", "median")).reset_index()
    return {"by_policy": by_policy, "recall_by_category": recall("category"),
            "recall_by_archetype": recall("archetype"), "recall_at_budget": at_budget,
            "time_to_detection": ttd}
