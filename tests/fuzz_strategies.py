"""Hypothesis strategies for the fuzz suite (issue 11, items 1 and 6), generated from the code.

- Scenario fields come from walking `sim.config.Scenario.model_fields` recursively (sections,
  dicts and lists of sections, discriminated unions such as the fault kinds), with the type,
  the constraints (`Gt`/`Ge`/`Lt`/`Le`, patterns) and `Literal` choices read from the pydantic
  field metadata. A field added to any section is fuzzed without touching this file.
- Command-line parameters come from `typer.main.get_command(app)`: every subcommand and every
  argument and option (with its Python type), so a new flag is fuzzed automatically too.

Values are either *hostile* (wrong type, boolean, None, negative, zero, just outside a bound,
huge 1e12/1e300/2**64, NaN/inf, very long or control-character strings, unknown keys, deep
nesting, impossible dates, YAML tags) or *valid* (inside the declared constraints). A case
then expects: success, or exit 2 with one short message naming the fuzzed field or flag.

The few hand-written tables below (`KEY_HINTS`, `STR_HINTS`, `TEMPLATE_HINTS`, `FLAG_HINTS`,
`EXPENSIVE_VALID`) only pick realistic example keys and strings and keep *valid but legitimately
long* jobs out (see `EXPENSIVE_VALID`); they are not needed for a new field or flag to be covered.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

# --------------------------------------------------------------------------- base scenarios

# a scenario of each model that runs in ~1-2 s once the modules are imported: one small
# county, one direct-connect terminal, no CHP headquarters MDTs; two minutes of network, or
# one week of journal (no warm-up) and the year's paperwork
BASE: dict = {
    "name": "fz",
    "seed": 1,
    "model": "oversight",
    "horizon": {"duration_s": 120, "warmup_s": 10},
    "topology": {"counties": ["Alpine"], "devices": {"direct_connect_terminals": 1, "chp_hq_mdts": 0}},
    "journal": {"days": 7},
    "oversight": {"days": 7, "warmup_days": 0},
    "capacity": {"load_factors": "1"},
    "outputs": {"messages": False},
}
NETWORK_SECTIONS = {"horizon", "network", "traffic", "faults", "capacity"}


def base_doc(model: str = "oversight", **extra) -> dict:
    d = copy.deepcopy(BASE)
    d["model"] = model
    d.update(extra)
    return d


SWEEP_BLOCK = {"grid": {"traffic.load_factor": [1.0]}, "replications": 1}


# --------------------------------------------------------------------------- raw YAML pieces


@dataclass(frozen=True)
class Raw:
    """YAML text put verbatim where a value goes (impossible dates, tags, recursive aliases).
    `file_level`: the reader refuses it before any field is known, so the message names the
    file (and line), not the field."""

    text: str
    file_level: bool = False


@dataclass(frozen=True)
class FileLevel:
    """A value refused as a whole-file problem (too deep, too many values): names the file."""

    value: Any


def render_yaml(doc: Any) -> tuple[str, bool]:
    """YAML text of `doc` with Raw pieces substituted; also whether any piece is file-level."""
    raws: list[Raw] = []
    file_level = False

    def sub(x):
        nonlocal file_level
        if isinstance(x, Raw):
            raws.append(x)
            file_level |= x.file_level
            return f"__RAW{len(raws) - 1}__"
        if isinstance(x, FileLevel):
            file_level = True
            return sub(x.value)
        if isinstance(x, dict):
            return {sub(k) if isinstance(k, (Raw, FileLevel)) else k: sub(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [sub(v) for v in x]
        return x

    plain = sub(doc)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(plain, Dumper=dumper, sort_keys=False, allow_unicode=False, width=1 << 30)
    for i, r in enumerate(raws):
        text = text.replace(f"__RAW{i}__", r.text, 1)
    return text, file_level


# --------------------------------------------------------------------------- the schema walk


@dataclass
class TypeInfo:
    kind: str  # int float bool str date literal list dict model union any
    optional: bool = False
    lo: float | None = None  # lower bound and whether it is exclusive (gt)
    lo_open: bool = False
    hi: float | None = None
    hi_open: bool = False
    pattern: str | None = None
    choices: tuple = ()
    item: TypeInfo | None = None  # list item, dict value
    key: TypeInfo | None = None  # dict key
    models: tuple = ()  # model classes (one, or the variants of a union)


def _constraints(metadata) -> list:
    out = []
    for m in metadata or ():
        if hasattr(m, "metadata") and not hasattr(m, "gt"):  # a FieldInfo inside Annotated
            out.extend(_constraints(m.metadata))
            if getattr(m, "discriminator", None):
                out.append(("discriminator", m.discriminator))
        else:
            out.append(m)
    return out


def describe(ann, metadata=()) -> TypeInfo:
    """The kind, bounds and parts of a pydantic annotation."""
    cons = list(_constraints(metadata))
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(ann)
        return describe(inner, [*cons, *meta])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        optional = len(args) < len(typing.get_args(ann))
        if len(args) == 1:
            t = describe(args[0], cons)
        elif all(isinstance(a, type) and issubclass(a, BaseModel) for a in args):
            t = TypeInfo("union", models=tuple(args))
        else:
            t = TypeInfo("any")
        t.optional = t.optional or optional
        return t
    t: TypeInfo
    if origin is Literal:
        t = TypeInfo("literal", choices=typing.get_args(ann))
    elif origin is list:
        (item,) = typing.get_args(ann) or (Any,)
        t = TypeInfo("list", item=describe(item))
    elif origin is dict:
        k, v = typing.get_args(ann) or (str, Any)
        t = TypeInfo("dict", key=describe(k), item=describe(v))
    elif ann is bool:
        t = TypeInfo("bool")
    elif ann is int:
        t = TypeInfo("int")
    elif ann is float:
        t = TypeInfo("float")
    elif ann is str:
        t = TypeInfo("str")
    elif ann is dt.date:
        t = TypeInfo("date")
    elif isinstance(ann, type) and issubclass(ann, BaseModel):
        t = TypeInfo("model", models=(ann,))
    else:
        t = TypeInfo("any")
    for c in cons:
        if isinstance(c, tuple):
            continue
        for name in ("gt", "ge"):
            if getattr(c, name, None) is not None:
                t.lo, t.lo_open = getattr(c, name), name == "gt"
        for name in ("lt", "le"):
            if getattr(c, name, None) is not None:
                t.hi, t.hi_open = getattr(c, name), name == "lt"
        if getattr(c, "pattern", None):
            t.pattern = c.pattern
    return t


@dataclass
class Leaf:
    """One place in a scenario a value can go: a dotted path (dict keys and list index 0
    included), its type, its current value in the base, and the items to create on the way
    (a fault of the right kind, a database entry with its required service time)."""

    path: tuple[str, ...]
    info: TypeInfo
    templates: dict = field(default_factory=dict)  # path prefix -> container item to create
    current: Any = None
    variant: str = ""  # the section kind, for a list of a union (faults.scheduled)

    @property
    def dotted(self) -> str:
        return ".".join(self.path) + (f"[{self.variant}]" if self.variant else "")

    @property
    def section(self) -> str:
        return self.path[0]


# example keys for dicts of sections and strings for required string fields
KEY_HINTS = {"databases": "DMV", "msc_overrides": "Alpine"}
STR_HINTS = {"county": "Alpine", "database": "DMV", "name": "fz"}
# a container that is only valid with more than its required fields
TEMPLATE_HINTS = {("sweep",): SWEEP_BLOCK}


def minimal_instance(model: type[BaseModel]) -> dict:
    """The smallest valid mapping of `model`: its required fields only."""
    out = {}
    for name, f in model.model_fields.items():
        if f.is_required():
            out[name] = minimal_value(describe(f.annotation, f.metadata), name)
    return out


def minimal_value(t: TypeInfo, name: str = ""):
    if t.kind == "literal":
        return t.choices[0]
    if t.kind in ("int", "float"):
        v = t.lo if t.lo is not None else 1
        v = v + 1 if t.lo_open else v
        return int(v) if t.kind == "int" else float(v)
    if t.kind == "str":
        return STR_HINTS.get(name, "x")
    if t.kind == "bool":
        return False
    if t.kind == "date":
        return dt.date(2018, 1, 1)
    if t.kind == "model":
        return minimal_instance(t.models[0])
    if t.kind == "list":
        return []
    if t.kind == "dict":
        return {}
    return None


def _default_of(model_default, name):
    if model_default is None:
        return None
    if isinstance(model_default, BaseModel):
        return getattr(model_default, name, None)
    if isinstance(model_default, dict):
        return model_default.get(name)
    return None


def scenario_leaves(model: type[BaseModel] | None = None, prefix: tuple = (), templates=None,
                    current=None, depth: int = 0, variant: str = "") -> list[Leaf]:
    """Every field of the scenario model, recursively (sections are leaves too: a section can
    be replaced by a hostile value as a whole)."""
    if model is None:
        from sim.config import Scenario, parse_scenario

        model, current = Scenario, parse_scenario(base_doc())
    templates = dict(templates or {})
    out: list[Leaf] = []
    if depth > 8:
        return out
    for name, f in model.model_fields.items():
        t = describe(f.annotation, f.metadata)
        path = prefix + (name,)
        cur = _default_of(current, name)
        out.append(Leaf(path, t, templates, cur, variant))
        tmpl = dict(templates)
        if t.kind == "model":
            sub = t.models[0]
            if t.optional and cur is None:
                tmpl[path] = TEMPLATE_HINTS.get(path, minimal_instance(sub))
            out += scenario_leaves(sub, path, tmpl, cur, depth + 1, variant)
        elif t.kind in ("dict", "list") and t.item is not None and t.item.kind in ("model", "union"):
            if t.kind == "dict":
                key = KEY_HINTS.get(name) or (next(iter(cur), None) if isinstance(cur, dict) and cur
                                              else "key")
                items = [(key, t.item.models[0])]
            else:
                items = [("0", m) for m in t.item.models]
            for key, sub in items:
                p = path + (key,)
                item_cur = cur.get(key) if isinstance(cur, dict) else None
                t2 = dict(tmpl)
                t2[p] = minimal_instance(sub)
                kind = ""
                if t.item.kind == "union":
                    kind = str(minimal_instance(sub).get("kind", sub.__name__))
                out += scenario_leaves(sub, p, t2, item_cur, depth + 1, kind or variant)
    return out


def set_path(doc: dict, leaf: Leaf, value) -> dict:
    """A copy of `doc` with `value` at `leaf.path`, creating containers from the templates."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    for i, part in enumerate(leaf.path[:-1]):
        prefix, nxt = leaf.path[: i + 1], leaf.path[i + 1]
        tmpl = leaf.templates.get(prefix)
        if isinstance(node, list):
            idx = int(part)
            while len(node) <= idx:
                node.append(copy.deepcopy(tmpl) if tmpl is not None else {})
            if not isinstance(node[idx], dict):
                node[idx] = copy.deepcopy(tmpl) if tmpl is not None else {}
            node = node[idx]
            continue
        child = node.get(part)
        if nxt == "0" and prefix + (nxt,) in leaf.templates:  # a list of sections
            child = child if isinstance(child, list) else []
        elif not isinstance(child, dict):
            child = copy.deepcopy(tmpl) if tmpl is not None else {}
        elif tmpl is not None:
            child = {**copy.deepcopy(tmpl), **child}
        node[part] = child
        node = child
    last = leaf.path[-1]
    if isinstance(node, list):
        idx = int(last)
        while len(node) <= idx:
            node.append(None)
        node[idx] = value
    else:
        node[last] = value
    return doc


