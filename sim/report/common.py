"""Shared pieces of the report: sections, embedded figures, tables and keyed numbers."""

from __future__ import annotations

import base64
import io
import os
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import pandas as pd

from sim.formatting import display_frame


@dataclass
class Section:
    id: str
    title: str
    text: str = ""
    figures: list[dict] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)


def figure(fig, name: str, caption: str) -> dict:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return {"name": name, "caption": caption, "data": base64.b64encode(buf.getvalue()).decode()}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


REPORT_DIR: ContextVar[Path | None] = ContextVar("REPORT_DIR", default=None)


def table_link(r, name: str) -> str:
    """Path of run `r`'s table file `name`, relative to the report being written."""
    base = REPORT_DIR.get()
    path = Path(r.directory) / name
    return os.path.relpath(path, base) if base is not None else str(path)


_LEFT = ' class="t"'  # text columns read left-aligned; numbers right-aligned
_NUMBER = re.compile(r"^(|n/a|[+-]?[\d,]*\.?\d+(%| s| pp)?( - [+-]?[\d,]*\.?\d+(%| s| pp)?)?)$")


def html_table(df: pd.DataFrame, max_rows: int = 40, floatfmt: str = "{:,.3f}",
               source: str | None = None) -> str:
    """The table as HTML, formatted for people (`sim.formatting.display_frame`).

    A table cut at `max_rows` says so ("showing 40 of 1,234 rows") and links to the full
    file `source` (a CSV next to report.html) when there is one.
    """
    shown = display_frame(df.head(max_rows), floatfmt)
    text = [not all(_NUMBER.match(str(v)) for v in shown[c]) for c in shown.columns]
    head = "".join(f'<th{_LEFT if t else ""}>{escape(str(c))}</th>' for c, t in zip(shown.columns, text))
    body = "".join("<tr>" + "".join(f'<td{_LEFT if t else ""}>{escape(str(v))}</td>'
                                    for v, t in zip(row, text)) + "</tr>"
                   for row in shown.itertuples(index=False))
    html = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if len(df) > max_rows:
        link = f' &mdash; full table: <a href="{escape(source)}">{escape(source)}</a>' if source else ""
        html = (f'<p class="truncated" data-shown="{max_rows}" data-total="{len(df)}">showing '
                f"{max_rows:,} of {len(df):,} rows{link}</p>" + html)
    return html


def keyed(value: str, key: str) -> str:
    return f'<span data-key="{key}">{value}</span>'


