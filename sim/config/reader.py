"""Read a scenario file as hostile input: bounded size and time, strict YAML, clear errors.

- Only regular files (a FIFO, a device such as /dev/zero, a directory are refused), at most
  `MAX_BYTES`, decoded as UTF-8 (a byte-order mark is allowed) and without NUL bytes.
- YAML, parsed by libyaml: duplicate keys are errors (PyYAML keeps the last one silently);
  aliases are limited (`MAX_ALIASES`) and the document may hold at most `MAX_NODES` values
  once aliases are expanded, checked on the parsed nodes before any value is built, so an
  alias bomb is refused instead of expanding; impossible dates (2018-02-30) and deep
  nesting are errors with the line, never tracebacks. Merge keys (`<<: *base`) work.
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


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """libyaml parses (fast, and it stops nesting beyond 1,000 levels itself); before anything
    is constructed, the node graph is checked for aliases, expanded size and depth
    (`_check_nodes`); construction refuses duplicate keys and reports bad dates. YAML merge
    keys (`<<: *base`) work: keys written in the mapping override merged ones."""

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return self.construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
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


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_nodes(root) -> None:
    """Before construction: at most MAX_ALIASES aliases, and once aliases are expanded at most
    MAX_NODES values and MAX_DEPTH levels; no alias that contains itself. An iterative
    depth-first walk: a node met again is an alias (its expanded size and height are known by
    then); a node met again while still open is its own ancestor, a recursive alias."""
    size: dict[int, tuple[int, int]] = {}  # node -> (values, levels) once its aliases are expanded
    open_nodes: set[int] = set()
    aliases = 0
    stack = [(root, 0, False)]
    while stack:
        node, depth, closing = stack.pop()
        nid = id(node)
        if closing:
            open_nodes.discard(nid)
            below = [size[id(c)] for c in _children(node)]
            size[nid] = (1 + sum(n for n, _ in below), 1 + max((h for _, h in below), default=0))
            if size[nid][0] > MAX_NODES:
                raise ScenarioError(f"more than {MAX_NODES:,} values (an alias bomb?); refused")
            continue
        if nid in open_nodes:
            raise ScenarioError(f"a YAML alias contains itself (line {node.start_mark.line + 1}); refused")
        if nid in size:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise ScenarioError(f"more than {MAX_ALIASES} YAML aliases (line {node.start_mark.line + 1}): "
                                    "a scenario does not need them; write the values out")
            depth += size[nid][1] - 1  # the deepest level this alias reaches once expanded
        if depth > MAX_DEPTH:
            raise ScenarioError(f"nested more than {MAX_DEPTH} levels deep (line "
                                f"{node.start_mark.line + 1}); refused")
        if nid in size:
            continue
        open_nodes.add(nid)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in reversed(_children(node)))


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


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


def load_yaml(path: Path, what: str = "scenario file"):
    """Parse the file strictly (see the module docstring); every failure is a ScenarioError."""
    p = Path(path)
    text = read_text(p, what)
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
    except (ValueError, OverflowError, TypeError) as err:  # a constructor's own complaint
        raise ScenarioError(f"{p}: cannot be read as a scenario: {str(err)[:200]}") from None
    return data
