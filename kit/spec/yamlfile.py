"""YAML read safely, with the line of every key kept, so errors can say file:line:key."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kit.util.errors import MatrixError

KeyPath = tuple[str | int, ...]


@dataclass
class Located:
    """Plain data from a YAML file plus the line (1-based) of each key path in it."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, keypath: KeyPath) -> int:
        """The line of keypath, or of its nearest ancestor that has one."""
        while keypath:
            if keypath in self.lines:
                return self.lines[keypath]
            keypath = keypath[:-1]
        return self.lines.get((), 1)

    def error(self, keypath: KeyPath, message: str, hint: str | None = None) -> MatrixError:
        key = ".".join(str(k) for k in keypath) or "(top level)"
        return MatrixError(f"{self.path}:{self.line(keypath)}: {key}: {message}", hint=hint)


def load(path: Path) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MatrixError(f"{path}: no such file",
                          hint="pass --matrix PATH, or run kit from the project root") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MatrixError(f"{path}: cannot read: {exc}") from None
    try:
        # compose() builds nodes with marks and no Python objects: safe, and keeps lines.
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise MatrixError(f"{path}:{line}: not valid YAML: {problem}") from None
    located = Located(path, None)
    located.data = _Converter(located).convert(node, ()) if node is not None else {}
    return located


# What a matrix file may expand to once its aliases are followed: far more than any real
# matrix (kit's own is a few hundred values), far less than a "billion laughs".
MAX_VALUES = 100_000
MAX_DEPTH = 64


class _Converter:
    """Nodes to plain data, following aliases with a bound: an alias inside itself, or
    aliases that multiply beyond MAX_VALUES values or MAX_DEPTH levels, are a file:line error,
    not a RecursionError or unbounded memory."""

    def __init__(self, located: Located) -> None:
        self.located = located
        self.values = 0
        self.open: set[int] = set()  # the nodes being converted, outermost first

    def convert(self, node: yaml.Node, keypath: KeyPath) -> Any:
        line = node.start_mark.line + 1
        where = ".".join(map(str, keypath)) or "(top level)"
        if id(node) in self.open:
            raise MatrixError(f"{self.located.path}:{line}: {where}: an alias refers to the "
                              "value that holds it", hint="YAML aliases (*name) must not nest "
                              "their own anchor (&name)")
        self.values += 1
        if self.values > MAX_VALUES or len(keypath) > MAX_DEPTH:
            raise MatrixError(f"{self.located.path}:{line}: {where}: the file expands to more "
                              f"than {MAX_VALUES:,} values or {MAX_DEPTH} levels",
                              hint="aliases (*name) that repeat aliases multiply; write the "
                                   "values out")
        self.open.add(id(node))
        try:
            return _convert(node, keypath, self.located, self.convert)
        finally:
            self.open.discard(id(node))


def _convert(node: yaml.Node, keypath: KeyPath, located: Located,
             recurse: Callable[[yaml.Node, KeyPath], Any]) -> Any:
    located.lines.setdefault(keypath, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode):
                raise MatrixError(f"{located.path}:{key_node.start_mark.line + 1}: "
                                  "keys must be plain strings")
            if key in out:
                dotted = ".".join(map(str, (*keypath, key)))
                raise MatrixError(f"{located.path}:{key_node.start_mark.line + 1}: "
                                  f"{dotted}: duplicate key")
            child: KeyPath = (*keypath, key)
            located.lines[child] = key_node.start_mark.line + 1
            out[key] = recurse(value_node, child)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [recurse(item, (*keypath, i)) for i, item in enumerate(node.value)]
    # Scalars get YAML 1.1's usual typing (ints, bools, null), through the safe constructor.
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:  # e.g. a bare `=` (YAML 1.1's value tag), an unknown tag
        where = ".".join(map(str, keypath)) or "(top level)"
        raise MatrixError(f"{located.path}:{node.start_mark.line + 1}: {where}: "
                          f"not a value kit can read: {getattr(exc, 'problem', exc)}",
                          hint="quote it: '...'") from None
    finally:
        loader.dispose()


def check_keys(located: Located, keypath: KeyPath, mapping: Any, allowed: Iterable[str],
               *, required: Iterable[str] = ()) -> dict[str, Any]:
    """Refuse unknown keys (with a did-you-mean) and missing required ones."""
    if not isinstance(mapping, dict):
        raise located.error(keypath, f"expected a mapping, got {type_name(mapping)}")
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
            raise located.error((*keypath, key), "unknown key", hint=hint)
    for key in required:
        if key not in mapping:
            raise located.error(keypath, f"missing required key '{key}'")
    return mapping


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "nothing"}.get(type(value),
                                                                           type(value).__name__)
