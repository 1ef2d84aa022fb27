"""runtime.core.fastpath: the closures give what Jinja2's own compiled expression gives.

Each expression below is one the fast path takes (checked); its value, or its error,
is compared with the plain Jinja2 evaluation in the same sandboxed environment.
"""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import TemplateError

from runtime.core.expressions import _ENV, _FAST_FUNCTIONS, NAMESPACES_VAR
from runtime.core.fastpath import compile_fast
from runtime.formats.codecs import parse_xml

DOC = {
    "amount": 12.5,
    "qty": 3,
    "name": "Ada",
    "lines": [{"sku": "a", "price": 2, "ok": True}, {"sku": "b", "price": 3, "ok": False}],
    "items": {"x": 1},  # a key that is also a dict method's name
    "nested": {"deep": {"value": 7}},
    "empty": [],
    "none": None,
    "flag": False,
}
PROPS = {"query_page": "4", "header": "v"}
NAMESPACES = {"po": "urn:po"}
XML = parse_xml(b'<order xmlns="urn:po"><id>7</id><id>8</id></order>')

EXPRESSIONS = [
    "doc",
    "doc.amount",
    "doc['amount']",
    "doc.nested.deep.value",
    "doc.lines[1]",
    "doc.lines[1].sku",
    "doc.items",
    "doc['items']",
    "doc.keys",
    "props.query_page | int + 1",
    "doc.amount * 1.2",
    "doc.qty // 2",
    "doc.qty / 2",
    "doc.qty % 2",
    "doc.qty - 10",
    "-doc.qty",
    "not doc.flag",
    "doc.qty > 2 and doc.amount < 20",
    "doc.flag or doc.name",
    "doc.none or 'fallback'",
    "1 < doc.qty < 5",
    "1 < doc.qty > 5",
    "'a' in doc.name",
    "'A' in doc.name",
    "'z' not in doc.name",
    "doc.qty == 3 != 4",
    "doc.name ~ '-' ~ doc.qty",
    "doc.name ~ doc.none",
    "'big' if doc.amount > 10 else 'small'",
    "[doc.qty, doc.name, (1, 2)]",
    "{'n': doc.name, 'q': doc.qty}",
    "doc.lines | length",
    "doc.missing | default('x')",
    "doc.missing.deeper.still | default(0)",
    "doc.none | default('x')",
    "doc.none | default('x', true)",
    "doc.lines | map(attribute='price') | sum",
    "doc.lines | selectattr('ok') | map(attribute='sku') | list",
    "doc.lines | rejectattr('ok') | first",
    "doc.lines | sum(attribute='price')",
    "doc.lines | sort(attribute='price', reverse=true) | map(attribute='sku') | join(',')",
    "doc.lines | groupby('ok') | list",
    "doc.name | upper | replace('A', 'a')",
    "doc.note is defined",
    "doc.name is defined",
    "doc.qty is odd",
    "doc.qty is divisibleby(3)",
    "doc.lines is not mapping",
    "props.header | default(none)",
    "uuid is callable",
    "now is defined",
    # errors: the same exception and message as Jinja2
    "doc.missing",
    "doc.missing.deeper",
    "doc.missing + 1",
    "doc.missing ~ 'x'",
    "not doc.missing",
    "doc.name + 1",
    "doc.qty / 0",
    "doc.lines[5]",
    "doc.name | int(default=none) + 1",
    "doc.__class__",
    "doc.lines | map(attribute='nope') | sum",
]

XML_EXPRESSIONS = [
    "xpath('/po:order/po:id')",
    "xpath_list('/po:order/po:id')",
    "xpath('count(//po:id)') + 1",
    "xpath('/po:order/po:missing')",
    "xpath_list('//po:id') | map('int') | sum",
]


def outcome(function: Any) -> tuple[str, Any]:
    try:
        value = function()
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        return "error", (type(exc), str(exc))
    return "value", value


def both(source: str, names: dict[str, Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
    extra = {NAMESPACES_VAR: NAMESPACES}
    fast = compile_fast(source, _ENV, _FAST_FUNCTIONS, extra)
    assert fast is not None, f"{source!r} is not taken by the fast path"
    jinja = _ENV.compile_expression(source, undefined_to_none=False)

    def plain() -> Any:
        result = jinja(**names, **extra)
        return _settled(result)

    return outcome(lambda: _settled(fast(names))), outcome(plain)


def _settled(value: Any) -> Any:
    """Force lazy results and undefined values, as Expression.evaluate does."""
    if hasattr(value, "_fail_with_undefined_error"):
        value._fail_with_undefined_error()
    if hasattr(value, "__next__"):
        return list(value)
    return value


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_the_fast_path_agrees_with_jinja2(source: str) -> None:
    fast, plain = both(source, {"doc": DOC, "props": PROPS})
    assert fast == plain


@pytest.mark.parametrize("source", XML_EXPRESSIONS)
def test_the_fast_path_agrees_with_jinja2_on_xml(source: str) -> None:
    fast, plain = both(source, {"doc": XML, "props": {}})
    assert fast == plain
    assert fast[0] == "value"


@pytest.mark.parametrize(
    "source",
    ["doc.lines[doc.qty]", "doc.lines[0:1]", "2 ** 3", "lipsum()", "doc.name.upper()"],
)
def test_what_the_fast_path_leaves_to_jinja2(source: str) -> None:
    assert compile_fast(source, _ENV, _FAST_FUNCTIONS, {}) is None
