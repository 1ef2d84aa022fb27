"""From an execution to its stored record, at the process's `record:` level.

* `full`: the record, its step trace and the input/output documents (redacted);
* `summary` (default): the record and its trace;
* `errors`: the record for every execution; trace and input documents only for failures.

Redaction replaces the value of any JSON key or property named in the process's
`redact:` list (case-insensitive) with `"***"`, at any depth; and every secret value the
runtime resolved or obtained (`runtime.core.secrets`) is scrubbed from the whole record:
documents, properties, trace and error (an upstream may echo a credential back).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, Literal

from lxml import etree

from runtime.core import secrets
from runtime.core.document import BodyKind, Document
from runtime.core.engine import Execution, ExecutionStatus
from runtime.store import ExecutionRecord

RecordLevel = Literal["full", "summary", "errors"]
REDACTED = "***"
MAX_CAPTURED_BODY = 256 * 1024  # bytes of one document body kept in a record


def redact(value: Any, names: frozenset[str]) -> Any:
    if not names:
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED if str(key).lower() in names else redact(item, names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, names) for item in value]
    return value


def snapshot(document: Document, names: frozenset[str]) -> dict[str, Any]:
    """A JSON-safe copy of a document for an execution record."""
    body: Any
    match document.kind:
        case BodyKind.JSON:
            body = redact(document.body, names)
        case BodyKind.XML:
            body = etree.tostring(document.body, encoding="unicode")
        case BodyKind.TEXT:
            body = document.body
        case BodyKind.RAW:
            kept = secrets.redact_bytes(bytes(document.body[:MAX_CAPTURED_BODY]))
            body = base64.b64encode(kept).decode("ascii")
        case _:
            body = None
    truncated = isinstance(body, str) and len(body) > MAX_CAPTURED_BODY
    if truncated:
        body = body[:MAX_CAPTURED_BODY]
    return {
        "kind": str(document.kind),
        "media_type": document.media_type,
        "properties": secrets.redact_value(redact(_json_safe(document.properties), names)),
        "body": secrets.redact_value(body),
        "truncated": truncated,
    }


def _json_safe(properties: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in properties.items():
        if isinstance(value, str | int | float | bool | type(None) | list | dict):
            safe[key] = value
        else:
            safe[key] = str(value)
    return safe


def snapshots(documents: list[Document], redact_names: Iterable[str]) -> list[dict[str, Any]]:
    """Snapshots of input documents, taken before the steps run (steps change properties)."""
    names = frozenset(name.lower() for name in redact_names)
    return [snapshot(document, names) for document in documents]


def execution_record(
    execution: Execution,
    level: RecordLevel,
    *,
    redact_names: Iterable[str] = (),
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[Document] | None = None,
    created_at: float | None = None,
    parent_id: str | None = None,
    idempotency_key: str | None = None,
    attempts: list[dict[str, Any]] | None = None,
) -> ExecutionRecord:
    names = frozenset(name.lower() for name in redact_names)
    failed = execution.status is ExecutionStatus.FAILED
    keep_trace = level in ("full", "summary") or failed
    keep_input = level == "full" or (level == "errors" and failed)
    started = execution.started_at
    return ExecutionRecord(
        id=execution.id,
        process=execution.process,
        trigger=execution.started_by,
        status=str(execution.status),
        created_at=created_at if created_at is not None else (started or 0.0),
        started_at=started,
        finished_at=execution.finished_at,
        duration_ms=execution.duration_ms,
        documents_in=execution.documents_in,
        documents_out=execution.documents_out,
        error=secrets.redact_value(execution.error_summary()),
        trace=[secrets.redact_value(entry.as_dict()) for entry in execution.trace]
        if keep_trace
        else [],
        input=secrets.redact_value(inputs) if keep_input else None,
        output=[snapshot(d, names) for d in outputs]
        if level == "full" and outputs is not None
        else None,
        parent_id=parent_id,
        idempotency_key=idempotency_key,
        attempt=execution.attempt,
        attempts=attempts or [],
        token_root=execution.token_root,
    )
