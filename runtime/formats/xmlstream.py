"""Streaming XML: yield the elements at a simple path without building the whole tree.

Used by `split` on raw and file bodies, so a 200 MB file splits in bounded memory. The
parser is as hardened as the in-memory one: no DTDs, entities or network access.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import IO

from lxml import etree

from runtime.formats.codecs import MalformedXML

_STEP = r"(?:[A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*"
_SIMPLE_PATH = re.compile(rf"^(//{_STEP}|(/{_STEP})+)$")


def is_streamable(path: str) -> bool:
    """`/orders/order` (an absolute chain of names) or `//order` (anywhere)."""
    return _SIMPLE_PATH.match(path) is not None


def _clark(step: str, namespaces: dict[str, str]) -> str:
    prefix, _, local = step.rpartition(":")
    if not prefix:
        return local
    if prefix not in namespaces:
        raise ValueError(f"namespace prefix {prefix!r} is not declared in `namespaces`")
    return f"{{{namespaces[prefix]}}}{local}"


def compile_path(path: str, namespaces: dict[str, str]) -> tuple[bool, list[str]]:
    """(anywhere, element names in Clark notation) for a streamable path."""
    if not is_streamable(path):
        raise ValueError(f"{path!r} cannot be streamed: use /a/b or //b")
    anywhere = path.startswith("//")
    steps = path.lstrip("/").split("/")
    return anywhere, [_clark(step, namespaces) for step in steps]


def iter_elements(source: IO[bytes], anywhere: bool, names: list[str]) -> Iterator[etree._Element]:
    """Each matching element as the root of its own small tree; memory stays bounded
    because everything already seen is cleared from the parse tree."""
    target = names[-1]
    parser = etree.iterparse(
        source,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    depth = 0
    checked = False
    try:
        for event, element in parser:
            if not checked:
                checked = True
                if element.getroottree().docinfo.doctype:
                    raise MalformedXML("DOCTYPE declarations are not allowed")
            if event == "start":
                depth += 1
                continue
            depth -= 1
            if element.tag == target and (anywhere or _matches(element, names, depth)):
                yield copy.deepcopy(element)
                element.clear()
                _drop_preceding(element)
            elif depth <= len(names) - 1 and not anywhere:
                element.clear()
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"the body is not well-formed XML: {exc.msg}") from None


def _matches(element: etree._Element, names: list[str], depth: int) -> bool:
    if depth != len(names) - 1:
        return False
    node: etree._Element | None = element
    for name in reversed(names):
        if node is None or node.tag != name:
            return False
        node = node.getparent()
    return node is None


def _drop_preceding(element: etree._Element) -> None:
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]
