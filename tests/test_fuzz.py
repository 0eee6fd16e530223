"""Fuzz suite (issue 11, items 1 and 6): every subcommand, every flag, every scenario field and a
corpus of hand-written hostile files. Each case must end within 10 s, inside a 3 GB address
space, with either success (exit 0) or a clean refusal: exit 2, no traceback, one message of
bounded length that names the fuzzed field, flag or file. The target is 100% clean.

How the cases are made (see tests/fuzz_strategies.py): scenario fields are walked from the
pydantic models and flags from the typer app, so a new field or flag is fuzzed automatically;
values come from hypothesis strategies (derandomized: the same cases every run). The cases run
in long-lived worker processes (tests/fuzz_harness.py) with the time and memory limits; a hung
or killed worker is recorded and replaced.

Kinds of case:
- schema: each field, on its own, with a hostile value and with a valid one, through `clets
  check` (cheap: validation only); plus random combinations of a few fields.
- e2e: a few fields mutated on a tiny base run end to end by the command that reads that section
  (run, journal, capacity, sweep). Only hostile values or *small* valid ones (near the base's)
  are used here: a valid but large value is a legitimately long run, not a finding.
- corpus: every file of tests/fuzz_corpus (see its README) with the commands its header names.
- special: FIFO, /dev/zero, directory, symlink loop, missing file, 2 GB sparse file, files of
  exactly and just over 1,000,000 bytes, /proc files... as the scenario of check and run.
- flag: every option and argument of every subcommand, with values drawn from its type (ints,
  floats, paths, strings) on the cheapest base. Valid values that start long jobs are left out
  (`fuzz_strategies.cheap_or_refused`: more than 2 replications, 15 days to a million days,
  5 to 1,000 load points); `calibrate` always gets a scenarios folder it refuses (an accepted
  calibration runs for minutes).

The fast test runs in `make test` (about a minute); the `slow` one draws many more cases.
A failure prints a table of the failing cases, grouped by class, each with a reproducer.
Set FUZZ_REPORT=path to also write the table and the counts there.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fuzz_harness import CLEAN, Case, Pool, classify, report
from tests.fuzz_strategies import (
    SWEEP_BLOCK,
    Mutation,
    base_doc,
    command_params,
    draw_many,
    flag_values,
    hostile,
    model_for,
    mutation_strategy,
    per_leaf_values,
    render_yaml,
    scenario_leaves,
    valid,
)

CORPUS = Path(__file__).parent / "fuzz_corpus"


@dataclass
class Config:
    schema_hostile_rows: int  # values per field, hostile, through check
    schema_valid_rows: int  # values per field, valid, through check
    combos: int  # random multi-field mutations through check
    e2e: int  # mutations run end to end
    flag_values: int  # values per flag or argument
    corpus_commands: bool  # every corpus file with all its commands (else check, and the other
    # commands only for the families whose problems show at run time: RUNTIME_FAMILIES)
    special_commands: tuple  # commands given each special file
    workers: int


FAST = Config(schema_hostile_rows=1, schema_valid_rows=1, combos=25, e2e=6, flag_values=2,
              corpus_commands=False, special_commands=("check", "run"), workers=1)
SLOW = Config(schema_hostile_rows=6, schema_valid_rows=3, combos=600, e2e=150, flag_values=12,
              corpus_commands=True, special_commands=("check", "run", "journal", "topology",
                                                      "capacity", "sweep", "compare"),
              workers=2)

SCENARIO_ARGV = {
    "check": ["check", "{S}"],
    "run": ["run", "{S}", "--out", "{OUT}"],
    "journal": ["journal", "{S}", "--out", "{OUT}"],
    "capacity": ["capacity", "{S}", "--out", "{OUT}", "--replications", "1"],
    "sweep": ["sweep", "{S}", "--out", "{OUT}", "--quiet"],
    "compare": ["compare", "{S}", "{S}", "--replications", "1", "--out", "{OUT}", "--quiet"],
    "topology": ["topology", "{S}", "--out", "{OUT}.graphml"],
    # without --out: the results go under the scenario's outputs.dir (relative to the case folder)
    "run-noout": ["run", "{S}"],
    "journal-noout": ["journal", "{S}"],
}


def _net_text() -> str:
    return render_yaml(base_doc("network"))[0]


def _ov_text() -> str:
    return render_yaml(base_doc("oversight"))[0]


def _sweep_text() -> str:
    return render_yaml(base_doc("network", sweep=SWEEP_BLOCK))[0]


# --------------------------------------------------------------------------- scenario cases


def e2e_command(m: Mutation) -> str:
    """The command that reads the first mutated section end to end."""
    section = m.leaves[0].section
    return {"capacity": "capacity", "sweep": "sweep", "journal": "journal"}.get(section, "run")


def mutation_case(m: Mutation, command: str, kind: str) -> Case:
    text, file_level = m.yaml_text()
    needles = m.needles() + ([["{S}"]] if file_level else [])
    return Case(kind, f"{command}: {m.label}", list(SCENARIO_ARGV[command]), {"s.yaml": text}, needles)


def scenario_cases(cfg: Config) -> list[Case]:
    leaves = scenario_leaves()
    cases = []
    for rows, is_hostile in ((per_leaf_values(leaves, lambda leaf: hostile(leaf.info),
                                              cfg.schema_hostile_rows), True),
                             (per_leaf_values(leaves, lambda leaf: valid(leaf.info, name=leaf.path[-1]),
                                              cfg.schema_valid_rows), False)):
        for row in rows:
            for leaf, value in zip(leaves, row):
                if not is_hostile and leaf.info.kind in ("model", "union"):
                    continue  # a valid section is {} (its defaults): the base already is that
                extra = {"sweep": SWEEP_BLOCK} if leaf.section == "sweep" else {}
                m = Mutation([leaf], [value], is_hostile, model_for(leaf), extra)
                cases.append(mutation_case(m, "check", "schema"))
    for m in draw_many(mutation_strategy(leaves, run=False, max_fields=3), cfg.combos):
        cases.append(mutation_case(m, "check", "schema"))
    for m in draw_many(mutation_strategy(leaves, run=True, max_fields=2), cfg.e2e):
        command = e2e_command(m)
        if command == "sweep":
            m.extra = {"sweep": SWEEP_BLOCK}
        if command in ("capacity", "sweep"):
            m.model = "network"
        cases.append(mutation_case(m, command, "e2e"))
    return cases


# --------------------------------------------------------------------------- corpus


def _header(data: bytes) -> tuple[list[list[str]] | None, bool, list[str]]:
    """(needles, expect_success, commands) from a corpus file's header lines."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, False, ["check", "run"]
    needles, ok, commands = None, False, ["check", "run"]
    for line in text.splitlines()[:4]:
        if line.startswith("# expect:"):
            alts = [a.strip() for a in line[len("# expect:"):].split("|")]
            ok = alts == ["ok"]
            needles = []
            for a in alts:
                if a == "ok":
                    continue
                if a == "FILE":
                    needles.append(["{S}"])
                elif a.startswith("~"):
                    needles.append([a])  # a plain substring (see fuzz_harness.names_one)
                elif " " in a or "'" in a:
                    needles.append([a])
                else:
                    needles.append(a.split("."))
        elif line.startswith("# commands:"):
            commands = line[len("# commands:"):].split()
    return needles, ok, commands


