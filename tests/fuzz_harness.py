"""The fuzz suite's runner: long-lived worker processes that run `clets` cases in bounded time
and memory, and the classification of each outcome (issue 11, items 1 and 6).

Run as a script (`python tests/fuzz_harness.py`) this file is a *worker*: it limits its own
address space (RLIMIT_AS, default 3 GB) and file size (RLIMIT_FSIZE, 256 MB), imports the
`clets` app and the modules its commands import lazily once (so a case does not pay the
import), then reads one case per line on stdin (JSON: argv, working directory, time budget)
and answers one JSON line per case: exit code, exception, captured stdout and stderr
(shortened, with their full lengths), elapsed time. A case is interrupted at its budget
(SIGALRM); the worker then exits, as it does after a MemoryError, so the next case starts
clean. The parent (`Pool`) kills a worker that does not answer within the budget plus a
grace period (a hang in C code, a blocked open of a FIFO) or that dies (crash, kill by the
kernel), records that case as `timeout`/`crash` and starts a new worker for the rest.

Imported, this file gives `Case`, `Pool`, `materialize`, `classify` and the report helpers.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUDGET_S = 10.0  # every case ends within this (the bound)
GRACE_S = 20.0  # then the parent kills a worker that has not answered
AS_BYTES = 3 << 30  # address space of a worker (and of any process it starts)
FSIZE_BYTES = 256 << 20  # largest file a case may write
KEEP = 6000  # characters of stdout/stderr sent back (head and tail)

# modules the commands import when they run; imported once by the worker (a missing one,
# e.g. renamed by a colleague, is skipped)
PRELOAD = ["sim.runner", "sim.outputs", "sim.oversight", "sim.report", "sim.journal", "sim.capacity",
           "sim.experiment", "sim.compare", "sim.caseviewer", "sim.calibration", "sim.faults",
           "sim.measures", "sim.rng", "topology.builder", "networkx", "matplotlib.pyplot", "pyarrow",
           "pyarrow.parquet", "pandas"]


# --------------------------------------------------------------------------- worker side


class CaseTimeout(BaseException):
    """Raised by SIGALRM at the budget; a BaseException so `except Exception` cannot hide it."""


def _keep(text: str) -> str:
    if len(text) <= KEEP:
        return text
    return text[: KEEP - 1500] + f"\n... [{len(text) - KEEP:,} characters cut] ...\n" + text[-1500:]


def _worker_main() -> None:
    import resource

    as_bytes = int(os.environ.get("FUZZ_AS_BYTES", AS_BYTES))
    resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_BYTES, FSIZE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails (EFBIG), not a kill
    # the protocol gets private copies of stdin/stdout; anything else written to fd 0/1/2
    # (a library, a child process) cannot corrupt it
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    log = os.environ.get("FUZZ_WORKER_LOG")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    else:
        os.dup2(devnull, 1)
    t0 = time.perf_counter()
    import importlib
    import threading
    import traceback
    import warnings

    warnings.simplefilter("ignore")
    from typer.testing import CliRunner

    from sim.cli import app

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - optional: only saves time
            pass
    proto_out.write(json.dumps({"ready": True, "import_s": round(time.perf_counter() - t0, 2),
                                "pid": os.getpid()}) + "\n")

    def on_alarm(signum, frame):
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    import typer

    runner = CliRunner()
    cli = typer.main.get_command(app)  # built once (typer's CliRunner.invoke rebuilds it per call)
    threads_before = threading.active_count()
    for line in proto_in:
        case = json.loads(line)
        os.chdir(case["cwd"])
        res: dict = {"id": case["id"], "timeout": False, "restart": False}
        out = err = ""
        t = time.perf_counter()
        try:
            with runner.isolation(env={"COLUMNS": "160"}) as streams:
                code, exc, exc_tb = 0, None, None
                signal.setitimer(signal.ITIMER_REAL, float(case["budget"]))
                try:
                    cli.main(args=case["argv"], prog_name="clets")
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                except Exception as e:  # noqa: BLE001 - an uncaught error: a traceback for the user
                    code, exc, exc_tb = 1, e, traceback.format_exc()
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    sys.stdout.flush()
                    sys.stderr.flush()
                    out = streams[0].getvalue().decode("utf-8", "replace")
                    err = streams[1].getvalue().decode("utf-8", "replace")
            res["exit_code"] = code
            if exc is not None:
                res["exc_type"] = type(exc).__name__
                res["exc_msg"] = str(exc)[:600]
                res["traceback"] = "\n".join(exc_tb.splitlines()[-8:])[-3000:]
                if isinstance(exc, MemoryError):
                    res["restart"] = True
        except CaseTimeout:
            res.update(exit_code=None, timeout=True, restart=True)
        except MemoryError:
            res.update(exit_code=None, exc_type="MemoryError", exc_msg="(outside the command)",
                       restart=True)
        res["elapsed"] = round(time.perf_counter() - t, 3)
        res["stdout"], res["stderr"] = _keep(out), _keep(err)
        res["stdout_len"], res["stderr_len"] = len(out), len(err)
        extra = threading.active_count() - threads_before
        if extra > 0:
            res["leftover_threads"] = extra
            res["restart"] = True  # a background thread may still be working: start clean
        try:
            res["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        except Exception:  # noqa: BLE001
            pass
        proto_out.write(json.dumps(res) + "\n")
        if res["restart"]:
            break
    os._exit(0)


# --------------------------------------------------------------------------- parent side


class Worker:
    """One worker process (started at once; `ready` waits for its imports)."""

    def __init__(self, log: Path | None = None):
        env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg", COLUMNS="160",
                   PYTHONWARNINGS="ignore")
        if log is not None:
            env["FUZZ_WORKER_LOG"] = str(log)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], cwd=str(REPO),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        self.buf = b""
        self.import_s = None
        self.log = log

    def ready(self, timeout: float = 180.0) -> Worker:
        if self.import_s is None:
            hello = self._readline(timeout)
            if hello is None:
                self.kill()
                raise RuntimeError(f"fuzz worker did not start (see {self.log})")
            self.import_s = json.loads(hello).get("import_s")
        return self

    def _readline(self, timeout: float) -> str | None:
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def run(self, msg: dict) -> dict | None:
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        line = self._readline(msg["budget"] + GRACE_S)
        return json.loads(line) if line else None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """This worker and whatever it started (its own session)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@dataclass