# --------------------------------------------------------------------------- value strategies

NONFINITE = [math.nan, math.inf, -math.inf]
HUGE = [10**12, 10**30, 2**63, 2**64, -(2**63), 1e300, -1e300, 1.7976931348623157e308, 5e-324]
NASTY_STRINGS = [
    "", " ", "x" * 10_000, "\x00", "nul\x00inside", "\x1b[2J\x1b[31mred", "[bold red]markup[/]",
    "../../../../etc/passwd", "/", ".", "..", "a\nb", "\t", "\u202eevil", "é" * 300, "日本語",
    "%s%n{0}${HOME}", "null", "~", "NaN", "1e3", " 7 ", "0x1f", "１２", "٣", "true", "2018-02-30",
]
WRONG_TYPES = [
    "abc", "", 1, -1, 1.5, True, False, None, [], [1, 2], {}, {"bogus_key": 1},
    {"a": {"b": {"c": [1]}}}, "x" * 5000,
]
RAW_HOSTILE = [
    Raw("!!binary aGVsbG8="), Raw("!!set {a, b}"), Raw("!!python/tuple [1, 2]", True),
    Raw("!!python/object/apply:os.system ['true']", True), Raw("&r [*r]", True),
    Raw("2018-02-30", True), Raw("!!float 'nan'"), Raw("!!int '0o777777777777777777777777'"),
    Raw("!!timestamp 2018-13-45", True), Raw("!!str"), Raw("!!null"), Raw("0b101"), Raw("0o17"),
    Raw("1_000"), Raw(".Inf"), Raw("-.inf"), Raw(".NaN"), Raw("+12e3"), Raw("190:20:30"),
    Raw("yes"), Raw("off"), Raw("~"), Raw("'\\x00'"), Raw('"\\0"'),
]


