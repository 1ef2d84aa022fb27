"""xmlschema's load errors as one `file:line: reason` line, for `wharf validate`.

xmlschema explains a broken schema over many lines (the component's XML, a path, the
meta-schema's own component) and reads files with ElementTree, which keeps no line
numbers. The line is found again in the file by the failing element's shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import xmlschema

from runtime.formats.codecs import MalformedXML, parse_xml


def schema_problem(exc: BaseException, path: Path) -> str:
    """`exc` as one line naming the file (relative to `path`'s directory) and line."""
    reason = getattr(exc, "reason", None) or getattr(exc, "message", None) or str(exc)
    lines = [line.strip() for line in str(reason).strip().splitlines() if line.strip()]
    text = lines[0].rstrip(":") if lines else type(exc).__name__
    where = _file_of(exc) or path
    line = _line_of(getattr(exc, "elem", None), where)
    try:
        name = str(where.relative_to(path.parent))
    except ValueError:
        name = str(where)
    return f"{name}:{line}: {text}" if line else f"{name}: {text}"


def _file_of(exc: BaseException) -> Path | None:
    """The file the failing element is in: the document validated against the
    meta-schema, or the schema a component was parsed from."""
    if isinstance(exc, xmlschema.XMLSchemaValidationError):
        url = getattr(getattr(exc, "source", None), "url", None)
    else:
        url = getattr(getattr(getattr(exc, "validator", None), "schema", None), "url", None)
    if not isinstance(url, str) or not url.startswith("file:"):
        return None
    return Path(unquote(urlparse(url).path))


def _shape(element: Any) -> tuple[Any, ...]:
    children = tuple(_shape(child) for child in element if isinstance(child.tag, str))
    return (element.tag, tuple(sorted(element.attrib.items())), children)


def _line_of(element: Any, file: Path) -> int | None:
    if element is None or not isinstance(getattr(element, "tag", None), str):
        return None
    try:
        root = parse_xml(file.read_bytes())
    except (OSError, MalformedXML):
        return None
    wanted = _shape(element)
    for candidate in root.iter(element.tag):
        if _shape(candidate) == wanted:
            line: int | None = candidate.sourceline
            return line
    return None