class Case:
    """One `clets` invocation. `argv` and `needles` may hold placeholders ({S} the scenario
    file, {OUT} a fresh output path, {FIFO}, {MISSING}, ... see `materialize`). `needles`:
    alternatives, each a list of words the refusal message must contain in order (a dotted
    field path as its parts, a flag, a file)."""

    kind: str
    label: str
    argv: list[str]
    files: dict = field(default_factory=dict)  # name -> str or bytes, written in the case folder
    needles: list = field(default_factory=list)
    budget: float = BUDGET_S
    expect_success: bool = False  # a valid file: a refusal is a failure too
    id: int = -1
    argv_resolved: list = field(default_factory=list)
    cwd: str = ""


def _make_special(name: str, d: Path, prepared: dict) -> str:
    p = d / name.lower()
    if name == "MISSING":
        return str(d / "missing.yaml")
    if name == "DIR":
        p.mkdir(exist_ok=True)
        (p / "inside.txt").write_text("x\n")
    elif name == "EMPTYDIR":
        p.mkdir(exist_ok=True)
    elif name == "FIFO":
        p = d / "fifo.yaml"
        if not p.exists():
            os.mkfifo(p)
    elif name in ("FILE", "UNDERFILE"):
        f = d / "plain.txt"
        f.write_text("just text\n")
        return str(f if name == "FILE" else f / "sub.yaml")
    elif name == "LONGNAME":
        return str(d / ("n" * 300 + ".yaml"))
    elif name == "LOOP":
        a, b = d / "loop_a.yaml", d / "loop_b.yaml"
        if not a.is_symlink():
            a.symlink_to(b.name)
            b.symlink_to(a.name)
        return str(a)
    elif name == "DANGLING":
        p = d / "dangling.yaml"
        if not p.is_symlink():
            p.symlink_to(d / "nowhere" / "x.yaml")
    elif name == "NULBYTE":
        p = d / "nul.yaml"
        p.write_bytes(b"name: x\x00\n")
    elif name == "BINARY":
        p = d / "binary.yaml"
        p.write_bytes(bytes(range(256)) * 4)
    elif name == "UTF16":
        p = d / "utf16.yaml"
        p.write_bytes("name: u\nmodel: oversight\n".encode("utf-16"))
    elif name in ("RUN", "NETRUN", "CORRUPT_RUN", "EMPTY_RUN"):
        p = d / name.lower()
        if p.exists():
            return str(p)
        src = prepared.get("NETRUN" if name == "NETRUN" else "RUN")
        if name == "EMPTY_RUN":
            p.mkdir()
            (p / "manifest.json").write_text("{}")
        elif src is None or not Path(src).is_dir():
            p.mkdir()  # the prepared run is missing: an empty folder stands in
        else:
            shutil.copytree(src, p)
            if name == "CORRUPT_RUN":
                (p / "manifest.json").write_text('{"kind": "oversight", "manifest_vers')
                for f in sorted(p.rglob("*.parquet"))[:3]:
                    f.write_bytes(b"PAR1garbage" + bytes(100))
    elif name == "OUT":
        return str(d / "out")
    elif name == "SPARSE":
        p = d / "sparse.yaml"
        with open(p, "wb") as f:
            f.truncate(2 << 30)  # 2 GB of holes: no disk used
    else:
        raise KeyError(name)
    return str(p)


