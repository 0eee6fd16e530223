"""Hand-written hostile inputs: each ends quickly with exit 2 and one short message that
names the problem, never a traceback, a hang or a silent acceptance (issue 11, part 1)."""

from __future__ import annotations

import gzip
import os
import time

import pytest
from typer.testing import CliRunner

from sim.cli import app

OK = "name: h\nmodel: oversight\ntopology: {counties: [Alpine]}\n"


def bomb(levels: int = 9, width: int = 9) -> str:
    """The classic YAML alias bomb: each level lists the previous one `width` times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


TEXT_CASES = {
    "alias bomb at top level": ("name: h\n" + bomb(), "alias"),
    "alias bomb under an unknown key": ("name: h\nextra:\n  " + bomb().replace("\n", "\n  "), "alias"),
    "impossible date": ("name: h\njournal: {start_date: 2018-02-30}\n", "2018-02-30"),
    "month 13": ("name: h\njournal: {start_date: 2018-13-01}\n", "2018-13-01"),
    "deep nesting": ("name: h\nx: " + "[" * 20000 + "]" * 20000 + "\n", "nest"),
    "deep only through an alias": ("name: h\na: &a " + "[" * 30 + "1" + "]" * 30 + "\nb: "
                                   + "[" * 26 + "*a" + "]" * 26 + "\n", "nested more than 50"),
    "duplicate top-level key": ("name: h\nseed: 1\nseed: 2\n", "duplicate key 'seed'"),
    "duplicate section": ("name: h\nnetwork: {}\nnetwork: {}\n", "duplicate key 'network'"),
    "duplicate nested key": ("name: h\nnetwork:\n  hub: {servers: 2, servers: 3}\n", "duplicate key 'servers'"),
    "boolean seed": ("name: h\nseed: true\n", "seed = True: a boolean is not a number"),
    "boolean servers": ("name: h\nnetwork: {hub: {servers: true}}\n", "network.hub.servers"),
    "boolean load factor": ("name: h\ntraffic: {load_factor: true}\n", "traffic.load_factor"),
    "infinite load factor": ("name: h\ntraffic: {load_factor: .inf}\n", "finite"),
    "nan horizon": ("name: h\nhorizon: {duration_s: .nan}\n", "horizon.duration_s"),
    "name escaping results": ("name: ..\n", "name"),
    "duplicate county": ("name: h\ntopology: {counties: [Alpine, Alpine]}\n", "listed twice"),
    "empty county list": ("name: h\ntopology: {counties: []}\n", "no county"),
    "long unknown value": ("name: h\nbogus: " + "x" * 100000 + "\n", "bogus"),
}


def run(args, timeout=10.0):
    t0 = time.perf_counter()
    r = CliRunner().invoke(app, [str(a) for a in args])
    elapsed = time.perf_counter() - t0
    return r, elapsed


def assert_refused(r, elapsed, needle):
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert r.exit_code == 2, (r.exit_code, r.output[-2000:], repr(r.exception))
    assert "Traceback" not in r.output
    assert len(r.output) < 3000, len(r.output)
    assert needle.lower() in r.output.lower(), r.output[-800:]


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_hostile_scenario_text_is_refused(case, tmp_path):
    text, needle = TEXT_CASES[case]
    p = tmp_path / "s.yaml"
    p.write_text(text)
    for cmd in (["check", p], ["run", p, "--out", tmp_path / "out"]):
        r, elapsed = run(cmd)
        assert_refused(r, elapsed, needle)
        assert not (tmp_path / "out").exists()


BYTES_CASES = {
    "latin-1": ("name: café\n".encode("latin-1"), "not UTF-8"),
    "utf-16": (OK.encode("utf-16"), "not UTF-8"),
    "gzip": (gzip.compress(OK.encode()), "not UTF-8"),
    "nul bytes": (b"name: h\x00\n", "NUL"),
    "too big": (b"# " + b"x" * 1_100_000 + b"\n", "bytes"),
}


@pytest.mark.parametrize("case", sorted(BYTES_CASES))
def test_files_that_are_not_utf8_text_are_refused(case, tmp_path):
    data, needle = BYTES_CASES[case]
    p = tmp_path / "s.yaml"
    p.write_bytes(data)
    r, elapsed = run(["check", p])
    assert_refused(r, elapsed, needle)


def test_special_files_are_refused(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path, needle in ((fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                         (tmp_path, "directory"), (tmp_path / "missing.yaml", "not found")):
        r, elapsed = run(["check", path])
        assert_refused(r, elapsed, needle)


def test_utf8_with_a_byte_order_mark_is_fine(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(b"\xef\xbb\xbf" + OK.encode())
    r, _ = run(["check", p])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("args,needle", [
    (["--load-factor", "nan"], "finite"),
    (["--workers", "0"], "--workers"),
    (["--workers", "1000"], "CPUs"),
    (["--replications", "1000000000"], "limit"),
])
def test_hostile_flags_of_run(args, needle, tmp_path):
    p = tmp_path / "n.yaml"
    p.write_text("name: n\nmodel: network\ntopology: {counties: [Alpine]}\n")
    r, elapsed = run(["run", p, "--out", tmp_path / "out", *args])
    assert_refused(r, elapsed, needle)


def test_load_factor_on_an_oversight_scenario_is_an_error(tmp_path):
    p = tmp_path / "o.yaml"
    p.write_text(OK)
    r, elapsed = run(["run", p, "--load-factor", "2", "--out", tmp_path / "out"])
    assert_refused(r, elapsed, "network model only")


@pytest.mark.parametrize("spec,needle", [("1,nan", "finite"), ("1:1e12:1", "at most 1,000"),
                                         ("0.5:inf:0.5", "finite")])
def test_hostile_load_factor_ranges(spec, needle, tmp_path):
    p = tmp_path / "n.yaml"
    p.write_text("name: n\nmodel: network\ntopology: {counties: [Alpine]}\n")
    r, elapsed = run(["capacity", p, "--load-factors", spec, "--out", tmp_path / "out"])
    assert_refused(r, elapsed, needle)


def test_a_huge_sweep_grid_is_refused_before_expansion(tmp_path):
    grid = {"oversight.investigation.budget_base": list(range(1, 101)),
            "oversight.detection.random_audit_rate": [0.001 * i for i in range(1, 101)],
            "oversight.journal_unused": list(range(100)), "oversight.years": list(range(1, 101)),
            "oversight.warmup_days": list(range(1, 101))}
    p = tmp_path / "s.yaml"
    import yaml

    p.write_text(yaml.safe_dump({"name": "big", "model": "oversight", "sweep": {"grid": grid}}))
    r, elapsed = run(["sweep", p, "--out", tmp_path / "out", "--quiet"])
    assert_refused(r, elapsed, "at most 10,000")


def test_sweeping_the_seed_is_refused(tmp_path):
    import yaml

    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "s", "model": "oversight", "sweep": {"grid": {"seed": [1, 2]}}}))
    r, elapsed = run(["sweep", p, "--out", tmp_path / "out", "--quiet"])
    assert_refused(r, elapsed, "replications")
