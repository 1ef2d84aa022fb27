"""Built-in steps. Importing this package registers each of them."""

from processes.steps import (
    combine,
    delay,
    fail,
    json_to_xml,
    map,
    parse,
    route,
    serialize,
    set,
    split,
    template,
    try_,
    validate,
    xml_to_json,
    xpath,
    xslt,
)

__all__ = [
    "combine",
    "delay",
    "fail",
    "json_to_xml",
    "map",
    "parse",
    "route",
    "serialize",
    "set",
    "split",
    "template",
    "try_",
    "validate",
    "xml_to_json",
    "xpath",
    "xslt",
]
