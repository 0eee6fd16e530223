"""Headless Chromium for the browser tests (the report, the case viewer).

Missing Chromium skips a browser test with the way to get it (`make browser` installs
Debian's package), except in CI (``CI=true``), where it fails: the browser tests must run.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium() -> str:
    """The Chromium binary; skips the test (fails it in CI) when there is none."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = ("headless Chromium is missing: run `make browser` as root, or "
               "`sudo apt-get install chromium`")
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must run the browser tests")
    pytest.skip(message)


def _run(args: list[str], profile: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)


def dump_dom(url: str, profile: Path, budget_ms: int = 5000) -> tuple[str, str]:
    """The DOM after the page's scripts ran (and `budget_ms` of virtual time), and stderr."""
    r = _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], profile)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, r.stderr


def body_attributes(dom: str) -> dict[str, str]:
    """The attributes of <body> in a dumped DOM (values unescaped)."""
    tag = re.search(r"<body([^>]*)>", dom).group(1)
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}


def screenshot(url: str, out: Path, profile: Path, size: str = "1400,900") -> Path:
    r = _run([f"--screenshot={out}", f"--window-size={size}", url], profile)
    assert r.returncode == 0, r.stderr[-2000:]
    return out
