"""runtime.core.expressions: sandboxed Jinja2 expressions and templates, compiled at load."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree
from pydantic import BaseModel, ConfigDict, ValidationError

from runtime.core.document import Document
from runtime.core.errors import ExpressionError
from runtime.core.expressions import (
    Expression,
    ExpressionField,
    Literal,
    Template,
    TemplateField,
    ValueField,
    XPathField,
    is_template,
    variables,
)
from runtime.formats.codecs import parse_xml

LINES = {
    "lines": [
        {"sku": "A", "price": Decimal("0.10"), "tags": []},
        {"sku": "B", "price": Decimal("0.10"), "tags": ["x"]},
    ]
}
PO = "urn:example:po"
NS = {"po": PO}
ORDER = parse_xml(
    f"""<order xmlns="{PO}" id="PO-7">
      <line n="1"><sku>A</sku><qty>2</qty></line>
      <line n="2"><sku>B</sku><qty>3</qty></line>
      <paid>true</paid>
    </order>""".encode()
)


def evaluate(source: str, doc: Any = None, props: dict[str, Any] | None = None, **kw: Any) -> Any:
    return Expression(source, **kw).evaluate({"doc": doc, "props": props or {}})


def render(source: str, doc: Any = None, props: dict[str, Any] | None = None, **kw: Any) -> str:
    return Template(source, **kw).evaluate({"doc": doc, "props": props or {}})


# --- expressions yield native values -------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "doc", "expected"),
    [
        ("doc.amount * 2", {"amount": 21}, 42),
        ("doc.amount * 1.5", {"amount": 2}, 3.0),
        ("doc.lines | length", {"lines": [1, 2, 3]}, 3),
        ("doc.lines", {"lines": [1, {"a": None}]}, [1, {"a": None}]),
        ("doc", {"k": "v"}, {"k": "v"}),
        ("doc['k']", {"k": "v"}, "v"),
        ("doc.lines[1]", {"lines": ["a", "b"]}, "b"),
        ("doc.qty > 0 and not doc.void", {"qty": 1, "void": False}, True),
        ("doc.qty > 0 and not doc.void", {"qty": 1, "void": True}, False),
        ("1 < doc.n < 3", {"n": 2}, True),
        ("1 < doc.n < 3", {"n": 3}, False),
        ("'x' in doc.tags", {"tags": ["x"]}, True),
        ("doc.a if doc.b else 'no'", {"a": 1, "b": 0}, "no"),
        ("doc.id ~ '-' ~ doc.n", {"id": "A", "n": 7}, "A-7"),
        ("doc.x or 5", {"x": 0}, 5),
        ("doc.missing | default('d')", {}, "d"),
        ("doc.customer.name | default(none)", {}, None),
        ("doc.a.b.c is defined", {}, False),
        ("doc.amount is number", {"amount": 1.5}, True),
        ("[doc.x, 2]", {"x": 1}, [1, 2]),
        ("{'a': doc.x}", {"x": 1}, {"a": 1}),
        ("none", None, None),
        ("true", None, True),
        ("'EUR'", None, "EUR"),
        ("7 // 2", None, 3),
        ("-doc.n", {"n": 4}, -4),
        ("'abc'.upper()", None, "ABC"),
        # filters that take the render context (lists of records)
        ("doc.lines | selectattr('tags', 'eq', []) | list | length", LINES, 1),
        ("doc.lines | map(attribute='sku') | join(',')", LINES, "A,B"),
        ("doc.lines | rejectattr('tags') | map(attribute='sku') | list", LINES, ["A"]),
        ("doc.lines | map(attribute='price') | sum", LINES, Decimal("0.20")),
        # exact decimals meet float literals as their digits, on both paths
        ("doc.lines[0].price * 1.2", LINES, Decimal("0.120")),
        ("1.1 + doc.lines[0].price", LINES, Decimal("1.20")),
        ("(doc.lines | map(attribute='price') | sum) - 0.05", LINES, Decimal("0.15")),
        ("doc.n * 1.5", {"n": 0.1}, 0.1 * 1.5),
    ],
)
def test_expression_yields_native_value(source: str, doc: Any, expected: Any) -> None:
    result = evaluate(source, doc)
    assert result == expected
    assert type(result) is type(expected)


def test_props_are_visible() -> None:
    assert evaluate("props.query_page | int + 1", props={"query_page": "41"}) == 42
    assert evaluate("props['inheader_x-id']", props={"inheader_x-id": "abc"}) == "abc"


def test_variables_of_a_document() -> None:
    document = Document.json({"a": 1}, {"p": 2})
    assert variables(document) == {"doc": {"a": 1}, "props": {"p": 2}}
    assert Expression("doc.a + props.p").evaluate(variables(document)) == 3


def test_now_and_uuid() -> None:
    stamp = datetime.fromisoformat(evaluate("now()"))
    assert stamp.tzinfo is not None
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 5
    first, second = evaluate("uuid()"), evaluate("uuid()")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first
    )
    assert first != second


# --- failures are ExpressionErrors ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "doc", "message"),
    [
        ("doc.missing", {"a": 1}, "'doc.missing': 'dict object' has no attribute 'missing'"),
        ("doc.x.y.z", {}, "'doc.x.y.z': 'dict object' has no attribute 'x'"),
        ("doc.missing or 5", {}, "'doc.missing or 5': 'dict object' has no attribute 'missing'"),
        ("doc.missing == 1", {}, "'doc.missing == 1': 'dict object' has no attribute 'missing'"),
        (
            "doc.missing ~ 'x'",
            {},
            "\"doc.missing ~ 'x'\": 'dict object' has no attribute 'missing'",
        ),
        ("doc.a / 0", {"a": 3}, "'doc.a / 0': division by zero"),
        ("doc + 1", "a", "'doc + 1': can only concatenate str (not \"int\") to str"),
        ("doc.lines[5]", {"lines": []}, "'doc.lines[5]': list object has no element 5"),
    ],
)
def test_evaluation_errors_become_expression_errors(source: str, doc: Any, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, doc)
    assert caught.value.detail == message
    assert caught.value.problem == "expression-failed"


def test_undefined_in_a_template_fails() -> None:
    with pytest.raises(ExpressionError) as caught:
        render("Order {{ doc.nope }}", {})
    assert caught.value.detail == "template: 'dict object' has no attribute 'nope'"


# --- the sandbox ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "doc", "unsafe"),
    [
        ("().__class__.__mro__", None, "'__class__' of 'tuple'"),
        ("''.__class__.__mro__[1].__subclasses__()", None, "'__class__' of 'str'"),
        ("doc.__class__", {}, "'__class__' of 'dict'"),
        ("doc.x.__class__", {"x": 0}, "'__class__' of 'int'"),
        ("doc.__init__.__globals__", {}, "'__init__' of 'dict'"),
        ("doc | attr('__class__')", {}, "'__class__' of 'dict'"),
        # Immutable sandbox: no mutation of the document from an expression.
        ("doc.append(1)", [1], "'append' of 'list'"),
        ("doc.pop()", [1], "'pop' of 'list'"),
        ("doc.update({'a': 1})", {}, "'update' of 'dict'"),
    ],
)
def test_sandbox_refuses_unsafe_access(source: str, doc: Any, unsafe: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, doc)
    assert f"access to attribute {unsafe} object is unsafe" in caught.value.detail
    if isinstance(doc, list):
        assert doc == [1]


def test_sandbox_refuses_huge_ranges() -> None:
    with pytest.raises(ExpressionError, match="Range too big"):
        evaluate("range(10**8) | list | length")


def test_sandbox_refuses_unsafe_access_in_templates() -> None:
    with pytest.raises(ExpressionError, match="access to attribute '__class__'"):
        render("{{ ().__class__.__mro__ }}")


# --- compile time -------------------------------------------------------------------------

AVAILABLE = (
    "available: doc, props and the functions xpath, xpath_list, xpath_nodes, now, uuid, "
    "step_token, execution_id, attempt (a literal string needs quotes: \"'text'\")"
)


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("amount * 2", "amount"),
        ("EUR", "EUR"),
        ("foo.bar + baz", "baz, foo"),
        ("item.sku", "item"),
    ],
)
def test_unknown_names_are_refused_at_compile(source: str, names: str) -> None:
    with pytest.raises(ValueError) as caught:
        Expression(source)
    assert str(caught.value) == f"unknown name(s) {names} in {source!r}; {AVAILABLE}"


def test_unknown_names_in_templates_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^unknown name\(s\) foo in '\{\{ foo \}\}'"):
        Template("{{ foo }}")
    # Loop variables and names given as extra are known.
    Template("{% for x in doc %}{{ x }}{% endfor %}")
    assert Expression("item.sku", extra_names={"item"}).evaluate({"item": {"sku": "A"}}) == "A"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("doc.amount *", "invalid expression 'doc.amount *': unexpected 'end of template'"),
        ("doc.", "invalid expression 'doc.': expected name or number"),
        ("", "invalid expression '': unexpected 'end of template'"),
        ("doc |", "invalid expression 'doc |': unexpected end of template, expected 'name'."),
    ],
)
def test_syntax_errors_at_compile(source: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Expression(source)
    assert str(caught.value) == message


def test_template_syntax_error_at_compile() -> None:
    with pytest.raises(ValueError, match=r"^invalid template: unexpected '}'$"):
        Template("{{ doc }")


@pytest.mark.parametrize(
    ("source", "expected"),
    [("a {{ b }}", True), ("{% if x %}y{% endif %}", True), ("a { b }", False), ("doc.x", False)],
)
def test_is_template(source: str, expected: bool) -> None:
    assert is_template(source) is expected


# --- templates --------------------------------------------------------------------------------


def test_template_yields_text() -> None:
    out = render(
        "Order {{ doc.id }} for {{ doc.customer.name }}: {{ doc.n * 2 }}\n",
        {"id": "A-1", "customer": {"name": "Ada"}, "n": 21},
    )
    assert out == "Order A-1 for Ada: 42\n"  # the trailing newline is kept


def test_template_autoescape() -> None:
    doc = {"x": "<a & 'b'>"}
    assert render("<v>{{ doc.x }}</v>", doc) == "<v><a & 'b'></v>"
    assert (
        render("<v>{{ doc.x }}</v>", doc, autoescape=True) == "<v>&lt;a &amp; &#39;b&#39;&gt;</v>"
    )


# --- xpath functions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("xpath('/po:order/@id')", "PO-7"),
        ("xpath('/po:order/po:line/po:sku')", "A"),
        ("xpath('count(//po:line)')", 2.0),
        ("xpath('//po:paid = \"true\"')", True),
        ("xpath('//po:nothing')", None),
        ("xpath('/order/@id')", None),  # without the prefix nothing matches
        ("xpath_list('//po:sku')", ["A", "B"]),
        ("xpath_list('//po:line/@n')", ["1", "2"]),
        ("xpath_list('count(//po:line)')", [2.0]),
        ("xpath_list('//po:nothing')", []),
        ("xpath_nodes('//po:line') | length", 2),
        ("xpath('po:sku', xpath_nodes('//po:line')[1])", "B"),
        ("xpath('number(po:qty)', xpath_nodes('//po:line')[0]) | int", 2),
    ],
)
def test_xpath_functions_with_namespaces(source: str, expected: Any) -> None:
    assert evaluate(source, ORDER, namespaces=NS) == expected


def test_xpath_nodes_returns_elements() -> None:
    nodes = evaluate("xpath_nodes('//po:line')", ORDER, namespaces=NS)
    assert [etree.QName(node).localname for node in nodes] == ["line", "line"]
    assert [node.get("n") for node in nodes] == ["1", "2"]


def test_xpath_in_template_loop() -> None:
    out = render(
        "{% for l in xpath_nodes('//po:line') %}{{ xpath('po:sku', l) }}x"
        "{{ xpath('number(po:qty)', l) | int }};{% endfor %}",
        ORDER,
        namespaces=NS,
    )
    assert out == "Ax2;Bx3;"


def test_xpath_on_a_json_document_fails() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("xpath('/a')", {"a": 1})
    assert caught.value.detail == "\"xpath('/a')\": xpath('/a') needs an XML document, not dict"


def test_invalid_xpath_syntax_fails_as_expression_error() -> None:
    with pytest.raises(ExpressionError, match=r"invalid XPath '//po:sku\['"):
        evaluate("xpath('//po:sku[')", ORDER, namespaces=NS)


def test_xpath_with_an_undeclared_prefix_is_a_clear_error() -> None:
    """A prefix missing from `namespaces:` is refused at load or fails as an ExpressionError,
    never as an unexpected (internal, 500) error."""
    message = "namespace prefix 'x' in '//x:sku' is not declared in `namespaces`"
    try:
        expression = Expression("xpath('//x:sku')", NS)
    except ValueError as exc:
        assert message in str(exc)
        return
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate({"doc": ORDER, "props": {}})
    assert caught.value.detail == f"\"xpath('//x:sku')\": {message}"


def test_the_xml_prefix_needs_no_declaration() -> None:
    """`xml:` is bound by definition (XML Namespaces 1.0 §3); lxml resolves it unasked."""
    doc = parse_xml(b'<a xml:lang="en"><b xml:lang="de">x</b></a>')
    assert evaluate("xpath('/a/@xml:lang')", doc) == "en"
    assert evaluate("xpath_list('//*[@xml:lang]/@xml:lang')", doc) == ["en", "de"]
    assert evaluate("xpath('//b[@xml:lang=\"de\"]')", doc, namespaces=NS) == "x"


# --- pydantic fields ------------------------------------------------------------------------


class Fields(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    expression: ExpressionField | None = None
    value: ValueField | None = None
    template: TemplateField | None = None
    xpath: XPathField | None = None


def test_value_field_kinds() -> None:
    assert isinstance(Fields.model_validate({"value": "doc.a"}).value, Expression)
    assert isinstance(Fields.model_validate({"value": "a {{ doc.a }}"}).value, Template)
    for literal in (5, 1.5, True, None):
        field = Fields.model_validate({"value": literal}).value
        if literal is None:
            assert field is None
        else:
            assert isinstance(field, Literal)
            assert field.evaluate({}) == literal
    with pytest.raises(ValidationError, match="a value is an expression string"):
        Fields.model_validate({"value": {"a": 1}})


def test_fields_get_namespaces_from_the_validation_context() -> None:
    context = {"namespaces": NS}
    fields = Fields.model_validate(
        {
            "expression": "xpath('/po:order/@id')",
            "value": "{{ xpath('count(//po:line)') | int }} lines",
            "template": "{{ xpath('//po:sku') }}",
            "xpath": "//po:line/@n",
        },
        context=context,
    )
    names = {"doc": ORDER, "props": {}}
    assert fields.expression is not None and fields.expression.evaluate(names) == "PO-7"
    assert fields.value is not None and fields.value.evaluate(names) == "2 lines"
    assert fields.template is not None and fields.template.evaluate(names) == "A"
    assert fields.xpath is not None and fields.xpath(ORDER) == ["1", "2"]


def test_field_type_errors() -> None:
    with pytest.raises(ValidationError, match="an expression must be a string"):
        Fields.model_validate({"expression": 5})
    with pytest.raises(ValidationError, match="a template must be a string"):
        Fields.model_validate({"template": 5})
    with pytest.raises(ValidationError, match="invalid XPath '//\\['"):
        Fields.model_validate({"xpath": "//["})
    with pytest.raises(ValidationError, match=r"unknown name\(s\) nope"):
        Fields.model_validate({"expression": "nope"})
