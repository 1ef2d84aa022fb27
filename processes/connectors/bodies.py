"""The bytes a document's body is sent or written as (`http`, `file`, `ftp`, `sftp`)."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.formats.codecs import serialize_json, serialize_xml


def body_bytes(document: Document) -> bytes:
    match document.kind:
        case BodyKind.RAW:
            return bytes(document.body)
        case BodyKind.TEXT:
            return str(document.body).encode("utf-8")
        case BodyKind.JSON:
            return serialize_json(document.body)
        case BodyKind.XML:
            return serialize_xml(document.body)
        case BodyKind.FILE:
            return Path(document.body).read_bytes()
    raise DocumentError("this document has no body to write")
