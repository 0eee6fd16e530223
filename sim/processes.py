"""Worker processes that never outlive the command that started them.

`worker_pool(n)` is a ProcessPoolExecutor whose workers leave Ctrl-C to their parent and ask
Linux to send them SIGTERM when their parent dies (prctl PR_SET_PDEATHSIG): a `clets sweep`
killed with SIGKILL leaves no workers writing run folders behind it. Elsewhere the pool is a plain one.
"""

from __future__ import annotations

import signal
import sys
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Pool initializer: ignore Ctrl-C, and SIGTERM this process when its parent exits (Linux).

    Ctrl-C reaches the whole foreground group, but it is the parent's to answer: it cancels
    the runs and ends the workers (`WorkerPool`). A worker interrupted itself would send its
    KeyboardInterrupt back through the result pipe, and the parent, ending it mid-message,
    could leave the pool's manager thread waiting for the rest of that message for ever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:  # pragma: no cover - no libc: the pool still works, without the guard
        return


class WorkerPool(ProcessPoolExecutor):
    """A process pool that, left by Ctrl-C, cancels what has not started and ends its workers at
    once (a plain pool would wait for every run in progress to finish). An unfinished run has no
    result record yet, so a resumed sweep redoes it."""

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            # shutdown(wait=False) forgets the workers and the pool's manager thread
            workers = list((getattr(self, "_processes", None) or {}).values())
            manager = getattr(self, "_executor_manager_thread", None)
            self.shutdown(wait=False, cancel_futures=True)
            for process in workers:
                process.terminate()
            if manager is not None:
                # Let the manager see its workers gone and close its pipes before the command
                # exits. Otherwise Python 3.11's exit handler may wake it through a pipe that it
                # is closing at that very moment, without a lock, and print "Exception ignored
                # ... Bad file descriptor" after the one line Ctrl-C should print. The handler
                # joins this thread anyway, so waiting here costs nothing more.
                manager.join(timeout=30)
        return super().__exit__(exc_type, exc, tb)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    return WorkerPool(max_workers=workers, initializer=die_with_parent)
