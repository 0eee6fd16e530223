"""Read a scenario file as hostile input: bounded size and time, strict YAML, clear errors.

- Only regular files (a FIFO, a device such as /dev/zero, a directory are refused), at most
  `MAX_BYTES`, decoded as UTF-8 (a byte-order mark is allowed) and without NUL bytes.
- YAML: duplicate keys are errors (PyYAML keeps the last one silently); aliases are
  limited (`MAX_ALIASES`) and the loaded document may hold at most `MAX_NODES` values, so
  an alias bomb is refused instead of expanding; impossible dates (2018-02-30) and deep
  nesting are errors with the line, never tracebacks.
"""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from sim.errors import ScenarioError

MAX_BYTES = 1_000_000
MAX_ALIASES = 100
MAX_NODES = 100_000
MAX_DEPTH = 50


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, counts aliases and reports bad dates."""

    def __init__(self, stream):
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ScenarioError(f"more than {MAX_ALIASES} YAML aliases (line {mark.line + 1}): "
                                    "a scenario does not need them; write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # PyYAML reports unhashable keys itself
                if key in seen:
                    raise ScenarioError(f"duplicate key {_short(key)} (line {key_node.start_mark.line + 1}; "
                                        f"first at line {seen[key] + 1}): each key may appear once")
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as e:
            raise ScenarioError(f"{node.value!r} (line {node.start_mark.line + 1}) is not a valid date: "
                                f"{e}") from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_yaml_map)


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_size(data, path: Path) -> None:
    """At most MAX_NODES values and MAX_DEPTH levels (shared aliases counted every time)."""
    count, stack = 0, [(data, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ScenarioError(f"{path}: more than {MAX_NODES:,} values (an alias bomb?); refused")
        if depth > MAX_DEPTH:
            raise ScenarioError(f"{path}: nested more than {MAX_DEPTH} levels deep; refused")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item.keys())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)


def read_text(path: Path, what: str = "scenario file") -> str:
    """The file's text: a regular file of at most MAX_BYTES, valid UTF-8, no NUL bytes."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ScenarioError(f"{what} not found: {p}") from None
    except OSError as e:
        raise ScenarioError(f"{what} {p}: cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ScenarioError(f"{what} is a directory, not a YAML file: {p}")
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError(f"{what} {p} is not a regular file (a pipe, device or socket); refused")
    if st.st_size > MAX_BYTES:
        raise ScenarioError(f"{what} {p} is {st.st_size:,} bytes; at most {MAX_BYTES:,} are accepted")
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ScenarioError(f"{what} {p}: cannot be read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{what} {p} is not UTF-8 text (byte {e.start}: {raw[e.start:e.start + 1]!r}); "
                            "save it as UTF-8") from None
    if "\x00" in text:
        raise ScenarioError(f"{what} {p} contains NUL bytes: not a text file")
    return text


def load_yaml(path: Path):
    """Parse the file strictly (see the module docstring); every failure is a ScenarioError."""
    p = Path(path)
    text = read_text(p)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ScenarioError as e:
        raise ScenarioError(f"{p}: {e}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError(f"{p}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ScenarioError(f"{p}: nested too deeply to read; refused") from None
    _check_size(data, p)
    return data
