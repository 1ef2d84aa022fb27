"""runtime.core.fastpath keeps its promise of Jinja2's exact semantics over a corpus.

Every expression shape the fast path takes (arithmetic, comparisons and their chains,
`and`/`or`/`not`, negation, `~`, conditionals, literals, attribute and item access,
filters and tests) is evaluated for every pair of operands from a corpus of values a
document holds (integers, floats, exact decimals, strings, booleans, None, lists, objects,
a missing field), once through the fast path and once through Jinja2's own compiled
expression in the same sandbox. Values must be equal and of the same types, errors of
the same type with the same message. tests/runtime/core/test_fastpath.py holds the
hand-picked cases (functions, XML, context filters).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from jinja2 import TemplateError

from runtime.core.expressions import _ENV, _FAST_FUNCTIONS, NAMESPACES_VAR
from runtime.core.fastpath import compile_fast

MISSING = object()  # the operand is a field the document does not have

VALUES: dict[str, Any] = {
    "zero": 0,
    "int": 7,
    "negative": -3,
    "float": 2.5,
    "tiny": 0.1,
    "decimal": Decimal("1.10"),
    "negative decimal": Decimal("-0.3"),
    "huge decimal": Decimal("12345678901234567890.123456789"),
    "empty string": "",
    "string": "ab",
    "digits": "42",
    "true": True,
    "false": False,
    "none": None,
    "list": [1, "x", None],
    "empty list": [],
    "object": {"k": 1, "items": "an item", "nested": {"v": Decimal("0.5")}},
    "missing": MISSING,
}

# Over two operands: each runs for every ordered pair of VALUES.
PAIRS = [
    "doc.a + doc.b",
    "doc.a - doc.b",
    "doc.a * doc.b",
    "doc.a / doc.b",
    "doc.a // doc.b",
    "doc.a % doc.b",
    "doc.a == doc.b",
    "doc.a != doc.b",
    "doc.a < doc.b",
    "doc.a <= doc.b",
    "doc.a > doc.b",
    "doc.a >= doc.b",
    "doc.a in doc.b",
    "doc.a not in doc.b",
    "doc.a < doc.b <= 10",
    "doc.a and doc.b",
    "doc.a or doc.b",
    "not doc.a and not doc.b",
    "doc.a ~ doc.b",
    "doc.a ~ '-' ~ doc.b",
    "doc.a if doc.b else 'else'",
    "[doc.a, doc.b]",
    "(doc.a, doc.b)",
    "{'a': doc.a, 'b': doc.b}",
    "doc.a | default(doc.b)",
]

# Over one operand: each runs for every value.
SINGLES = [
    "doc.a",
    "-doc.a",
    "not doc.a",
    "doc.a * 1.2",
    "1.2 * doc.a",
    "doc.a + 1",
    "doc.a - 0.5",
    "doc.a / 4",
    "doc.a // 2",
    "doc.a % 2",
    "doc.a > 1.5",
    "doc.a == 7",
    "doc.a == 1.1",
    "doc.a.k",
    "doc.a.items",
    "doc.a.nested.v * 2",
    "doc.a['k']",
    "doc.a[0]",
    "doc.a[1]",
    "doc.a.real",
    "doc.a.__class__",
    "doc.a | default('d')",
    "doc.a | default('d', true)",
    "doc.a | length",
    "doc.a | int",
    "doc.a | float",
    "doc.a | string",
    "doc.a | round(1)",
    "doc.a | abs",
    "doc.a | upper",
    "doc.a | first",
    "doc.a | list",
    "doc.a | tojson",
    "doc.a is defined",
    "doc.a is none",
    "doc.a is number",
    "doc.a is string",
    "doc.a is mapping",
    "doc.a is iterable",
    "doc.a is odd",
    "doc.a is divisibleby(2)",
    "'yes' if doc.a else 'no'",
    "doc.a or 'fallback'",
    "doc.a and 'both'",
    "'<' ~ doc.a ~ '>'",
    "props.p ~ doc.a",
]

PROPS = {"p": "prop-"}


def _names(**operands: Any) -> dict[str, Any]:
    doc = {key: value for key, value in operands.items() if value is not MISSING}
    return {"doc": doc, "props": PROPS}


def _settled(value: Any) -> Any:
    """Force lazy results and undefined values, as Expression.evaluate does."""
    if hasattr(value, "_fail_with_undefined_error"):
        value._fail_with_undefined_error()
    if hasattr(value, "__next__"):
        return list(value)
    return value


def _typed(value: Any) -> Any:
    """A value with its types spelled out: 1, 1.0, True and Decimal(1) are all equal."""
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(item) for item in value])
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    return (type(value).__name__, repr(value))


def _outcome(evaluate: Any, names: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", _typed(_settled(evaluate(names)))
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        return "error", (type(exc).__name__, str(exc))


def _compiled(source: str) -> tuple[Any, Any]:
    extra = {NAMESPACES_VAR: {}}
    fast = compile_fast(source, _ENV, _FAST_FUNCTIONS, extra)
    assert fast is not None, f"{source!r} is not taken by the fast path"
    jinja = _ENV.compile_expression(source, undefined_to_none=False)
    return fast, lambda names: jinja(**names, **extra)


def _disagreements(source: str, cases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    fast, jinja = _compiled(source)
    found = []
    for label, names in cases:
        mine, theirs = _outcome(fast, names), _outcome(jinja, names)
        if mine != theirs:
            found.append(f"{source} with {label}: fast path {mine}, Jinja2 {theirs}")
    return found


@pytest.mark.parametrize("source", PAIRS)
def test_two_operand_expressions_agree_for_every_pair_of_values(source: str) -> None:
    cases = [(f"a={a}, b={b}", _names(a=VALUES[a], b=VALUES[b])) for a in VALUES for b in VALUES]
    assert _disagreements(source, cases) == []


@pytest.mark.parametrize("source", SINGLES)
def test_one_operand_expressions_agree_for_every_value(source: str) -> None:
    cases = [(f"a={a}", _names(a=VALUES[a])) for a in VALUES]
    assert _disagreements(source, cases) == []


def test_the_corpus_reaches_values_and_errors_alike() -> None:
    """The comparison is not vacuous: the corpus yields results and failures of each kind."""
    kinds: set[str] = set()
    for source in ("doc.a + doc.b", "doc.a < doc.b", "doc.a ~ doc.b"):
        fast, _ = _compiled(source)
        for a in VALUES:
            for b in VALUES:
                outcome = _outcome(fast, _names(a=VALUES[a], b=VALUES[b]))
                kinds.add(outcome[0] if outcome[0] == "value" else outcome[1][0])
    assert {"value", "TypeError", "UndefinedError"} <= kinds
