"""How values are shown to people: real dates, integer counts, identifiers as strings.

One place, so the console, the report and the case viewer print the same value the same
way. Days are stored as days since 1970-01-01 (the oversight clock); identifiers such as
case numbers are integers that may be missing, which pandas turns into floats - shown
here as plain digit strings, never as ``20,177,688,467.000``.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

EPOCH = date(1970, 1, 1)
ID_COLUMNS = ("case_number", "query_id", "incident_id", "case_id", "operator", "agency", "subject",
              "requestor", "alert_id", "item_id", "terminal")


def day_to_date(day) -> str:
    """Days since 1970 -> 'YYYY-MM-DD' ('' when missing)."""
    if day is None or (isinstance(day, float) and np.isnan(day)) or pd.isna(day):
        return ""
    return (EPOCH + timedelta(days=int(day))).isoformat()


def count(n) -> str:
    """An integer count with thousands separators ('' when missing)."""
    if n is None or pd.isna(n):
        return ""
    return f"{int(round(float(n))):,}"


def identifier(v) -> str:
    """An identifier as a plain digit string: 20177688467, never 2.0177688467e10 or with commas."""
    if v is None or pd.isna(v):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def is_day_column(name: str) -> bool:
    return name == "day" or name.endswith("_day")


def _is_whole(s: pd.Series) -> bool:
    v = s.dropna().to_numpy(dtype=float)
    return bool(len(v)) and bool(np.all(np.isfinite(v))) and bool(np.all(v == np.round(v)))


def display_frame(df: pd.DataFrame, float_format: str = "{:,.3f}") -> pd.DataFrame:
    """A copy of `df` with every column turned into display strings.

    Day columns become dates, identifier columns digit strings, whole-number columns
    (counts, even when NaN made them float) integers with separators, other floats
    `float_format`; timestamps in seconds of the day (`time`) become HH:MM:SS.
    """
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        s = df[c]
        if is_day_column(str(c)) and pd.api.types.is_numeric_dtype(s):
            out[c] = s.map(day_to_date)
        elif str(c) in ID_COLUMNS or str(c).endswith("_id"):
            out[c] = s.map(identifier)
        elif pd.api.types.is_bool_dtype(s):
            out[c] = s.map(lambda v: "yes" if v else "no")
        elif str(c).endswith("year") and pd.api.types.is_numeric_dtype(s):
            out[c] = s.map(identifier)
        elif pd.api.types.is_numeric_dtype(s) and (pd.api.types.is_integer_dtype(s) or _is_whole(s)):
            out[c] = s.map(count)
        elif pd.api.types.is_float_dtype(s):
            out[c] = s.map(lambda v: "" if pd.isna(v) else float_format.format(v))
        else:
            out[c] = s.map(lambda v: "" if v is None or (not isinstance(v, (list, tuple, np.ndarray))
                                                        and pd.isna(v)) else str(v))
    return out