def deep(levels: int):
    v: Any = 1
    for _ in range(levels):
        v = {"d": v}
    return FileLevel(v)


DEEP = deep(60)
# (a file of more than the reader's 100,000 values is a generated case of test_fuzz: parsing it
# takes seconds, too slow to draw here for every field)
MANY_NULLS = Raw("[" + ",".join(["null"] * 10_000) + "]")
LONG_LIST = Raw("[" + ",".join(["x" * 100] * 2000) + "]")
MANY_KEYS = Raw("{" + ",".join(f"'k{i}': 1.0" for i in range(5_000)) + "}")


def _bounds_int(t: TypeInfo) -> tuple[int, int | None]:
    lo = -(10**6) if t.lo is None else math.floor(t.lo) + 1 if t.lo_open else math.ceil(t.lo)
    hi = None if t.hi is None else math.ceil(t.hi) - 1 if t.hi_open else math.floor(t.hi)
    return lo, hi


def valid(t: TypeInfo, small_around=None, name: str = "", small: bool | None = None
          ) -> st.SearchStrategy:
    """Values the type accepts. `small`: for runs, stay near `small_around` (the base's value)
    so an accepted value keeps the run short (a valid-but-large value is a legitimately long run,
    and None where the base has a value may mean "everything": all 58 counties, whole years)."""
    keep_none = not small or small_around is None
    small = small_around is not None if small is None else small
    if t.kind == "int":
        lo, hi = _bounds_int(t)
        if small:
            c = small_around if isinstance(small_around, (int, float)) else lo
            top = max(lo + 2, int(2 * c)) if c >= 0 else lo + 2
            hi = top if hi is None else min(hi, top)
        hi = lo + 10**6 if hi is None else hi
        s = st.one_of(st.sampled_from(sorted({lo, min(lo + 1, hi), hi}))
                      , st.integers(lo, max(lo, hi)))
    elif t.kind == "float":
        lo = -1e6 if t.lo is None else t.lo
        hi = None if t.hi is None else t.hi
        if small:
            c = small_around if isinstance(small_around, (int, float)) else lo
            top = max(lo + 1.0, 2.0 * c)
            hi = top if hi is None else min(hi, top)
        hi = (lo + 1e6) if hi is None else hi
        edges = [x for x in (lo if not t.lo_open else None, hi if not t.hi_open else None,
                             math.nextafter(lo, math.inf) if t.lo_open else None) if x is not None]
        s = st.one_of(st.sampled_from(edges) if edges else st.nothing(),
                      st.floats(lo, hi, exclude_min=t.lo_open, exclude_max=t.hi_open,
                                allow_nan=False, allow_infinity=False))
    elif t.kind == "bool":
        s = st.booleans()
    elif t.kind == "literal":
        s = st.sampled_from(t.choices)
    elif t.kind == "date":
        s = st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)) if small else st.dates()
    elif t.kind == "str":
        if t.pattern:
            s = st.from_regex(t.pattern, fullmatch=True)
        elif name in STR_HINTS:
            s = st.sampled_from([STR_HINTS[name]])
        else:
            s = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
    elif t.kind == "list":
        s = st.lists(valid(t.item, small_around=0 if small else None), max_size=3 if small else 6)
    elif t.kind == "dict":
        keys = (st.sampled_from(t.key.choices) if t.key and t.key.kind == "literal"
                else st.sampled_from(list(small_around)) if isinstance(small_around, dict) and small_around
                else st.text(max_size=12))
        s = st.dictionaries(keys, valid(t.item, small_around=0 if small else None) if t.item.kind in
                            ("int", "float", "bool", "str", "literal", "date") else st.just({}),
                            max_size=4)
    elif t.kind in ("model", "union"):
        s = st.sampled_from([{}] if t.kind == "model" else [minimal_instance(m) for m in t.models])
    else:
        s = st.one_of(st.integers(-5, 5), st.text(max_size=8), st.none())
    if t.optional and keep_none:
        s = st.one_of(s, st.none())
    return s


