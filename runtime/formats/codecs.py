"""Parsing and serializing document bodies: JSON (orjson) and XML (hardened lxml).

XML is parsed with a parser that never resolves external entities, never touches the
network, keeps libxml2's limits on depth (256) and entity amplification, and refuses any
DOCTYPE outright: integration payloads have no use for DTDs, and refusing them closes
the whole family of entity attacks in one rule. An element may carry at most
`MAX_ATTRIBUTES` attributes: schema validators spend time per attribute per error, and
no integration payload needs thousands on one element.
"""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from lxml import etree

from runtime.core.errors import DocumentError


class MalformedBody(DocumentError):
    """A body that does not parse as the format it claims to be."""

    status = 400


class MalformedJSON(MalformedBody):
    problem = "malformed-json"
    title = "Malformed JSON"


class MalformedXML(MalformedBody):
    problem = "malformed-xml"
    title = "Malformed XML"


MAX_ATTRIBUTES = 256
_TOO_MANY_ATTRIBUTES = etree.XPath(f"boolean(//*[count(@*) > {MAX_ATTRIBUTES}])")


_local = threading.local()


def _xml_parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; steps may parse in a worker thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
        )
        _local.parser = parser
    return parser


# orjson reads an integer beyond 64 bits as a float, and a number with more digits than a
# double holds (or an exponent past its range) as the nearest double: silently changed.
# Such a literal has 16 or more digits in a row (a double is exact to 15), or an exponent
# of three digits. Only a body holding one (rare) is read again by the standard library,
# with exact integers, and a Decimal for each number a float would change. The look costs
# a translate and a few finds (C loops, a fraction of orjson's own time), where a regular
# expression would cost more than the parse.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_LONG_RUN = b"0" * 16
_LONG_EXPONENTS = (b"e000", b"e-000", b"e+000")


def _may_change_numbers(data: bytes | str) -> bool:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) < 5:
        return False
    shape = raw.translate(_DIGITS_AS_ZERO)
    return _LONG_RUN in shape or any(exponent in shape for exponent in _LONG_EXPONENTS)


def _exact_number(text: str) -> float | Decimal:
    """A float when the double says exactly what the text says, else a Decimal."""
    value = float(text)
    if math.isfinite(value) and Decimal(repr(value)) == Decimal(text):
        return value
    return Decimal(text)


def parse_json(data: bytes | str) -> Any:
    """JSON to Python values; numbers are never changed: integers of any size stay exact
    integers, and a number no double holds exactly is a Decimal."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON(f"the body is not valid JSON: {exc}") from None
    if not _may_change_numbers(data):
        return value
    try:  # valid JSON (orjson said so): the same values, with exact numbers
        return json.loads(data, parse_float=_exact_number)
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise MalformedJSON(f"the body is not valid JSON: {exc}") from None


FEED_CHUNK = 256 * 1024


def _parse(data: bytes) -> etree._Element:
    """Large documents are fed in chunks: libxml2 holds the GIL while it parses, and a
    chunk at a time lets the event loop's thread run in between (parsing runs off the
    loop, see runtime/core/offload.py)."""
    parser = _xml_parser()
    if len(data) <= FEED_CHUNK:
        return etree.fromstring(data, parser)
    view = memoryview(data)
    try:
        for start in range(0, len(data), FEED_CHUNK):
            parser.feed(bytes(view[start : start + FEED_CHUNK]))
        root: etree._Element = parser.close()
    except BaseException:
        _local.parser = None  # a parser left mid-document is not reused
        raise
    return root


_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_xml(data: bytes | str) -> etree._Element:
    if isinstance(data, str):
        # Text is already decoded: an encoding named in its declaration no longer applies.
        data = _DECLARATION.sub("", data, count=1).encode("utf-8")
    if not data.strip():
        raise MalformedXML("the body is empty, an XML document was expected")
    try:
        root = _parse(data)
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"the body is not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise MalformedXML("DOCTYPE declarations are not allowed")
    # Counting `=` is a cheap upper bound; only then does libxml2 count per element.
    if data.count(b"=") > MAX_ATTRIBUTES and _TOO_MANY_ATTRIBUTES(root):
        raise MalformedXML(f"an element has more than {MAX_ATTRIBUTES} attributes")
    return root


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Exact digits as a JSON number (12345678901234567.89 stays so, not a float).
        return orjson.Fragment(str(value)) if value.is_finite() else None
    if isinstance(value, etree._Element):
        return value.xpath("string(.)")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _stdlib_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return _json_default(value)


def serialize_json(value: Any, *, pretty: bool = False) -> bytes:
    """Python values to JSON; integers beyond 64 bits (which orjson refuses) are written
    exactly by the standard library."""
    options = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if pretty else 0)
    try:
        return orjson.dumps(value, default=_json_default, option=options)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise DocumentError(f"cannot serialize the document as JSON: {exc}") from None
    try:
        text = json.dumps(
            value,
            default=_stdlib_default,
            ensure_ascii=False,
            allow_nan=False,
            indent=2 if pretty else None,
            separators=(",", ": ") if pretty else (",", ":"),
        )
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"cannot serialize the document as JSON: {exc}") from None
    return text.encode("utf-8")


def serialize_xml(element: etree._Element, *, pretty: bool = False) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)