# corpus files whose problem only shows when the command runs (resources, names resolved against
# the topology, output folders, sweeps); the fast test runs only these beyond `check` (a
# successful run costs seconds: its report draws figures)
RUNTIME_FAMILIES = ("huge_subjects.", "huge_terminals.", "huge_journal_days", "huge_incidents",
                    "huge_horizon", "huge_years.", "huge_retry", "huge_fault", "huge_sweep",
                    "huge_capacity", "tiny_", "empty_", "zero_rates", "fault_", "outputs_dir_",
                    "county_unknown", "misuse_agency", "msc_override", "date_year_9999",
                    "sweep_unknown", "sweep_nan", "sweep_ok", "both_models")


def corpus_cases(cfg: Config) -> list[Case]:
    cases = []
    for path in sorted(CORPUS.iterdir()):
        if path.name == "README.md" or not path.is_file():
            continue
        data = path.read_bytes()
        needles, ok, commands = _header(data)
        if needles is None:
            needles = [["{S}"]]
        runtime = cfg.corpus_commands or path.name.startswith(RUNTIME_FAMILIES)
        for command in commands if runtime else [c for c in commands if c == "check"] or commands[:1]:
            cases.append(Case("corpus", f"{command}: {path.name}", list(SCENARIO_ARGV[command]),
                              {path.name: data}, needles, expect_success=ok))
    return cases


