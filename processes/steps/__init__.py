"""Built-in steps. Importing this package registers each of them."""

from processes.steps import (
    combine,
    delay,
    fail,
    map,
    parse,
    route,
    serialize,
    set,
    split,
    template,
    try_,
)

__all__ = [
    "combine",
    "delay",
    "fail",
    "map",
    "parse",
    "route",
    "serialize",
    "set",
    "split",
    "template",
    "try_",
]
