"""Request paths under an `http` connection's base URL, built so caller values cannot leave it.

`http.request`'s `path` is either a template or an expression:

* a template (`"/orders/{{ doc.id }}"`): each `{{ }}` value is one path segment,
  percent-encoded whole (`/` becomes `%2F`, `%` becomes `%25`); a value that is empty,
  `.` or `..` is refused;
* an expression (`doc.p`, `"'/orders/' ~ doc.id"`): Wharf cannot tell caller text from
  the process's own, so the whole result is treated as data: split at `/` into segments,
  each percent-encoded whole; a `.` or `..` segment is refused.

Either way the final URL's path is checked to stay under the base URL's path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from yarl import URL

from processes.connectors.paths import PathRefused
from runtime.expressions import Evaluable, Template

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