def hostile(t: TypeInfo) -> st.SearchStrategy:
    """Values a hostile or careless user might write there."""
    parts = [st.sampled_from(WRONG_TYPES), st.sampled_from(RAW_HOSTILE),
             st.sampled_from(NONFINITE), st.sampled_from(HUGE),
             st.sampled_from([DEEP, MANY_NULLS])]
    if t.kind in ("int", "float"):
        edges = []
        if t.lo is not None:
            edges += [t.lo - 1, t.lo, math.nextafter(t.lo, -math.inf), -t.lo - 1]
        if t.hi is not None:
            edges += [t.hi + 1, t.hi, math.nextafter(t.hi, math.inf)]
        edges += [0, -1, -0.0, 0.5, 1e-300]
        if t.kind == "int":
            edges += [1.5, 2.0, 10**12, 10**18, 10**100]
        parts += [st.sampled_from(edges), st.sampled_from(HUGE), st.sampled_from(NONFINITE),
                  st.integers(), st.floats(), st.sampled_from(["12", "1e3", " 5", "0x10", "1_0", "٣"])]
    elif t.kind == "str":
        parts += [st.sampled_from(NASTY_STRINGS), st.text(max_size=40), st.integers(), st.none()]
    elif t.kind == "bool":
        parts += [st.sampled_from([0, 1, 2, "yes", "no", "on", "true", "True", "", [True], None])]
    elif t.kind == "literal":
        c = [str(x) for x in t.choices]
        parts += [st.sampled_from([x.upper() for x in c] + [x + " " for x in c] + [" " + x for x in c]
                                  + [[x] for x in c] + ["bogus", "", 0, True, None])]
    elif t.kind == "date":
        parts += [st.sampled_from([
            Raw("2018-02-30", True), Raw("2018-13-01", True), Raw("2018-00-10", True),
            Raw("0000-01-01"), Raw("10000-01-01"), Raw("2018-01-01T99:00:00", True),
            Raw("2018-01-01 10:30:00"), Raw("2018-01-01T10:30:00+25:00"), dt.date(1, 1, 1),
            dt.date(9999, 12, 31), dt.date(1970, 1, 1), "2018/01/01", "2018-1-1", 20180101, 1e20,
            -1, "", "today", "2018-01-01T10:00:00Z", "２０１８-01-01"]), st.dates()]
    elif t.kind == "list":
        parts += [st.lists(hostile(t.item) if t.item else st.sampled_from(WRONG_TYPES),
                           min_size=1, max_size=3),
                  st.sampled_from([FileLevel([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
                                   MANY_NULLS, LONG_LIST, "a,b", {"0": 1}])]
    elif t.kind == "dict":
        parts += [st.dictionaries(st.one_of(st.text(max_size=10), st.integers(), st.booleans(),
                                            st.none(), st.sampled_from(["bogus_key", ""])),
                                  hostile(t.item) if t.item else st.sampled_from(WRONG_TYPES),
                                  min_size=1, max_size=3),
                  st.sampled_from([{Raw("? [a, b]", True): 1}, MANY_KEYS,
                                   [["a", 1]], "k: v"])]
    elif t.kind in ("model", "union"):
        parts += [st.sampled_from([{"bogus_key": 1}, {"kind": "bogus"}, {"kind": None}, [{}],
                                   "section", 0, None, {"": 1}, {None: 1}, {1: 2}])]
    return st.one_of(parts)


# --------------------------------------------------------------------------- scenario cases


@dataclass
class Mutation:
    """One or a few fuzzed fields on a base scenario document."""

    leaves: list[Leaf]
    values: list[Any]
    hostile: bool
    model: str = "oversight"
    extra: dict = field(default_factory=dict)

    def document(self) -> dict:
        doc = base_doc(self.model, **self.extra)
        for leaf, value in zip(self.leaves, self.values):
            doc = set_path(doc, leaf, value)
        return doc

    def yaml_text(self) -> tuple[str, bool]:
        return render_yaml(self.document())

    @property
    def label(self) -> str:
        return ", ".join(f"{leaf.dotted}={_short(v)}" for leaf, v in zip(self.leaves, self.values))

    def needles(self) -> list[list[str]]:
        """Each mutated field as its path components (one of them must be named, in order)."""
        out = []
        for leaf, v in zip(self.leaves, self.values):
            out.append(list(leaf.path))
            if isinstance(v, dict) and "bogus_key" in v:
                out.append([*leaf.path, "bogus_key"])
            if "key" in leaf.path[1:]:  # a mapping refused as a whole (a key it may not have)
                out.append(list(leaf.path[:leaf.path.index("key", 1)]))
            if leaf.path[:2] in (("sweep", "points"), ("sweep", "grid"), ("sweep", "baseline")):
                out.append(["~sweep point"])  # a point's own problem, said per point
        return out


def _short(v, n: int = 60) -> str:
    if isinstance(v, Raw):
        return f"<raw {v.text!r}>"[:n]
    if isinstance(v, FileLevel):
        return "<file-level " + _short(v.value, n - 12) + ">"
    r = repr(v)
    return r if len(r) <= n else r[: n - 3] + "..."


def model_for(leaf: Leaf) -> str:
    return "network" if leaf.section in NETWORK_SECTIONS else "oversight"


def per_leaf_values(leaves: list[Leaf], make, examples: int) -> list[list[Any]]:
    """`examples` rows, each with one value drawn for every leaf (deterministic: derandomized).
    Hypothesis first tries the all-simplest example (every leaf would get the same value), so
    that row is left out."""
    rows: list[list[Any]] = []

    @settings(max_examples=examples + 1, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data):
        rows.append([data.draw(make(leaf)) for leaf in leaves])

    collect()
    return rows[1:] if len(rows) > examples else rows


def draw_many(strategy: st.SearchStrategy, n: int) -> list:
    """`n` examples of a strategy, deterministically (derandomized hypothesis)."""
    out: list = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x):
        out.append(x)

    collect()
    return out


def mutation_strategy(leaves: list[Leaf], run: bool, max_fields: int = 2) -> st.SearchStrategy:
    """One to `max_fields` fields, each hostile or valid. For `run` cases valid values stay near
    the base's (a valid large value is a legitimately long run, not a fuzz finding)."""

    def one(leaf: Leaf):
        return st.tuples(st.just(leaf), st.booleans()).flatmap(
            lambda lh: st.tuples(st.just(lh[0]), st.just(lh[1]),
                                 hostile(lh[0].info) if lh[1] else
                                 valid(lh[0].info, small_around=lh[0].current if run else None,
                                       name=lh[0].path[-1], small=run)))

    def build(items):
        return Mutation([i[0] for i in items], [i[2] for i in items], any(i[1] for i in items),
                        model_for(items[0][0]))

    return st.lists(st.sampled_from(leaves).flatmap(one), min_size=1, max_size=max_fields,
                    unique_by=lambda i: i[0].dotted).map(build)


# --------------------------------------------------------------------------- command parameters


@dataclass
class Param:
    command: str
    name: str
    opt: str | None  # "--seed"; None for an argument
    annotation: Any  # int, float, str, bool, Path
    is_flag: bool
    required: bool
    metavar: str
    position: int  # arguments: their index


def command_params() -> dict[str, list[Param]]:
    """Every subcommand's arguments and options, read from the typer app."""
    import typer

    from sim.cli import app

    group = typer.main.get_command(app)
    out: dict[str, list[Param]] = {}
    for cname, cmd in group.commands.items():
        fn = inspect.unwrap(cmd.callback)
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - fall back to typer's own record
            hints = {}
        params, pos = [], 0
        for p in cmd.params:
            ann = hints.get(p.name)
            td = getattr(p, "type_descriptor", None)
            if ann is None and td is not None:
                ann = td.annotation
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if args and typing.get_origin(ann) in (typing.Union, types.UnionType):
                ann = args[0]
            is_opt = bool(getattr(p, "opts", None)) and p.opts[0].startswith("-")
            params.append(Param(cname, p.name, p.opts[0] if is_opt else None, ann,
                                bool(getattr(p, "is_flag", False)), bool(p.required),
                                (p.metavar or p.name.upper()) if not is_opt else p.opts[0],
                                -1 if is_opt else pos))
            if not is_opt:
                pos += 1
        out[cname] = params
    return out


# path placeholders, made fresh in each case's folder by the harness
PATH_VALUES = ["{MISSING}", "{DIR}", "{EMPTYDIR}", "{FIFO}", "/dev/null", "/dev/zero", "{FILE}",
               "{UNDERFILE}", "{LONGNAME}", "{LOOP}", "{DANGLING}", "", ".", "/", "{NULBYTE}",
               "{BINARY}", "{UTF16}", "{RUN}", "{NETRUN}", "{CORRUPT_RUN}", "{EMPTY_RUN}",
               "{OUT}", "{OUT}.graphml", "{DIR}/x.graphml", "{FIFO}.graphml", "{MISSING}/x.graphml",
               "{OUT}/cases.html", "{FILE}/cases.html", "/proc/self/status", "/dev/full"]
INT_VALUES = ["-1", "0", "1", "2", "3", "1000", "1001", "2147483648", "99999999999999999999999",
              "-99999999999999999999", "abc", "1.5", "", "1e3", " 7", "0x1f", "٣", "--", "nan"]
FLOAT_VALUES = ["nan", "-nan", "inf", "-inf", "1e300", "-1", "0", "-0", "1e-320", "abc", "", "0.5",
                "1", "2", "1e12", "1,5", "1e", "0x1p3", "1_0", "∞"]
STR_VALUES = ["", " ", "x" * 10_000, "\x1b[2J\x1b[31mred", "[bold red]x[/]", "..", "a\nb", "é" * 100,
              "%s{0}$HOME", "-", "--help", "null"]
FLAG_HINTS = {
    "--mode": ["full", "sample", "none", "FULL", "sample ", "all"],
    "--county": ["Alpine", "alpine", " Alpine ", "Orange", "Nowhere", "Los Angeles"],
    "--load-factors": ["1", "0.5,1", "1:2:0.5", "1:1000000:1", "0:1:0", "1:1:1", "nan", "-1", "1,2,3:4",
                       "1e308:1.7e308:1e307", ",", "1:2", "a:b:c", "0", "1,,2", "1:0:1", "1:2:-1",
                       "1e-300:1e-299:1e-301", "inf"],
    "--scheduler": ["tcp://127.0.0.1:1", "nonsense", "tcp://[::1]:99999", "inproc://x", "",
                    "tcp://256.0.0.1:8786", "tls://127.0.0.1:1"],
}


def _max_replications() -> int:
    try:
        from sim.cli.common import MAX_REPLICATIONS

        return MAX_REPLICATIONS
    except ImportError:
        return 1000


def _as_number(v: str):
    try:
        return float(v)
    except ValueError:
        return None


def _points(spec: str) -> int | None:
    """Load points a --load-factors spec would give (None if not a clean spec)."""
    try:
        if ":" in spec:
            a, b, c = (float(x) for x in spec.split(":"))
            return int(round((b - a) / c)) + 1 if c > 0 and b >= a and math.isfinite(b - a) else None
        return len([x for x in spec.split(",") if x.strip()])
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def cheap_or_refused(flag: str, value: str) -> bool:
    """Keep a flag value unless it is valid *and* a legitimately long job on the tiny bases
    (these are not fuzz findings; see the module docstring). The refusal thresholds are the
    documented limits: replications <= MAX_REPLICATIONS, load points <= 1,000."""
    n = _as_number(value)
    if flag == "--replications" and n is not None and math.isfinite(n):
        return n <= 2 or n > _max_replications()
    if flag == "--days" and n is not None and math.isfinite(n):
        return n <= 14 or n >= 10**6  # a million days (2,700 years) must be refused, not run
    if flag == "--samples" and n is not None and math.isfinite(n):
        return n <= 4  # a sensitivity analysis of more samples is a long job, not a finding
    if flag == "--load-factors":
        p = _points(value)
        return p is None or p <= 4 or p > 1000
    return True


def flag_values(p: Param) -> st.SearchStrategy:
    """Values for one parameter, from its type (and hints for a few known names)."""
    ann = p.annotation
    if p.is_flag or ann is bool:
        s = st.sampled_from(["<present>"])
    elif ann is int:
        s = st.one_of(st.sampled_from(INT_VALUES), st.integers(-(10**25), 10**25).map(str),
                      st.text(max_size=8))
    elif ann is float:
        s = st.one_of(st.sampled_from(FLOAT_VALUES), st.floats().map(repr), st.text(max_size=8))
    elif isinstance(ann, type) and issubclass(ann, Path):
        s = st.sampled_from(PATH_VALUES)
    else:
        s = st.one_of(st.sampled_from(FLAG_HINTS.get(p.opt or "", []) or STR_VALUES),
                      st.sampled_from(STR_VALUES), st.text(max_size=20))
    if p.opt:
        s = s.filter(lambda v: cheap_or_refused(p.opt, v))
    return s
