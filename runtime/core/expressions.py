"""The expression language: sandboxed Jinja2, compiled once when a process loads.

Rules (also in the README's DSL tour):

* A string in an *expression* field is a Jinja2 expression that yields a native value:
  `doc.amount * 1.2`, `props.query_page | int`, `doc.lines | length > 3`.
* A string containing `{{` or `{%` is a *template* and yields text:
  `"Order {{ doc.id }} for {{ doc.customer.name }}"`.
* A YAML value that is not a string (number, boolean, null) is a literal. A literal
  string is written as an expression: `"'EUR'"`.

Names available: `doc` (the document body: JSON value, XML element, text or bytes),
`props` (the document's properties) and the functions `xpath`, `xpath_list`,
`xpath_nodes`, `now`, `uuid`, and in steps `step_token`, `execution_id`, `attempt`
(runtime/core/step_context.py). Unknown names are refused at load time, so a typo is a
validation error with a line number rather than a failure at 3 a.m.
"""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Protocol

from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, Undefined, meta, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from lxml import etree
from pydantic import PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema

from runtime.core.document import Document
from runtime.core.errors import DocumentError, ExpressionError
from runtime.core.fastpath import ARITHMETIC, compile_fast
from runtime.core.step_context import attempt, execution_id, step_token

NAMESPACES_VAR = "wharf_namespaces"
# Result types that are certainly no lazy iterator (skips an ABC check per evaluation).
_PLAIN = frozenset({str, int, float, bool, dict, list, type(None)})
BASE_NAMES = frozenset({"doc", "props"})


_PREFIX = re.compile(r"(?<![\w.:-])([A-Za-z_][\w.-]*):(?![:=])(?=[A-Za-z_*])")


@lru_cache(maxsize=2048)
def compile_xpath(path: str, namespaces: tuple[tuple[str, str], ...] = ()) -> etree.XPath:
    """Compile (once, then cached) an XPath 1.0 expression with a namespace map.

    lxml only notices an undeclared prefix when the XPath runs; it is checked here so the
    mistake is a load-time error."""
    declared = dict(namespaces)
    for prefix in _PREFIX.findall(_without_literals(path)):
        if prefix not in declared and prefix != "xml":  # `xml` is always bound
            raise ValueError(
                f"namespace prefix {prefix!r} in {path!r} is not declared in `namespaces`"
            )
    try:
        return etree.XPath(path, namespaces=declared, smart_strings=False)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"invalid XPath {path!r}: {exc}") from None


def _without_literals(path: str) -> str:
    return re.sub(r"'[^']*'|\"[^\"]*\"", "''", path)


def _plain(item: Any) -> Any:
    if isinstance(item, etree._Element):
        return item.xpath("string(.)")
    if isinstance(item, str):
        return str(item)
    return item


def run_xpath(path: str, node: Any, namespaces: Mapping[str, str]) -> list[Any] | Any:
    if not isinstance(node, etree._Element):
        raise DocumentError(f"xpath({path!r}) needs an XML document, not {type(node).__name__}")
    result = compile_xpath(path, tuple(sorted(namespaces.items())))(node)
    return result


@pass_context
def _xpath(context: Context, path: str, node: Any = None) -> Any:
    """First match as a string (or the number/boolean an XPath function returns)."""
    result = run_xpath(path, context["doc"] if node is None else node, context[NAMESPACES_VAR])
    if isinstance(result, list):
        return _plain(result[0]) if result else None
    return _plain(result)


@pass_context
def _xpath_list(context: Context, path: str, node: Any = None) -> list[Any]:
    """Every match, as strings."""
    result = run_xpath(path, context["doc"] if node is None else node, context[NAMESPACES_VAR])
    return [_plain(item) for item in result] if isinstance(result, list) else [_plain(result)]


