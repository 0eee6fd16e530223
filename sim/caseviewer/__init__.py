"""The trainer's case viewer: one self-contained HTML page per oversight run.

* `record` (during the run, answer-key side): the journal rows of incident operators on
  incident days, shadow detection (the rules a scenario did not enable, run but not acted
  on) and, with `roster`, the people of each incident (synthetic names, relations, roles,
  training);
* `data` (after the run): everything the page shows, built from the run directory alone;
  the report's case book reuses it. Its parts: `tables` (reading the run), `words` (labels,
  policies in words), `rows` (the journal rows an incident shows), `alerts`, `people`,
  `casework` (investigations, forms, audits) and `counterfactual` (the rules not enabled);
* `render`: the page (``sim/templates/cases.html.j2``: inline CSS and JavaScript, the data
  embedded as JSON, no server, no network), written as ``cases.html``.

Detection (`sim.detection`) never imports this package: the viewer may read the answer key,
detection may not.
"""

from __future__ import annotations

__all__ = ["write_case_viewer"]


def write_case_viewer(run_dir, out=None):
    """Write the case viewer of a finished oversight run (default ``RUN_DIR/cases.html``)."""
    from sim.caseviewer.render import write_case_viewer as write

    return write(run_dir, out)
