"""The users' notebooks run top to bottom (small scale) from an unrelated working directory,
draw their figures inline, and print no widget warnings nor tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["analyst", "engineer", "trainer"]
# the sensitivity notebook runs analyses of tens of runs each: a few minutes on two cores
ALL = [*NAMES, pytest.param("uncertainty", marks=pytest.mark.slow)]


def _text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return "\n".join([output.get("ename", ""), output.get("evalue", "")])
    data = output.get("data", {})
    return "\n".join(str(data[k]) for k in ("text/plain", "text/html", "text/markdown") if k in data)


@pytest.mark.parametrize("name", ALL)
def test_notebook_runs(name, tmp_path, monkeypatch):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    # the notebook must find the checkout itself, from any working directory
    monkeypatch.delenv("CLETS_ROOT", raising=False)
    monkeypatch.delenv("CLETS_NB_OUT", raising=False)
    monkeypatch.chdir(tmp_path)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, "\n".join(_text(o) for o in errors)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{name}: no figure drawn inline"
    text = "\n".join(_text(o) for o in outputs)
    for word in ("ipywidgets", "IProgress", "Warning", "Traceback"):
        assert word not in text, f"{name}: output mentions {word!r}:\n{text[:3000]}"
    stderr = "".join(o.get("text", "") for o in outputs
                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
    assert len(stderr) < 500, f"{name}: stderr output:\n{stderr[:3000]}"
    # the CLI's progress line ends saying it finished
    assert "done in" in text, f"{name}: no progress/status line from the clets helper"


@pytest.mark.parametrize("name", [*NAMES, "uncertainty"])
def test_notebook_is_clean_json(name):
    """Stored without outputs and with a python3 kernelspec, so diffs stay readable."""
    raw = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code and all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    setup = "".join(code[0]["source"])
    assert "%matplotlib inline" in setup and "CLETS_ROOT" in setup
