"""runtime.formats.codecs: JSON with orjson, XML with a hardened lxml parser."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import orjson
import pytest
from lxml import etree

from runtime.core.errors import DocumentError
from runtime.formats.codecs import (
    MAX_ATTRIBUTES,
    MalformedJSON,
    MalformedXML,
    parse_json,
    parse_xml,
    serialize_json,
    serialize_xml,
)

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<r>&x;</r>"""
XXE_NETWORK = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>
<r/>"""
_LAUGHS = '<!ENTITY lol0 "lol">' + "".join(
    f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
)
BILLION_LAUGHS = f'<?xml version="1.0"?><!DOCTYPE lolz [{_LAUGHS}]><lolz>&lol9;</lolz>'.encode()


def nested(depth: int) -> bytes:
    return b"<a>" * depth + b"</a>" * depth


# --- XML ---------------------------------------------------------------------------------


def test_parse_xml() -> None:
    root = parse_xml(b'<order xmlns="urn:po" id="1"><line>x</line></order>')
    assert etree.QName(root).text == "{urn:po}order"
    assert root.get("id") == "1"
    assert root.findtext("{urn:po}line") == "x"
    assert parse_xml("<a>é</a>").text == "é"


@pytest.mark.parametrize(
    "data",
    [XXE_FILE, XXE_NETWORK, b"<!DOCTYPE r><r/>", b'<!DOCTYPE r SYSTEM "r.dtd"><r/>'],
    ids=["xxe-file", "xxe-network", "plain-doctype", "external-dtd"],
)
def test_doctype_is_refused(data: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(MalformedXML) as caught:
        parse_xml(data)
    assert time.perf_counter() - started < 1.0
    assert caught.value.detail == "DOCTYPE declarations are not allowed"
    assert caught.value.status == 400
    assert caught.value.problem == "malformed-xml"
    assert caught.value.title == "Malformed XML"


def test_entity_expansion_is_refused_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(MalformedXML) as caught:
        parse_xml(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1.0
    assert caught.value.status == 400
    # libxml2's amplification limit or the DOCTYPE rule, whichever trips first.
    assert (
        "entity amplification" in caught.value.detail
        or caught.value.detail == "DOCTYPE declarations are not allowed"
    )


def test_external_entity_content_never_appears() -> None:
    with pytest.raises(MalformedXML) as caught:
        parse_xml(XXE_FILE)
    assert "root:" not in str(caught.value)


def test_depth_limit() -> None:
    assert parse_xml(nested(256)).tag == "a"
    with pytest.raises(MalformedXML) as caught:
        parse_xml(nested(257))
    assert caught.value.detail.startswith(
        "the body is not well-formed XML: Excessive depth in document: 256"
    )
    started = time.perf_counter()
    with pytest.raises(MalformedXML):
        parse_xml(nested(100_000))
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "the body is empty, an XML document was expected"),
        (b"  \n ", "the body is empty, an XML document was expected"),
        (
            b"<a><b></a>",
            "the body is not well-formed XML: Opening and ending tag mismatch: b line 1 and a, "
            "line 1, column 11",
        ),
        (
            b"not xml",
            "the body is not well-formed XML: Start tag expected, '<' not found, line 1, column 1",
        ),
    ],
)
def test_malformed_xml(data: bytes, detail: str) -> None:
    with pytest.raises(MalformedXML) as caught:
        parse_xml(data)
    assert caught.value.detail == detail
    assert isinstance(caught.value, DocumentError)


def test_xml_parser_is_per_thread() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for n in range(200):
                assert parse_xml(f"<n v='{n}'/>").get("v") == str(n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_text_with_an_encoding_declaration_is_not_garbled() -> None:
    """A str is already decoded: its declaration's byte encoding must not be re-applied."""
    declared = '<?xml version="1.0" encoding="ISO-8859-1"?><a>café</a>'
    assert parse_xml(declared.encode("latin-1")).text == "café"
    assert parse_xml(declared).text == "café"


def test_serialize_xml() -> None:
    root = parse_xml(b"<a><b>x</b></a>")
    assert serialize_xml(root) == b"<?xml version='1.0' encoding='UTF-8'?>\n<a><b>x</b></a>"
    assert serialize_xml(root, pretty=True) == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n<a>\n  <b>x</b>\n</a>\n"
    )


# --- JSON --------------------------------------------------------------------------------