def generated_files() -> dict[str, tuple[bytes, bool]]:
    """Size-edge files made here (the repository holds no megabyte files): (bytes, valid)."""
    ov = _ov_text().encode()
    exact = ov + b"# " + b"x" * (1_000_000 - len(ov) - 3) + b"\n"
    assert len(exact) == 1_000_000
    return {
        "exactly_max_bytes.yaml": (exact, True),
        "one_byte_over.yaml": (exact[:-1] + b"x\n", False),
        "hundred_thousand_values.yaml": (b"name: fz\ndescription: [" + b",".join([b"0"] * 100_001) + b"]\n",
                                         False),
        "huge_line_no_newline.yaml": (ov + b"description: " + b"y" * (999_000 - len(ov)), True),
    }


SPECIALS = ["{MISSING}", "{DIR}", "{EMPTYDIR}", "{FIFO}", "/dev/zero", "/dev/null", "/dev/stdin",
            "{FILE}", "{UNDERFILE}", "{LONGNAME}", "{LOOP}", "{DANGLING}", "{NULBYTE}", "{BINARY}",
            "{UTF16}", "{SPARSE}", "/proc/self/status", "/proc/self/environ", "/proc/self/mem", "",
            "-", "--", "/"]


def special_cases(cfg: Config) -> list[Case]:
    cases = []
    for command in cfg.special_commands:
        for name, (data, ok) in generated_files().items():
            cases.append(Case("special", f"{command}: {name}", list(SCENARIO_ARGV[command]),
                              {name: data}, [["{S}"]], expect_success=ok and command == "check"))
        for special in SPECIALS:
            argv = [special if a == "{S}" else a for a in SCENARIO_ARGV[command]]
            # "-" and "--" are argv syntax: click's own message names the argument problem
            needles = [[special]] if special.strip("-") else [["SCENARIO"], ["~argument"]]
            cases.append(Case("special", f"{command}: {special or repr(special)}", argv, {}, needles))
    return cases


# --------------------------------------------------------------------------- flags

# the cheapest base of each command: (positional arguments, options); a new command gets a
# tiny scenario for each Path argument
FLAG_BASE = {
    "run": (["{NET}"], {"--out": "{OUT}"}),
    "topology": (["{NET}"], {"--out": "{OUT}.graphml"}),
    "capacity": (["{NET}"], {"--out": "{OUT}", "--replications": "1"}),
    "journal": (["{OV}"], {"--out": "{OUT}", "--days": "3"}),
    "cases": (["{RUN}"], {}),
    "sweep": (["{SWEEP}"], {"--out": "{OUT}", "--quiet": None}),
    "compare": (["{NET}", "{NET}"], {"--out": "{OUT}", "--replications": "1", "--quiet": None}),
    "calibrate": ([], {"--scenarios": "{EMPTYDIR}", "--out": "{OUT}"}),
    "sensitivity": (["{NET}"], {"--out": "{OUT}", "--quiet": None, "--samples": "2", "--no-tornado": None,
                                "--params": "network.agency.service.mean,network.hub.service.mean"}),
}
# what a refusal may name instead of the fuzzed flag, because the base itself is refused
ANCHOR = {"calibrate": [["{EMPTYDIR}"]]}


def flag_cases(cfg: Config) -> list[Case]:
    from pathlib import Path as _P

    cases = []
    files = {"net.yaml": _net_text(), "ov.yaml": _ov_text(), "sweep.yaml": _sweep_text()}
    for command, params in command_params().items():
        positional, options = FLAG_BASE.get(command, (None, {}))
        if positional is None:
            positional = ["{NET}" if isinstance(p.annotation, type) and issubclass(p.annotation, _P)
                          else "1" for p in params if p.opt is None]
        for p in params:
            values = list(dict.fromkeys(draw_many(flag_values(p), cfg.flag_values)))
            for value in values:
                pos, opts = list(positional), dict(options)
                if p.opt is None:
                    pos[p.position] = value
                elif value == "<present>":
                    opts[p.opt] = None
                else:
                    opts[p.opt] = value
                argv = [command, *pos]
                for k, v in opts.items():
                    argv += [k] if v is None else [k, v]
                needles = [[p.opt or p.metavar]]
                if value not in ("", "<present>") and (p.opt is None or "{" in value or "/" in value):
                    needles.append([value])
                needles += ANCHOR.get(command, [])
                label = f"{command} {p.opt or p.metavar}={value[:60]!r}"
                cases.append(Case("flag", label, argv, dict(files), needles))
        for extra in (["--bogus-flag"], ["extra-positional-1", "extra-positional-2"]):
            argv = [command, *positional, *[x for k, v in options.items() for x in ([k] if v is None else [k, v])],
                    *extra]
            cases.append(Case("flag", f"{command} {' '.join(extra)}", argv, dict(files),
                              [[extra[0]]] + ANCHOR.get(command, [])))
        if positional:
            cases.append(Case("flag", f"{command} without arguments", [command], {},
                              [[p.metavar] for p in params if p.opt is None] + ANCHOR.get(command, [])))
    for argv, needle in ((["no-such-command"], "no-such-command"), (["--bogus"], "--bogus"),
                         (["--help"], None), (["check", "--help"], None)):
        cases.append(Case("flag", " ".join(argv), argv, {}, [[needle]] if needle else []))
    return cases


