"""A fast path for the most common expressions, with Jinja2's exact semantics.

Jinja2 builds a fresh render context on every call of a compiled expression, which costs
more than most mappings themselves. Expressions made of names, attribute/item access,
constants, lists and dicts, arithmetic, comparisons, `and`/`or`/`not`, `~`, conditionals,
filters and tests (`doc.amount * 1.2`, `doc.lines | default([]) | length`,
`doc.note is defined`) and calls of Wharf's own functions (`xpath(...)`) are turned here
into plain closures. They go through the sandboxed environment's own `getattr`,
`getitem`, `call_filter` and `call_test` and its undefined objects, so results and
errors are what Jinja2 would give: tests/runtime/core/test_fastpath.py and
test_fastpath_vs_jinja.py (every shape over a corpus of values) compare the two.
Context filters (`map`, `select`...) get a render context made for their call only.
Anything else returns None and runs through Jinja2.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Context, new_context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

Compiled = Callable[[Mapping[str, Any]], Any]
_DICT_ATTRIBUTES = frozenset(dir(dict))


def exact_arithmetic(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`op`, which also takes a Decimal with a float (`doc.amount * 1.2` on an exact
    `decimal` field): the float becomes the Decimal of its shortest text, so the result
    stays exact. Plain Python refuses the mix; the check runs only when it does."""

    def apply(left: Any, right: Any) -> Any:
        try:
            return op(left, right)
        except TypeError:
            if isinstance(left, Decimal) and isinstance(right, float):
                return op(left, Decimal(repr(right)))
            if isinstance(right, Decimal) and isinstance(left, float):
                return op(Decimal(repr(left)), right)
            raise

    return apply


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    symbol: exact_arithmetic(op)
    for symbol, op in (
        ("+", operator.add),
        ("-", operator.sub),
        ("*", operator.mul),
        ("/", operator.truediv),
        ("//", operator.floordiv),
        ("%", operator.mod),
    )
}
_BINARY: dict[type[nodes.Node], Callable[[Any, Any], Any]] = {
    nodes.Add: ARITHMETIC["+"],
    nodes.Sub: ARITHMETIC["-"],
    nodes.Mul: ARITHMETIC["*"],
    nodes.Div: ARITHMETIC["/"],
    nodes.FloorDiv: ARITHMETIC["//"],
    nodes.Mod: ARITHMETIC["%"],
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}


