"""Worker processes that never outlive the command that started them.

`worker_pool(n)` is a ProcessPoolExecutor whose workers ask Linux to send them SIGTERM
when their parent dies (prctl PR_SET_PDEATHSIG): a `clets sweep` killed with SIGKILL
leaves no workers writing run folders behind it. Elsewhere the pool is a plain one.
"""

from __future__ import annotations

import signal
import sys
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Pool initializer: SIGTERM this process when its parent exits (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:  # pragma: no cover - no libc: the pool still works, without the guard
        return


def worker_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent)
