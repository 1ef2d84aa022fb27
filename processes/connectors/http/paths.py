"""Request paths under an `http` connection's base URL, built so caller values cannot leave
it, and header values that cannot start headers of their own.

`http.request`'s `path` is either a template or an expression:

* a template (`"/orders/{{ doc.id }}"`): each `{{ }}` value is one path segment,
  percent-encoded whole (`/` becomes `%2F`, `%` becomes `%25`); a value that is empty,
  `.` or `..` is refused;
* an expression (`doc.p`, `"'/orders/' ~ doc.id"`): Wharf cannot tell caller text from
  the process's own, so the whole result is treated as data: split at `/` into segments,
  each percent-encoded whole; a `.` or `..` segment is refused.

Either way the final URL's path is checked to stay under the base URL's path. A header
value with a line break or another control character (but tab) is refused.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from yarl import URL

from processes.connectors.paths import PathRefused
from runtime.core.errors import WharfError
from runtime.core.expressions import Evaluable, Template

# Control characters other than tab end a header line (CR, LF) or are refused by servers.
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# RFC 3986 pchar minus "%": everything else in a segment is percent-encoded.
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"


def encode_segment(value: Any) -> str:
    """One caller value as one path segment (a template's `{{ }}` output)."""
    text = "" if value is None else str(value)
    if text in ("", ".", ".."):
        raise PathRefused(f"a value in the request path may not be {text!r}")
    return quote(text, safe=_SEGMENT_SAFE)


def path_template(source: str, namespaces: dict[str, str] | None = None) -> Template:
    """A `path` template whose `{{ }}` values are encoded as single segments."""
    return Template(source, namespaces, finalize=encode_segment)


def request_path(target: Evaluable, names: dict[str, Any]) -> str:
    """The evaluated `path`, percent-encoded, with no dot segments (else PathRefused)."""
    value = target.evaluate(names)
    if isinstance(target, Template):
        # Values are encoded by `encode_segment`; the process's own text is encoded here,
        # keeping its `/` and the values' `%XX`.
        return quote(str(value), safe=_SEGMENT_SAFE + "/%")
    segments = str(value).split("/")
    for segment in segments:
        if segment in (".", ".."):
            raise PathRefused(f"the path {str(value)[:200]!r} has a {segment!r} segment")
    return "/".join(quote(segment, safe=_SEGMENT_SAFE) for segment in segments)


def under(base: URL, path: str) -> URL:
    """`base` with the encoded `path` appended (`/v1` + `/orders` = `/v1/orders`), refused
    if the result has a dot segment or leaves the base path."""
    prefix = base.raw_path.rstrip("/")
    joined = prefix + "/" + path.lstrip("/")
    url = base.with_path(joined, encoded=True, keep_query=True)
    decoded = [unquote(segment) for segment in url.raw_path.split("/")]
    if any(segment in (".", "..") for segment in decoded) or not (
        url.raw_path == prefix or url.raw_path.startswith(prefix + "/")
    ):
        raise PathRefused(f"the path {path[:200]!r} leaves the connection's base URL")
    return url


class HeaderRefused(WharfError):
    status = 400
    problem = "header-refused"
    title = "Header refused"


def header_value(name: str, value: Any) -> str:
    """A header value from a process's expression: caller text with a line break in it
    would start a header of its own (header injection), so it is refused as bad input."""
    text = "" if value is None else str(value)
    if _HEADER_CONTROL.search(text):
        raise HeaderRefused(f"the value of header {name!r} holds a line break or control character")
    return text