def compile_fast(
    source: str,
    env: SandboxedEnvironment,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Compiled | None:
    """A closure evaluating `source`, or None if it needs the full Jinja2 machinery.

    `functions` are globals that may be called on the fast path (Wharf's own `xpath`...,
    which take a context mapping first); `context` holds the extra names they read."""
    template = env.parse("{{ " + source + " }}")
    if len(template.body) != 1 or not isinstance(template.body[0], nodes.Output):
        return None
    output = template.body[0].nodes
    if len(output) != 1:
        return None
    return _Compiler(env, functions or {}, context or {}).compile(output[0])


class _Compiler:
    def __init__(
        self,
        env: SandboxedEnvironment,
        functions: Mapping[str, Callable[..., Any]],
        context: Mapping[str, Any],
    ):
        self.env = env
        self.functions = functions
        self.context = context

    def compile(self, node: nodes.Node) -> Compiled | None:
        return _compile(node, self)

    def render_context(self, names: Mapping[str, Any]) -> Context:
        """The context a compiled Jinja2 expression would run in."""
        return new_context(self.env, None, {}, {**names, **self.context}, False, self.env.globals)

    def arguments(
        self, node: nodes.Filter | nodes.Test | nodes.Call
    ) -> tuple[list[Compiled], dict[str, Compiled]] | None:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            return None
        args = [self.compile(arg) for arg in node.args]
        kwargs: dict[str, Compiled | None] = {}
        for keyword in node.kwargs:
            if not isinstance(keyword, nodes.Keyword):
                return None
            kwargs[keyword.key] = self.compile(keyword.value)
        if any(a is None for a in args) or any(v is None for v in kwargs.values()):
            return None
        return [a for a in args if a is not None], {k: v for k, v in kwargs.items() if v}


def _filter_or_test(node: nodes.Filter | nodes.Test, compiler: _Compiler) -> Compiled | None:
    env = compiler.env
    table = env.filters if isinstance(node, nodes.Filter) else env.tests
    function = table.get(node.name)
    if function is None or node.node is None:
        return None
    value = compiler.compile(node.node)
    arguments = compiler.arguments(node)
    if value is None or arguments is None:
        return None
    args, kwargs = arguments
    name = node.name
    call = env.call_filter if isinstance(node, nodes.Filter) else env.call_test
    if getattr(function, "jinja_pass_arg", None) is _PassArg.context:
        # `map`, `select`, `selectattr`, `random`...: they read the environment and the
        # names through a render context, made here only for them, as Jinja2 makes one.
        make_context = compiler.render_context
        return lambda names: call(
            name,
            value(names),
            [arg(names) for arg in args],
            {key: kwarg(names) for key, kwarg in kwargs.items()},
            context=make_context(names),
        )
    return lambda names: call(
        name,
        value(names),
        [arg(names) for arg in args],
        {key: kwarg(names) for key, kwarg in kwargs.items()},
    )


def _call(node: nodes.Call, compiler: _Compiler) -> Compiled | None:
    if not isinstance(node.node, nodes.Name) or node.node.name not in compiler.functions:
        return None
    function = compiler.functions[node.node.name]
    arguments = compiler.arguments(node)
    if arguments is None:
        return None
    args, kwargs = arguments
    extra = compiler.context
    return lambda names: function(
        {**names, **extra},
        *(arg(names) for arg in args),
        **{key: kwarg(names) for key, kwarg in kwargs.items()},
    )


def _compile(node: nodes.Node, compiler: _Compiler) -> Compiled | None:
    """A closure for `node`, or None when some part of it needs Jinja2 itself."""
    binary = _BINARY.get(type(node))
    if binary is not None:
        assert isinstance(node, nodes.BinExpr)
        return _binary(node, compiler, binary)
    # Exact types: none of these node classes has subclasses in Jinja2.
    handler = _HANDLERS.get(type(node))
    return None if handler is None else handler(node, compiler)


def _sequence(node: nodes.List | nodes.Tuple, compiler: _Compiler) -> Compiled | None:
    items = [_compile(item, compiler) for item in node.items]
    if any(item is None for item in items):
        return None
    ready = [item for item in items if item is not None]
    if isinstance(node, nodes.Tuple):
        return lambda names: tuple(item(names) for item in ready)
    return lambda names: [item(names) for item in ready]


def _dict(node: nodes.Dict, compiler: _Compiler) -> Compiled | None:
    pairs = [(_compile(p.key, compiler), _compile(p.value, compiler)) for p in node.items]
    if any(k is None or v is None for k, v in pairs):
        return None
    ready_pairs = [(k, v) for k, v in pairs if k is not None and v is not None]
    return lambda names: {k(names): v(names) for k, v in ready_pairs}


def _const(node: nodes.Const, compiler: _Compiler) -> Compiled | None:
    value = node.value
    return lambda names: value


def _name(node: nodes.Name, compiler: _Compiler) -> Compiled | None:
    env, name = compiler.env, node.name
    undefined = env.undefined
    if name in env.globals:  # a render context finds the globals after the names
        fallback = env.globals[name]
        return lambda names: names.get(name, fallback)
    return lambda names: names[name] if name in names else undefined(name=name)


def _getattr(node: nodes.Getattr, compiler: _Compiler) -> Compiled | None:
    owner = _compile(node.node, compiler)
    if owner is None:
        return None
    attr, getattr_ = node.attr, compiler.env.getattr
    if attr in _DICT_ATTRIBUTES:
        return lambda names: getattr_(owner(names), attr)

    def get(names: Mapping[str, Any]) -> Any:
        # A JSON object's key, without the sandbox's attribute probing: for a dict and
        # a name that is no dict attribute, Jinja2 would land on the item just the same.
        value = owner(names)
        if type(value) is dict and attr in value:
            return value[attr]
        return getattr_(value, attr)

    return get


def _getitem(node: nodes.Getitem, compiler: _Compiler) -> Compiled | None:
    container = _compile(node.node, compiler)
    if container is None or not isinstance(node.arg, nodes.Const):
        return None
    key, getitem = node.arg.value, compiler.env.getitem
    return lambda names: getitem(container(names), key)


def _unary(node: nodes.Neg | nodes.Not, compiler: _Compiler) -> Compiled | None:
    operand = _compile(node.node, compiler)
    if operand is None:
        return None
    if isinstance(node, nodes.Neg):
        return lambda names: -operand(names)
    return lambda names: not operand(names)


def _concat(node: nodes.Concat, compiler: _Compiler) -> Compiled | None:
    parts = [_compile(part, compiler) for part in node.nodes]
    if any(part is None for part in parts):
        return None
    ready = [part for part in parts if part is not None]
    return lambda names: "".join(str(part(names)) for part in ready)


def _conditional(node: nodes.CondExpr, compiler: _Compiler) -> Compiled | None:
    if node.expr2 is None:  # `a if b` without else: Jinja2's undefined, left to Jinja2
        return None
    test, yes, no = (_compile(n, compiler) for n in (node.test, node.expr1, node.expr2))
    if test is None or yes is None or no is None:
        return None
    return lambda names: yes(names) if test(names) else no(names)


def _binary(
    node: nodes.BinExpr,
    compiler: _Compiler,
    op: Callable[[Any, Any], Any] | None,
    short: str | None = None,
) -> Compiled | None:
    left, right = _compile(node.left, compiler), _compile(node.right, compiler)
    if left is None or right is None:
        return None
    if short == "and":
        return lambda names: left(names) and right(names)
    if short == "or":
        return lambda names: left(names) or right(names)
    assert op is not None
    return lambda names: op(left(names), right(names))


def _compare(node: nodes.Compare, compiler: _Compiler) -> Compiled | None:
    first = _compile(node.expr, compiler)
    steps = [(_COMPARE.get(o.op), _compile(o.expr, compiler)) for o in node.ops]
    if first is None or any(op is None or expr is None for op, expr in steps):
        return None
    chain = [(op, expr) for op, expr in steps if op is not None and expr is not None]

    def compare(names: Mapping[str, Any]) -> Any:
        left = first(names)
        for op, expr in chain:
            right = expr(names)
            if not op(left, right):
                return False
            left = right
        return True

    return compare


_HANDLERS: dict[type[nodes.Node], Callable[[Any, _Compiler], Compiled | None]] = {
    nodes.Filter: _filter_or_test,
    nodes.Test: _filter_or_test,
    nodes.Call: _call,
    nodes.List: _sequence,
    nodes.Tuple: _sequence,
    nodes.Dict: _dict,
    nodes.Const: _const,
    nodes.Name: _name,
    nodes.Getattr: _getattr,
    nodes.Getitem: _getitem,
    nodes.Neg: _unary,
    nodes.Not: _unary,
    nodes.And: lambda node, compiler: _binary(node, compiler, None, short="and"),
    nodes.Or: lambda node, compiler: _binary(node, compiler, None, short="or"),
    nodes.Compare: _compare,
    nodes.Concat: _concat,
    nodes.CondExpr: _conditional,
}