_PLACEHOLDER = re.compile(r"\{([A-Z_0-9]+)\}")


def materialize(case: Case, root: Path, prepared: dict | None = None) -> Path:
    """Write the case's files into its own folder and resolve its placeholders."""
    d = root / f"c{case.id:05d}"
    d.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for i, (name, content) in enumerate(case.files.items()):
        p = d / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        names["S" if i == 0 else f"S{i + 1}"] = str(p)
        names[Path(name).stem.upper()] = str(p)

    def sub(text: str) -> str:
        def one(m):
            key = m.group(1)
            if key not in names:
                names[key] = _make_special(key, d, prepared or {})
            return names[key]

        return _PLACEHOLDER.sub(one, text)

    case.argv_resolved = [sub(a) for a in case.argv]
    case.needles = [[sub(w) for w in alt] for alt in case.needles]
    case.cwd = str(d)
    return d


class Pool:
    """`size` worker slots. A worker is replaced after a timeout, crash or MemoryError; after
    the first replacement a slot keeps a spare warm (a start-up is ~5 s of imports) so a run
    with many failures does not wait for imports each time."""

    def __init__(self, root: Path, size: int = 1, prepared: dict | None = None):
        self.root, self.size, self.prepared = Path(root), size, prepared or {}
        self.root.mkdir(parents=True, exist_ok=True)
        self.restarts = 0
        self.import_s: list = []
        self.slots: list[dict] = [{"worker": None, "spare": None} for _ in range(size)]

    def _take(self, slot: dict, log: Path) -> Worker:
        w = slot["worker"]
        if w is not None and w.alive():
            return w
        if slot["spare"] is not None:
            w, slot["spare"] = slot["spare"], None
        else:
            w = Worker(log)
        if self.restarts:
            slot["spare"] = Worker(log)  # starts importing while this one works
        slot["worker"] = w.ready()
        self.import_s.append(w.import_s)
        return w

    def close(self) -> None:
        for slot in self.slots:
            for key in ("worker", "spare"):
                if slot[key] is not None:
                    slot[key].kill()
                    slot[key] = None

    def run(self, cases: list[Case]) -> list[dict]:
        import queue
        import threading

        todo: queue.Queue = queue.Queue()
        for c in cases:
            todo.put(c)
        results: dict[int, dict] = {}
        lock = threading.Lock()

        def serve(i: int):
            slot, log = self.slots[i], self.root / f"worker{i}.log"
            while True:
                try:
                    case = todo.get_nowait()
                except queue.Empty:
                    break
                materialize(case, self.root, self.prepared)
                with lock:
                    worker = self._take(slot, log)
                msg = {"id": case.id, "argv": case.argv_resolved, "cwd": case.cwd, "budget": case.budget}
                t0 = time.perf_counter()
                res = worker.run(msg)
                if res is None:  # no answer: hung past the grace period, or died
                    elapsed = time.perf_counter() - t0
                    hung = worker.alive()
                    worker.kill()
                    code = worker.proc.returncode
                    res = {"id": case.id, "exit_code": None, "elapsed": round(elapsed, 3),
                           "timeout": hung, "crash": not hung,
                           "signal": -code if code and code < 0 else None,
                           "stdout": "", "stderr": "", "stdout_len": 0, "stderr_len": 0}
                if res is not None and (res.get("restart") or not worker.alive()
                                        or res.get("timeout") or res.get("crash")):
                    worker.kill()
                    with lock:
                        slot["worker"] = None
                        self.restarts += 1
                with lock:
                    results[case.id] = res

        threads = [threading.Thread(target=serve, args=(i,), daemon=True) for i in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [results[c.id] for c in cases]


# --------------------------------------------------------------------------- classification

CLEAN = ("success", "clean_refusal")
FAILURES = ("valid_refused", "traceback", "wrong_exit_code", "field_not_named", "message_too_long", "several_messages",
            "complete_output_left", "timeout", "memory", "crash")


def message_cap() -> int:
    """The longest acceptable refusal: the CLI's own cap plus its prefix and the '... (N more
    characters)' note, and room for click's usage line."""
    try:
        from sim.cli.common import MAX_MESSAGE
    except ImportError:
        MAX_MESSAGE = 2000
    return MAX_MESSAGE + 400


def _word(word: str) -> re.Pattern:
    w = re.escape(word.lower())
    return re.compile(rf"(?<![a-z0-9_]){w}(?![a-z0-9_])" if re.match(r"^[\w.-]+$", word) else w)


def names_one(text: str, words: list[str]) -> bool:
    """The words appear in order (a dotted path may have extra parts between, such as the kind
    of a fault: faults.scheduled.0.msc_outage.start_s). A word is matched whole, except one
    written `~text`: a plain substring."""
    low, pos = text.lower(), 0
    for w in words:
        if not w:
            continue
        pattern = re.compile(re.escape(w[1:].lower())) if w.startswith("~") else _word(w)
        m = pattern.search(low, pos)
        if not m:
            return False
        pos = m.end()
    return True


def classify(case: Case, res: dict, cap: int | None = None) -> str:
    cap = cap or message_cap()
    if res.get("crash"):
        return "crash"
    if res.get("timeout") or (res.get("elapsed") or 0) > case.budget:
        return "timeout"
    if res.get("exc_type") == "MemoryError":
        return "memory"
    out, err = res.get("stdout", ""), res.get("stderr", "")
    if res.get("exc_type") or "Traceback (most recent call last)" in out + err:
        return "traceback"
    code = res.get("exit_code")
    if code == 0:
        return "success"
    if case.expect_success:
        return "valid_refused"
    if code != 2:
        return "wrong_exit_code"
    if res.get("stdout_len", 0) + res.get("stderr_len", 0) > cap:
        return "message_too_long"
    if len(re.findall(r"(?m)^\s*error:", err)) > 1:
        return "several_messages"
    out_dir = Path(case.cwd) / "out"
    if (out_dir / "manifest.json").exists():
        return "complete_output_left"
    if case.needles and not any(names_one(out + "\n" + err, alt) for alt in case.needles):
        return "field_not_named"
    return "clean_refusal"


def first_lines(res: dict, n: int = 3) -> str:
    if res.get("timeout"):
        return f"(no answer within the budget; elapsed {res.get('elapsed')} s)"
    if res.get("crash"):
        return f"(worker died, signal {res.get('signal')})"
    if res.get("exc_type"):
        tb = [ln for ln in (res.get("traceback") or "").strip().splitlines() if ln.strip()]
        return f"{res['exc_type']}: {res.get('exc_msg', '')[:300]}" + (f"  [at {tb[-3].strip()}]"
                                                                      if len(tb) >= 3 else "")
    text = (res.get("stderr") or "") + (res.get("stdout") or "")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " | ".join(ln.strip()[:200] for ln in lines[:n])


def shown_argv(case: Case) -> str:
    import shlex

    args = [a.replace(case.cwd + "/", "") if case.cwd else a for a in case.argv_resolved or case.argv]
    return "clets " + " ".join(shlex.quote(a if len(a) < 120 else a[:100] + f"...({len(a)} chars)")
                               for a in args)


def report(cases: list[Case], results: list[dict], classes: list[str], per_class: int = 12) -> str:
    """A table of the failing cases with reproducers (argv and the YAML), grouped by class."""
    from collections import Counter, defaultdict

    counts = Counter(classes)
    lines = [f"{len(cases)} fuzz cases: " + ", ".join(f"{k} {v}" for k, v in counts.most_common())]
    groups = defaultdict(list)
    for c, r, k in zip(cases, results, classes):
        if k not in CLEAN:
            groups[k].append((c, r))
    for k in FAILURES:
        if k not in groups:
            continue
        lines.append(f"\n== {k}: {len(groups[k])} case(s)")
        seen = set()
        shown = 0
        for c, r in groups[k]:
            sig = (c.kind, r.get("exc_type"), re.sub(r"\d+", "N", first_lines(r, 1))[:80])
            if sig in seen and len(groups[k]) > per_class:
                continue
            seen.add(sig)
            shown += 1
            if shown > per_class:
                lines.append(f"   ... and more ({len(groups[k])} in all)")
                break
            lines.append(f"-- [{c.kind}] {c.label[:160]}  ({r.get('elapsed')} s)")
            lines.append(f"   $ {shown_argv(c)}")
            for name, content in c.files.items():
                if c.kind == "flag":
                    lines.append(f"   {name}: the tiny base scenario (tests/fuzz_strategies.py BASE)")
                    continue
                text = content if isinstance(content, str) else repr(content[:120])
                text = text if len(text) < 500 else text[:500] + f"... ({len(text)} chars)"
                lines.append(f"   {name}: " + text.replace("\n", "\n      "))
            lines.append(f"   got: exit {r.get('exit_code')}: {first_lines(r)}")
            if k == "field_not_named":
                lines.append(f"   expected one of: {[' . '.join(a) for a in c.needles][:4]}")
    return "\n".join(lines)


if __name__ == "__main__":
    _worker_main()