@pass_context
def _xpath_nodes(context: Context, path: str, node: Any = None) -> list[Any]:
    """Every match as an element, to loop over in templates or pass to `xpath(..., node)`."""
    result = run_xpath(path, context["doc"] if node is None else node, context[NAMESPACES_VAR])
    return list(result) if isinstance(result, list) else [result]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _uuid() -> str:
    return str(uuid_module.uuid4())


class StrictChainableUndefined(ChainableUndefined, StrictUndefined):
    """A missing value fails as soon as it is used, but `doc.a.b.c | default(x)` still
    works when `a` is missing: attribute access chains on, like optional chaining."""


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with arithmetic that mixes exact decimals and float literals as the
    fast path does (runtime/core/fastpath.py)."""

    intercepted_binops = frozenset(ARITHMETIC)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return ARITHMETIC[operator](left, right)


def _make_env(
    autoescape: bool, finalize: Callable[[Any], Any] | None = None
) -> ImmutableSandboxedEnvironment:
    env = _Environment(
        undefined=StrictChainableUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        finalize=finalize,
    )
    env.globals.update(
        xpath=_xpath,
        xpath_list=_xpath_list,
        xpath_nodes=_xpath_nodes,
        now=_now,
        uuid=_uuid,
        step_token=step_token,
        execution_id=execution_id,
        attempt=attempt,
    )
    return env


# Globals the fast path may call directly; each takes the context mapping first.
_FAST_FUNCTIONS: dict[str, Any] = {
    "xpath": _xpath,
    "xpath_list": _xpath_list,
    "xpath_nodes": _xpath_nodes,
    "now": lambda context: _now(),
    "uuid": lambda context: _uuid(),
    "step_token": lambda context, part=None: step_token(part),
    "execution_id": lambda context: execution_id(),
    "attempt": lambda context: attempt(),
}

_ENV = _make_env(autoescape=False)
_ENV_ESCAPED = _make_env(autoescape=True)


def _check_names(source: str, parsed_source: str, extra_names: Iterable[str]) -> None:
    allowed = BASE_NAMES | set(_ENV.globals) | set(extra_names)
    unknown = meta.find_undeclared_variables(_ENV.parse(parsed_source)) - allowed
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ValueError(
            f"unknown name(s) {names} in {source!r}; available: doc, props and "
            "the functions xpath, xpath_list, xpath_nodes, now, uuid, step_token, "
            "execution_id, attempt "
            "(a literal string needs quotes: \"'text'\")"
        )


class Evaluable(Protocol):
    source: str

    def evaluate(self, variables: Mapping[str, Any]) -> Any: ...


class Literal:
    """A YAML value that is not a string; evaluates to itself."""

    def __init__(self, value: Any):
        self.value = value
        self.source = repr(value)

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        return self.value


class Expression:
    """A compiled Jinja2 expression yielding a native Python value."""

    def __init__(
        self,
        source: str,
        namespaces: Mapping[str, str] | None = None,
        extra_names: Iterable[str] = (),
    ):
        self.source = source
        self.namespaces = dict(namespaces or {})
        try:
            self._compiled = _ENV.compile_expression(source, undefined_to_none=False)
            _check_names(source, "{{ " + source + " }}", extra_names)
            self._fast = compile_fast(
                source, _ENV, _FAST_FUNCTIONS, {NAMESPACES_VAR: self.namespaces}
            )
        except TemplateError as exc:
            raise ValueError(f"invalid expression {source!r}: {exc}") from None

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        try:
            if self._fast is not None:
                result = self._fast(variables)
            else:
                result = self._compiled(**variables, **{NAMESPACES_VAR: self.namespaces})
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            if type(result) not in _PLAIN and isinstance(result, Iterator):
                # `map`, `select`, `reverse`, `batch`... are lazy; a value must outlive the
                # call (a property, a body), so it is collected here, as `| list` would.
                result = list(result)
        except (TemplateError, DocumentError, ArithmeticError, TypeError, ValueError) as exc:
            raise ExpressionError(f"{self.source!r}: {exc}") from None
        return result

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


class Template:
    """A compiled Jinja2 template yielding text."""

    def __init__(
        self,
        source: str,
        namespaces: Mapping[str, str] | None = None,
        extra_names: Iterable[str] = (),
        autoescape: bool = False,
        finalize: Callable[[Any], Any] | None = None,
    ):
        """`finalize` transforms each `{{ }}` value (e.g. encoding it as a URL segment)."""
        self.source = source
        self.namespaces = dict(namespaces or {})
        env = _ENV_ESCAPED if autoescape else _ENV
        if finalize is not None:
            env = _make_env(autoescape, finalize)
        try:
            self._compiled = env.from_string(source)
            _check_names(source, source, extra_names)
        except TemplateError as exc:
            raise ValueError(f"invalid template: {exc}") from None

    def evaluate(self, variables: Mapping[str, Any]) -> str:
        try:
            return self._compiled.render(**variables, **{NAMESPACES_VAR: self.namespaces})
        except (TemplateError, DocumentError, ArithmeticError, TypeError, ValueError) as exc:
            raise ExpressionError(f"template: {exc}") from None

    def __repr__(self) -> str:
        return f"Template({self.source[:40]!r})"


def is_template(source: str) -> bool:
    return "{{" in source or "{%" in source


def variables(document: Document) -> dict[str, Any]:
    """The names an expression sees for one document."""
    return {"doc": document.body, "props": document.properties}


def _namespaces(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context or {}
    namespaces = context.get("namespaces")
    return namespaces if isinstance(namespaces, Mapping) else {}


def _validate_expression(value: Any, info: ValidationInfo) -> Expression:
    if isinstance(value, Expression):
        return value
    if not isinstance(value, str):
        raise ValueError("an expression must be a string")
    return Expression(value, _namespaces(info))


def _validate_value(value: Any, info: ValidationInfo) -> Evaluable:
    if isinstance(value, Expression | Template | Literal):
        return value
    if isinstance(value, str):
        if is_template(value):
            return Template(value, _namespaces(info))
        return Expression(value, _namespaces(info))
    if isinstance(value, dict | list):
        raise ValueError("a value is an expression string, a template string or a scalar")
    return Literal(value)


def _validate_template(value: Any, info: ValidationInfo) -> Template:
    if isinstance(value, Template):
        return value
    if not isinstance(value, str):
        raise ValueError("a template must be a string")
    return Template(value, _namespaces(info))


def _validate_xpath(value: Any, info: ValidationInfo) -> etree.XPath:
    if isinstance(value, etree.XPath):
        return value
    if not isinstance(value, str):
        raise ValueError("an XPath must be a string")
    return compile_xpath(value, tuple(sorted(_namespaces(info).items())))


def _source(value: Evaluable) -> Any:
    """How a compiled field is described (e.g. by the admin API): as it was written."""
    return value.value if isinstance(value, Literal) else value.source


def _xpath_source(value: etree.XPath) -> str:
    return str(value.path)


ExpressionField = Annotated[
    Expression,
    PlainValidator(_validate_expression),
    PlainSerializer(_source),
    WithJsonSchema({"type": "string", "description": "Jinja2 expression, e.g. doc.amount > 100"}),
]
ValueField = Annotated[
    Evaluable,
    PlainValidator(_validate_value),
    PlainSerializer(_source),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ],
            "description": "expression, template (contains {{ }}) or literal scalar",
        }
    ),
]
TemplateField = Annotated[
    Template,
    PlainValidator(_validate_template),
    PlainSerializer(_source),
    WithJsonSchema({"type": "string", "description": "Jinja2 template producing text"}),
]
XPathField = Annotated[
    etree.XPath,
    PlainValidator(_validate_xpath),
    PlainSerializer(_xpath_source),
    WithJsonSchema({"type": "string", "description": "XPath 1.0 expression"}),
]
