"""Every Jinja2 built-in filter and test, in expressions and in templates.

Context filters (`map`, `select`, `selectattr`...) once failed in expressions with
"Attempted to invoke a context filter without context" while working in `{{ }}`
templates. The tables below name every entry of `jinja2.filters.FILTERS` and
`jinja2.tests.TESTS`, so a filter Jinja2 adds later must be added here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2.filters
import jinja2.tests
import pytest

from runtime.core.document import Document
from runtime.core.expressions import Expression, Template
from tests.helpers import run_steps

A = {"sku": "a", "price": 2, "ok": True}
B = {"sku": "b", "price": 3, "ok": False}
DOC = {"lines": [A, B], "text": "hello world", "n": -3.7, "html": "<b>x</b> y"}

# filter -> (expression, value). Lazy results (generators, iterators) come out as lists.
FILTERS: dict[str, tuple[str, Any]] = {
    "abs": ("doc.n | abs", 3.7),
    "attr": ("doc.n | attr('real')", -3.7),
    "batch": ("[1, 2, 3] | batch(2)", [[1, 2], [3]]),
    "capitalize": ("doc.text | capitalize", "Hello world"),
    "center": ("'ab' | center(6)", "  ab  "),
    "count": ("doc.lines | count", 2),
    "d": ("doc.missing | d('x')", "x"),
    "default": ("doc.missing.deeper | default('x')", "x"),
    "dictsort": ("{'b': 1, 'a': 2} | dictsort", [("a", 2), ("b", 1)]),
    "e": ("'<a>' | e", "&lt;a&gt;"),
    "escape": ("'<a>' | escape", "&lt;a&gt;"),
    "filesizeformat": ("1000000 | filesizeformat", "1.0 MB"),
    "first": ("doc.lines | map(attribute='sku') | first", "a"),
    "float": ("'2.5' | float", 2.5),
    "forceescape": ("'<b>' | forceescape", "&lt;b&gt;"),
    "format": ("'%s-%s' | format('a', 'b')", "a-b"),
    "groupby": ("doc.lines | groupby('ok')", [(False, [B]), (True, [A])]),
    "indent": ("'a\\nb' | indent(2)", "a\n  b"),
    "int": ("'42' | int", 42),
    "items": ("{'a': 1} | items", [("a", 1)]),
    "join": ("doc.lines | join(',', attribute='sku')", "a,b"),
    "last": ("[1, 2, 3] | last", 3),
    "length": ("doc.lines | length", 2),
    "list": ("'ab' | list", ["a", "b"]),
    "lower": ("'HeLLo' | lower", "hello"),
    "map": ("doc.lines | map(attribute='price') | sum", 5),
    "max": ("doc.lines | max(attribute='price')", B),
    "min": ("doc.lines | min(attribute='price')", A),
    "pprint": ("{'a': 1} | pprint", "{'a': 1}"),
    "random": ("[7] | random", 7),
    "reject": ("[1, 2, 3, 4] | reject('odd')", [2, 4]),
    "rejectattr": ("doc.lines | rejectattr('ok')", [B]),
    "replace": ("'aXb' | replace('X', '-')", "a-b"),
    "reverse": ("[1, 2, 3] | reverse", [3, 2, 1]),
    "round": ("2.567 | round(1)", 2.6),
    "safe": ("'<a>' | safe", "<a>"),
    "select": ("[1, 2, 3, 4] | select('even')", [2, 4]),
    "selectattr": ("doc.lines | selectattr('price', 'gt', 2)", [B]),
    "slice": ("[1, 2, 3] | slice(2)", [[1, 2], [3]]),
    "sort": (
        "doc.lines | sort(attribute='price', reverse=true) | map(attribute='sku')",
        ["b", "a"],
    ),
    "string": ("5 | string", "5"),
    "striptags": ("doc.html | striptags", "x y"),
    "sum": ("doc.lines | sum(attribute='price')", 5),
    "title": ("doc.text | title", "Hello World"),
    "tojson": ("{'a': 1} | tojson", '{"a": 1}'),
    "trim": ("'  x ' | trim", "x"),
    "truncate": ("doc.text | truncate(5, leeway=0)", "he..."),
    "unique": ("[1, 1, 2] | unique", [1, 2]),
    "upper": ("doc.text | upper", "HELLO WORLD"),
    "urlencode": ("'a b&c' | urlencode", "a%20b%26c"),
    "urlize": ("'see https://x.org' | urlize", 'see <a href="https://x.org" rel="noopener">'),
    "wordcount": ("doc.text | wordcount", 2),
    "wordwrap": ("'aaa bbb' | wordwrap(3)", "aaa\nbbb"),
    "xmlattr": ("{'id': 'x'} | xmlattr", ' id="x"'),
}

# test -> an expression that is true (operator-named tests work in `select`, not after `is`)
TESTS: dict[str, str] = {
    "!=": "[1, 2] | select('!=', 2) | list == [1]",
    "<": "[1, 2] | select('<', 2) | list == [1]",
    "<=": "[1, 3] | select('<=', 2) | list == [1]",
    "==": "[1, 2] | select('==', 2) | list == [2]",
    ">": "[1, 3] | select('>', 2) | list == [3]",
    ">=": "[1, 2] | select('>=', 2) | list == [2]",
    "boolean": "true is boolean",
    "callable": "uuid is callable",
    "defined": "doc.text is defined and doc.missing is not defined",
    "divisibleby": "9 is divisibleby 3",
    "eq": "2 is eq 2",
    "equalto": "2 is equalto 2",
    "escaped": "('<a>' | e) is escaped",
    "even": "2 is even",
    "false": "false is false",
    "filter": "'map' is filter",
    "float": "1.5 is float",
    "ge": "2 is ge 1",
    "greaterthan": "2 is greaterthan 1",
    "gt": "2 is gt 1",
    "in": "'a' is in ['a']",
    "integer": "1 is integer",
    "iterable": "doc.lines is iterable",
    "le": "1 is le 1",
    "lessthan": "1 is lessthan 2",
    "lower": "'ab' is lower",
    "lt": "1 is lt 2",
    "mapping": "doc is mapping",
    "ne": "1 is ne 2",
    "none": "none is none",
    "number": "doc.n is number",
    "odd": "3 is odd",
    "sameas": "none is sameas none",
    "sequence": "doc.lines is sequence",
    "string": "doc.text is string",
    "test": "'odd' is test",
    "true": "true is true",
    "undefined": "doc.missing is undefined",
    "upper": "'AB' is upper",
}


def variables() -> dict[str, Any]:
    return {"doc": DOC, "props": {}}


def test_the_tables_name_every_builtin() -> None:
    assert set(FILTERS) == set(jinja2.filters.FILTERS)
    assert set(TESTS) == set(jinja2.tests.TESTS)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_builtin_filter_works_in_an_expression(name: str) -> None:
    source, expected = FILTERS[name]
    value = Expression(source).evaluate(variables())
    if name == "urlize":
        assert value.startswith(expected)
    else:
        assert value == expected
        assert type(value) is not type(iter([]))


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_builtin_filter_works_in_a_template(name: str) -> None:
    source, expected = FILTERS[name]
    if isinstance(expected, list):
        source = f"({source}) | list"
    text = Template("{{ " + source + " }}").evaluate(variables())
    if name == "urlize":
        assert text.startswith(expected)
    else:
        assert text == str(expected)


@pytest.mark.parametrize("name", sorted(TESTS))
def test_every_builtin_test_works_in_expressions_and_templates(name: str) -> None:
    source = TESTS[name]
    assert Expression(source).evaluate(variables()) is True
    assert Template("{{ " + source + " }}").evaluate(variables()) == "True"


def test_context_filters_chain_with_other_expressions() -> None:
    source = "doc.lines | selectattr('ok') | map(attribute='price') | sum > 1 and doc.text"
    assert Expression(source).evaluate(variables()) == "hello world"
    lines = "doc.lines | rejectattr('ok') | map(attribute='sku') | map('upper') | join('+')"
    assert Expression(lines).evaluate(variables()) == "B"
    assert Expression("doc.lines | map(attribute='price') | list").evaluate(variables()) == [2, 3]


async def test_context_filters_in_set_and_route_steps(tmp_path: Path) -> None:
    steps = """
        - set:
            properties:
              total: "doc.lines | map(attribute='price') | sum"
              skus: "doc.lines | selectattr('ok') | map(attribute='sku')"
              others: "doc.lines | rejectattr('ok') | map(attribute='sku') | join(',')"
        - route:
            routes:
              - when: "doc.lines | selectattr('price', 'gt', 2) | list | length > 0"
                steps:
                  - set: {properties: {branch: "'expensive'"}}
            default:
              - set: {properties: {branch: "'cheap'"}}
    """
    result = await run_steps(tmp_path, steps, Document.json(DOC))
    assert result.execution.error is None, result.execution.error
    (document,) = result.documents
    assert document.properties["total"] == 5
    assert document.properties["skus"] == ["a"]
    assert document.properties["others"] == "b"
    assert document.properties["branch"] == "expensive"
