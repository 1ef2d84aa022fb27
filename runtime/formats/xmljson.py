"""XML <-> JSON without a schema: one documented convention, both ways.

* An element becomes a key named by its local name (namespaces are dropped; give an XSD
  to keep them and get typed values).
* Text-only elements become strings; empty ones become null.
* Attributes become `"@name"` keys; the text of an element that also has attributes or
  children becomes `"#text"`.
* Repeated children become lists; `force_list` names elements that are always lists,
  even when they occur once (so consumers see a stable shape).

`json_to_xml` reverses it: keys become child elements, `@` keys attributes, `#text` text,
lists repeated elements, `null` an empty element.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from lxml import etree

from runtime.core.errors import DocumentError

TEXT_KEY = "#text"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def element_to_json(element: etree._Element, force_list: Collection[str] = ()) -> Any:
    """The JSON value of one element (not wrapped in its own name)."""
    children = [child for child in element if isinstance(child.tag, str)]
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text if text else None
    value: dict[str, Any] = {f"@{_local(str(k))}": v for k, v in element.attrib.items()}
    groups: dict[str, list[Any]] = {}
    for child in children:
        groups.setdefault(_local(str(child.tag)), []).append(element_to_json(child, force_list))
    for name, items in groups.items():
        value[name] = items if len(items) > 1 or name in force_list else items[0]
    if text:
        value[TEXT_KEY] = text
    return value


def xml_to_json(root: etree._Element, force_list: Collection[str] = ()) -> dict[str, Any]:
    """`{root_name: value}` for a whole document."""
    return {_local(str(root.tag)): element_to_json(root, force_list)}


def _fill(element: etree._Element, value: Any, namespace: str | None) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key == TEXT_KEY:
                element.text = _scalar(item)
            elif key.startswith("@"):
                element.set(key[1:], _scalar(item))
            else:
                for single in item if isinstance(item, list) else [item]:
                    child = etree.SubElement(element, _qualified(key, namespace))
                    _fill(child, single, namespace)
        return
    if isinstance(value, list):
        raise DocumentError("a list must be the value of a named key to become XML elements")
    element.text = _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise DocumentError("attributes and text must be scalars")
    return "" if value is None else str(value)


def _qualified(name: str, namespace: str | None) -> str:
    if not name or not (name[0].isalpha() or name[0] == "_"):
        raise DocumentError(f"{name!r} cannot be an XML element name")
    return f"{{{namespace}}}{name}" if namespace else name


def json_to_xml(
    value: Any, root: str | None = None, namespace: str | None = None
) -> etree._Element:
    """An element tree from a JSON value. Without `root`, the value must be a mapping with
    exactly one key, which names the root element."""
    if root is None:
        if not isinstance(value, dict) or len(value) != 1:
            raise DocumentError("give `root`, or a document with exactly one top-level key")
        ((root, value),) = value.items()
    element = etree.Element(
        _qualified(root, namespace), nsmap={None: namespace} if namespace else None
    )
    _fill(element, value, namespace)
    return element


def strip_indentation(element: etree._Element) -> etree._Element:
    """Drop whitespace-only text between elements (encoders like to pretty-print)."""
    for node in element.iter():
        if len(node) and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return element
