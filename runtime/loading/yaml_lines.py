"""YAML loading that remembers the line of every key and list item.

`wharf validate` must say `orders.yaml:14 steps[2].map.fields.total: ...`, so the loader
keeps a map from each path in the document to the line it starts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

Loc = tuple[str | int, ...]


@dataclass
class YamlProblem:
    line: int
    loc: Loc
    message: str


def load_yaml(text: str) -> tuple[Any, dict[Loc, int], list[YamlProblem]]:
    """Parse one YAML document; return the data, the line map, and structural problems
    (duplicate keys) that PyYAML would otherwise let pass silently."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    problems: list[YamlProblem] = []
    if node is not None:
        _walk(node, (), lines, problems)
    return data, lines, problems


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[YamlProblem]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(YamlProblem(line, (*loc, key), f"duplicate key {key!r}"))
            seen.add(key)
            lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, problems)


def format_loc(loc: Loc) -> str:
    """`('steps', 2, 'map', 'fields')` -> `steps[2].map.fields`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def line_of(loc: Loc, lines: dict[Loc, int]) -> int:
    """The line of the deepest part of `loc` that exists in the file."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def file_loc(loc: Loc, lines: dict[Loc, int]) -> Loc:
    """`loc` without the parts pydantic adds that are not in the file: the tag of a union
    member (`credentials[0].basic.pasword` is `credentials[0].pasword` in YAML)."""
    kept: Loc = ()
    for index, part in enumerate(loc):
        following = loc[index + 1 : index + 2]
        if (*kept, part) not in lines and following and (*kept, *following) in lines:
            continue
        kept = (*kept, part)
    return kept
