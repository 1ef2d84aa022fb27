"""Typed JSON values of SOAP bodies, as xmlschema decodes and encodes them.

Gaps of xmlschema's dict form are closed here: a repeated element with no occurrence is
left out of a decoded dict (a process gets `[]`, so `doc.lines | length` needs no
`default`); an empty list in a result fails to encode (it means zero elements); and a
Decimal is written as `str()` gives it, `1E+2`, which is no xs:decimal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import xmlschema
from xmlschema.validators import XsdElement, XsdGroup


def with_empty_lists(value: Any, element: XsdElement) -> Any:
    """`value` (decoded from `element`) with `[]` for each repeated child element that
    had no occurrence, at any depth."""
    if isinstance(value, list):
        return [with_empty_lists(item, element) for item in value]
    content = getattr(element.type, "content", None)
    if not isinstance(value, dict) or not isinstance(content, XsdGroup):
        return value  # simple content: no child elements
    for child in content.iter_elements():
        if not isinstance(child, XsdElement):
            continue  # a wildcard
        name = child.local_name
        if name in value:
            value[name] = with_empty_lists(value[name], child)
        elif child.max_occurs is None or child.max_occurs > 1:
            value[name] = []
    return value


def encodable(value: Any) -> Any:
    """`value` ready for xmlschema to encode: without the fields whose value is `[]`
    (zero elements) or None (an optional element left out), at any depth, and with
    Decimals as their exact digits in positional notation."""
    if isinstance(value, dict):
        return {
            key: encodable(item)
            for key, item in value.items()
            if item is not None and not (isinstance(item, list) and not item)
        }
    if isinstance(value, list):
        return [encodable(item) for item in value]
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    return value


def global_element(schema: xmlschema.XMLSchemaBase, tag: str) -> XsdElement | None:
    found = schema.maps.elements.get(tag)
    return found if isinstance(found, XsdElement) else None
