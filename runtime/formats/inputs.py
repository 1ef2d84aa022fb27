"""Input kinds: turning a body of a declared kind into a process's input documents.

Shared by listeners (at request time, so bad input is refused before anything is
accepted) and by the dispatcher (to rebuild documents from a request kept in the inbox).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Literal
from urllib.parse import parse_qsl

from runtime.core.document import Document
from runtime.core.errors import RequestError
from runtime.formats import exact_json
from runtime.formats.codecs import MalformedBody, parse_json, parse_xml

InputKind = Literal["none", "raw", "json", "xml", "form", "json_multiple"]

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")
FORM_TYPES = ("application/x-www-form-urlencoded",)


def _accepts(content_type: str, accepted: tuple[str, ...], suffix: str | None) -> bool:
    if content_type in accepted:
        return True
    return suffix is not None and content_type.endswith(suffix)


def _unsupported(content_type: str, expected: str) -> RequestError:
    shown = content_type or "none"
    return RequestError(
        f"this endpoint takes {expected}; the request's Content-Type is {shown}",
        status=415,
        problem="unsupported-media-type",
        title="Unsupported media type",
    )


def _malformed(exc: MalformedBody) -> RequestError:
    return RequestError(exc.detail, status=400, problem=exc.problem, title=exc.title)


def _missing_body(expected: str) -> RequestError:
    return RequestError(
        f"this endpoint needs a {expected} body and the request has none",
        status=400,
        problem="missing-body",
        title="Missing request body",
    )


def documents_from_body(
    kind: InputKind,
    body: bytes,
    content_type: str,
    properties: dict[str, Any],
    max_documents: int | None = None,
) -> list[Document]:
    """Build the process's input documents from a request body of the declared kind;
    a `json_multiple` array of more than `max_documents` items is refused (413)."""
    if kind == "none":
        if body:
            raise RequestError(
                "this endpoint takes no request body", status=400, problem="unexpected-body"
            )
        return [Document.empty(properties)]
    if kind == "raw":
        return [Document.raw(body, content_type or "application/octet-stream", properties)]
    try:
        if kind in ("json", "json_multiple"):
            if content_type and not _accepts(content_type, JSON_TYPES, "+json"):
                raise _unsupported(content_type, "JSON (application/json)")
            if not body.strip():
                raise _missing_body("JSON")
            value = parse_json(body)
            if kind == "json_multiple" and isinstance(value, list):
                if max_documents is not None and len(value) > max_documents:
                    count = len(value)
                    del value  # freed here (off the loop), not with the error's traceback
                    raise RequestError(
                        f"the request holds {count} documents, more than the limit of "
                        f"{max_documents}",
                        status=413,
                        problem="too-many-documents",
                        title="Too many documents",
                    )
                return [Document.json(item, properties) for item in value]
            return [Document.json(value, properties)]
        if kind == "xml":
            if content_type and not _accepts(content_type, XML_TYPES, "+xml"):
                raise _unsupported(content_type, "XML (application/xml or text/xml)")
            if not body.strip():
                raise _missing_body("XML")
            return [Document.xml(parse_xml(body), properties)]
    except MalformedBody as exc:
        raise _malformed(exc) from None
    # form
    if content_type and content_type not in FORM_TYPES:
        raise _unsupported(content_type, "a form (application/x-www-form-urlencoded)")
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise RequestError("the form body is not UTF-8", problem="malformed-form") from None
    form: dict[str, Any] = {}
    for name, value in fields:
        form.setdefault(name, value)
    return [Document.json(form, properties)]


def encode_request(
    kind: InputKind, body: bytes, media_type: str, properties: dict[str, Any]
) -> dict[str, Any]:
    """A request as the inbox keeps it (JSON-safe)."""
    return {
        "input": kind,
        "body": base64.b64encode(body).decode("ascii"),
        "media_type": media_type,
        "properties": properties,
    }


def encode_typed_request(value: Any, properties: dict[str, Any]) -> dict[str, Any]:
    """A typed JSON document (Decimals and all) as the inbox keeps it."""
    request = encode_request("json", exact_json.dumps(value), "application/json", properties)
    request["exact"] = True
    return request


# Not part of what a request *is*: headers (tracing ids, dates), where it came from, and the
# caller's credentials (the idempotency scope already says who the caller is).
_NOT_FINGERPRINTED = ("inheader_", "auth_", "jwt_", "inclientaddress", "client_subject")


def request_fingerprint(request: dict[str, Any]) -> str:
    """A hash of a kept request, to tell a resend (same hash) from another request reusing
    an idempotency key: input kind, media type, body, method, path, path and query
    parameters (and an Execute API call's properties)."""
    digest = hashlib.sha256()
    for part in (request.get("input"), request.get("media_type"), request.get("body")):
        digest.update(str(part).encode("utf-8") + b"\0")
    properties = request.get("properties") or {}
    for name in sorted(properties):
        if not name.startswith(_NOT_FINGERPRINTED):
            digest.update(f"{name}={properties[name]!r}".encode() + b"\0")
    return digest.hexdigest()


def documents_from_request(request: dict[str, Any]) -> list[Document]:
    """Rebuild the input documents of a request kept by `encode_request`."""
    body = base64.b64decode(request.get("body") or "")
    if request.get("exact"):
        return [Document.json(exact_json.loads(body), request["properties"])]
    return documents_from_body(
        request.get("input", "raw"), body, request.get("media_type", ""), request["properties"]
    )