# --------------------------------------------------------------------------- the suite


def prepare_runs(pool: Pool, root: Path) -> dict:
    """A finished oversight run and a network run, for `clets cases` to read (copied per case)."""
    prep = root / "prepared"
    prep.mkdir(parents=True, exist_ok=True)
    (prep / "ov.yaml").write_text(_ov_text())
    (prep / "net.yaml").write_text(_net_text())
    cases = [Case("prep", "prepare oversight run", ["run", str(prep / "ov.yaml"), "--out", str(prep / "ov")],
                  budget=60, id=-2),
             Case("prep", "prepare network run", ["run", str(prep / "net.yaml"), "--out", str(prep / "net")],
                  budget=60, id=-1)]
    pool.run(cases)
    return {"RUN": str(prep / "ov"), "NETRUN": str(prep / "net")}


def build_cases(cfg: Config) -> list[Case]:
    cases = scenario_cases(cfg) + corpus_cases(cfg) + special_cases(cfg) + flag_cases(cfg)
    # interleave kinds (a deterministic shuffle) so a slow stretch does not sit in one worker
    random.Random(11).shuffle(cases)
    for i, c in enumerate(cases):
        c.id = i
    return cases


def check_coverage(cases: list[Case]) -> None:
    """Every scenario field and every subcommand's every flag and argument appears in a case."""
    labels = "\n".join(c.label for c in cases)
    missing_fields = [leaf.dotted for leaf in scenario_leaves() if f"{leaf.dotted}=" not in labels]
    assert not missing_fields, f"fields never fuzzed: {missing_fields[:20]}"
    missing_flags = [f"{p.command} {p.opt or p.metavar}" for params in command_params().values()
                     for p in params if f"{p.command} {p.opt or p.metavar}=" not in labels]
    assert not missing_flags, f"flags never fuzzed: {missing_flags}"


def run_suite(cfg: Config, tmp_path: Path) -> None:
    cases = build_cases(cfg)
    check_coverage(cases)
    pool = Pool(tmp_path / "cases", size=int(os.environ.get("FUZZ_WORKERS", cfg.workers)))
    try:
        pool.prepared = prepare_runs(pool, tmp_path)
        results = pool.run(cases)
    finally:
        pool.close()
    classes = [classify(c, r) for c, r in zip(cases, results)]
    counts = Counter(classes)
    by_kind = Counter((c.kind, k) for c, k in zip(cases, classes))
    text = report(cases, results, classes)
    text += "\n\nby kind: " + ", ".join(f"{kind}/{k} {n}" for (kind, k), n in sorted(by_kind.items()))
    text += f"\nworker restarts: {pool.restarts}; worker start-up (import) s: {pool.import_s[:6]}"
    (tmp_path / "fuzz_report.txt").write_text(text)
    if os.environ.get("FUZZ_REPORT"):
        Path(os.environ["FUZZ_REPORT"]).write_text(text)
        Path(os.environ["FUZZ_REPORT"] + ".json").write_text(json.dumps(
            [{"kind": c.kind, "label": c.label, "argv": c.argv_resolved, "class": k, "result": r}
             for c, r, k in zip(cases, results, classes)], default=str))
    print(text.splitlines()[0])
    bad = {k: n for k, n in counts.items() if k not in CLEAN}
    assert not bad, f"{sum(bad.values())} of {len(cases)} fuzz cases are not clean\n\n{text}"


def test_fuzz_fast(tmp_path):
    """Every field, flag, corpus file and special file at least once (about a minute)."""
    run_suite(FAST, tmp_path)


@pytest.mark.slow
def test_fuzz_deep(tmp_path):
    """Many more values per field and flag, combinations, and end-to-end runs (minutes)."""
    run_suite(SLOW, tmp_path)
