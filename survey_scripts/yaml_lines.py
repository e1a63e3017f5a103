"""Reading a survey's YAML with the line of every key, and collecting every problem
with its line (the loader reports them all at once, never the first alone)."""

from __future__ import annotations

import re
import reprlib
from typing import Any

import yaml


class LineDict(dict[str, Any]):
    """A mapping that remembers the 1-based line of each key."""

    line: int = 0
    lines: dict[str, int]


class LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:  # type: ignore[override]
        out = LineDict({str(k): v for k, v in super().construct_mapping(node, deep=True).items()})
        out.line = node.start_mark.line + 1
        out.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value
                     if isinstance(k, yaml.ScalarNode)}
        return out


# YAML 1.1 reads yes/no/on/off as booleans; a survey means the words.
LineLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _construct_map(loader: LineLoader, node: yaml.MappingNode) -> Any:
    return loader.construct_mapping(node)


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def line_of(d: Any, key: str | None = None) -> int:
    if isinstance(d, LineDict):
        return getattr(d, "lines", {}).get(key, d.line) if key else d.line
    return 0


class Checker:
    """Collects problems instead of stopping at the first one. Values from the file are
    checked for their type before use: `str()` on an alias to a huge nested list would
    build it (a YAML alias bomb), so only real scalars ever become text."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, line: int, msg: str) -> None:
        self.problems.append(f"line {line}: {msg}")

    def scalar(self, d: dict[str, Any], key: str, where: str, default: str = "") -> str:
        """A plain text, number or true/false value as text; anything else is a problem."""
        v = d.get(key)
        if v is None:
            return default
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str | int | float):
            return str(v).strip()
        self.bad(line_of(d, key), f"{where}: '{key}' must be a single value, not a "
                 f"{type(v).__name__}")
        return default

    def text(self, d: dict[str, Any], key: str, where: str) -> str:
        v = d.get(key)
        if not isinstance(v, str) or not v.strip():
            self.bad(line_of(d, key), f"{where}: '{key}' must be a non-empty text")
            return ""
        return v.strip()

    def words(self, d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        v = d.get(key)
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not v or not all(
                isinstance(x, str | int) and not isinstance(x, bool) for x in v):
            self.bad(line_of(d, key), f"{where}: '{key}' must be a list of words or phrases")
            return ()
        return tuple(str(x).strip().lower() for x in v)


def show(v: Any) -> str:
    """A value from the file, shortened for a message (never built out in full)."""
    return reprlib.repr(v) if isinstance(v, str | int | float | bool | None) else type(v).__name__