def test_parse_json() -> None:
    assert parse_json(b'{"a": [1, 2.5, null, true, "x"]}') == {"a": [1, 2.5, None, True, "x"]}
    assert parse_json('"text"') == "text"


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b'{"id": ', "unexpected end of data: line 1 column 8 (char 7)"),
        (b"", "Input is a zero-length, empty document: line 1 column 1 (char 0)"),
        (b"[" * 1025 + b"]" * 1025, "depth limit exceeded: line 1 column 1026 (char 1025)"),
    ],
)
def test_malformed_json(data: bytes, detail: str) -> None:
    with pytest.raises(MalformedJSON) as caught:
        parse_json(data)
    assert caught.value.detail == f"the body is not valid JSON: {detail}"
    assert (caught.value.status, caught.value.problem) == (400, "malformed-json")


def test_json_depth_1024_is_accepted() -> None:
    value = parse_json(b"[" * 1024 + b"]" * 1024)
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    assert depth == 1023


def test_serialize_json() -> None:
    assert serialize_json({"a": [1, None]}) == b'{"a":[1,null]}'
    assert serialize_json({"a": [1]}, pretty=True) == b'{\n  "a": [\n    1\n  ]\n}'
    assert serialize_json({1: 2}) == b'{"1":2}'
    element = parse_xml(b"<a>x<b>y</b></a>")
    assert (
        serialize_json(
            {"d": Decimal("1.5"), "b": b"hi", "t": (1, 2), "s": frozenset([3]), "x": element}
        )
        == b'{"d":1.5,"b":"hi","t":[1,2],"s":[3],"x":"xy"}'
    )


def test_serialize_json_refuses_unknown_types() -> None:
    with pytest.raises(DocumentError) as caught:
        serialize_json({"o": object()})
    assert caught.value.detail.startswith("cannot serialize the document as JSON: ")
    assert "object" in caught.value.detail


# --- JSON numbers -------------------------------------------------------------------------


def test_integers_beyond_64_bits_parse_and_serialize_exactly() -> None:
    text = b'{"a": [123456789012345678901234567890, -18446744073709551617], "f": 0.1, "s": "x"}'
    value = parse_json(text)
    assert value == {
        "a": [123456789012345678901234567890, -18446744073709551617],
        "f": 0.1,
        "s": "x",
    }
    assert isinstance(value["a"][0], int)
    assert serialize_json(value) == text.replace(b": ", b":").replace(b", ", b",")
    assert b"\n  " in serialize_json(value, pretty=True)
    assert parse_json(serialize_json({2**80: 2**80})) == {str(2**80): 2**80}


def test_long_digit_runs_in_strings_and_fractions_keep_their_values() -> None:
    assert parse_json(b'["12345678901234567890123", 0.12345678901234567890123]') == [
        "12345678901234567890123",
        Decimal("0.12345678901234567890123"),
    ]
    with pytest.raises(MalformedJSON):
        parse_json(b"[12345678901234567890123, NaN]")


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890.5",  # more digits than a double holds
        "1.0000000000000000000001",
        "0.12345678901234567",  # 17 digits: the nearest double differs
        "9007199254740993",  # an integer past 2**53 written as a float would change...
        "9007199254740993.0",  # ...so its float form stays exact too
        "1.5e-400",  # below the smallest double: orjson gives 0.0
        "-2.5E-350",
    ],
)
def test_numbers_a_double_cannot_hold_are_never_changed(text: str) -> None:
    """Issue 11 (the class of silent number changes): what comes in goes out digit for
    digit, as an exact int or Decimal; numbers a double holds stay floats."""
    value = parse_json(f'{{"n": {text}, "plain": 0.1, "small": 1e-320}}'.encode())
    assert Decimal(str(value["n"])) == Decimal(text)
    assert type(value["plain"]) is float and type(value["small"]) is float
    written = orjson.loads(serialize_json(value))  # any reader: the digits survive
    assert Decimal(str(parse_json(serialize_json(value))["n"])) == Decimal(text), written


def test_attribute_limit() -> None:
    """Issue 11: thousands of attributes on one element cost schema validators quadratic
    time; more than MAX_ATTRIBUTES on any element is refused while parsing."""

    def element(count: int) -> bytes:
        return b"<a><b " + b" ".join(b'x%d="1"' % i for i in range(count)) + b"/></a>"

    assert len(parse_xml(element(MAX_ATTRIBUTES))[0].attrib) == MAX_ATTRIBUTES
    with pytest.raises(MalformedXML, match="more than 256 attributes"):
        parse_xml(element(MAX_ATTRIBUTES + 1))
    # Attribute-like text is not counted.
    assert parse_xml(b"<a>" + b"x=1 " * 1000 + b"</a>").text
