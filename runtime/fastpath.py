"""A fast path for the most common expressions, with Jinja2's exact semantics.

Jinja2 builds a fresh render context on every call of a compiled expression, which costs
more than most mappings themselves. Expressions made only of names, attribute/item
access, constants, arithmetic, comparisons, `and`/`or`/`not`, `~` and conditionals
(`doc.customer.name`, `doc.amount * 1.2`, `doc.qty > 0 and not doc.void`) are turned here
into plain closures. They use the sandboxed environment's own `getattr`/`getitem` and
undefined objects, so results and errors are what Jinja2 would give. Anything else
(filters, tests, calls...) returns None and runs through Jinja2.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

Compiled = Callable[[Mapping[str, Any]], Any]

_BINARY: dict[type[nodes.Node], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: operator.sub,
    nodes.Mul: operator.mul,
    nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv,
    nodes.Mod: operator.mod,
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


def compile_fast(source: str, env: SandboxedEnvironment) -> Compiled | None:
    """A closure evaluating `source`, or None if it needs the full Jinja2 machinery."""
    template = env.parse("{{ " + source + " }}")
    if len(template.body) != 1 or not isinstance(template.body[0], nodes.Output):
        return None
    output = template.body[0].nodes
    if len(output) != 1:
        return None
    return _compile(output[0], env)


def _compile(node: nodes.Node, env: SandboxedEnvironment) -> Compiled | None:
    if isinstance(node, nodes.Const):
        value = node.value
        return lambda names: value
    if isinstance(node, nodes.Name):
        name = node.name
        undefined = env.undefined
        return lambda names: names[name] if name in names else undefined(name=name)
    if isinstance(node, nodes.Getattr):
        owner = _compile(node.node, env)
        if owner is None:
            return None
        attr, getattr_ = node.attr, env.getattr
        return lambda names: getattr_(owner(names), attr)
    if isinstance(node, nodes.Getitem):
        container = _compile(node.node, env)
        if container is None or not isinstance(node.arg, nodes.Const):
            return None
        key, getitem = node.arg.value, env.getitem
        return lambda names: getitem(container(names), key)
    if type(node) in _BINARY:
        assert isinstance(node, nodes.BinExpr)
        return _binary(node, env, _BINARY[type(node)])
    if isinstance(node, nodes.Neg | nodes.Not):
        operand = _compile(node.node, env)
        if operand is None:
            return None
        if isinstance(node, nodes.Neg):
            return lambda names: -operand(names)
        return lambda names: not operand(names)
    if isinstance(node, nodes.And):
        return _binary(node, env, None, short="and")
    if isinstance(node, nodes.Or):
        return _binary(node, env, None, short="or")
    if isinstance(node, nodes.Compare):
        return _compare(node, env)
    if isinstance(node, nodes.Concat):
        parts = [_compile(part, env) for part in node.nodes]
        if any(part is None for part in parts):
            return None
        ready = [part for part in parts if part is not None]
        return lambda names: "".join(str(part(names)) for part in ready)
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        test, yes, no = (_compile(n, env) for n in (node.test, node.expr1, node.expr2))
        if test is None or yes is None or no is None:
            return None
        return lambda names: yes(names) if test(names) else no(names)
    return None


def _binary(
    node: nodes.BinExpr,
    env: SandboxedEnvironment,
    op: Callable[[Any, Any], Any] | None,
    short: str | None = None,
) -> Compiled | None:
    left, right = _compile(node.left, env), _compile(node.right, env)
    if left is None or right is None:
        return None
    if short == "and":
        return lambda names: left(names) and right(names)
    if short == "or":
        return lambda names: left(names) or right(names)
    assert op is not None
    return lambda names: op(left(names), right(names))


def _compare(node: nodes.Compare, env: SandboxedEnvironment) -> Compiled | None:
    first = _compile(node.expr, env)
    steps = [(_COMPARE.get(operand.op), _compile(operand.expr, env)) for operand in node.ops]
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
