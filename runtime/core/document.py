"""The document: the unit that flows through a process's steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lxml import etree


class BodyKind(StrEnum):
    """What a document's body holds. Steps check it instead of guessing from types."""

    NONE = "none"  # no body (e.g. a GET with no input)
    RAW = "raw"  # bytes, not interpreted
    TEXT = "text"  # a str, e.g. template output (CSV, EDI, XML text)
    JSON = "json"  # any parsed JSON value
    XML = "xml"  # an lxml element (the root of a parsed tree)
    FILE = "file"  # a path to a (large) file, read as a stream by steps that can


@dataclass(slots=True)
class Document:
    body: Any
    kind: BodyKind
    media_type: str = "application/octet-stream"
    properties: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, properties: dict[str, Any] | None = None) -> Document:
        return cls(value, BodyKind.JSON, "application/json", dict(properties or {}))

    @classmethod
    def xml(cls, element: etree._Element, properties: dict[str, Any] | None = None) -> Document:
        return cls(element, BodyKind.XML, "application/xml", dict(properties or {}))

    @classmethod
    def text(
        cls, value: str, media_type: str = "text/plain", properties: dict[str, Any] | None = None
    ) -> Document:
        return cls(value, BodyKind.TEXT, media_type, dict(properties or {}))

    @classmethod
    def raw(
        cls,
        value: bytes,
        media_type: str = "application/octet-stream",
        properties: dict[str, Any] | None = None,
    ) -> Document:
        return cls(value, BodyKind.RAW, media_type, dict(properties or {}))

    @classmethod
    def file(
        cls,
        path: str,
        media_type: str = "application/octet-stream",
        properties: dict[str, Any] | None = None,
    ) -> Document:
        return cls(path, BodyKind.FILE, media_type, dict(properties or {}))

    @classmethod
    def empty(cls, properties: dict[str, Any] | None = None) -> Document:
        return cls(None, BodyKind.NONE, "", dict(properties or {}))

    def derive(self, body: Any, kind: BodyKind, media_type: str) -> Document:
        """A new document with another body and a copy of this one's properties."""
        return Document(body, kind, media_type, dict(self.properties))

    def derive_json(self, value: Any) -> Document:
        return Document(value, BodyKind.JSON, "application/json", dict(self.properties))

    def copy(self) -> Document:
        return Document(self.body, self.kind, self.media_type, dict(self.properties))
