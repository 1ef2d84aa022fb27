"""`split`: one document per item of a JSON expression result or per XPath match."""

from __future__ import annotations

import asyncio
import copy
import io
import itertools
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Literal

from lxml import etree
from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from runtime.core import registry
from runtime.core.components import Pipeline, Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.core.expressions import ExpressionField, XPathField, variables
from runtime.formats.xmlstream import compile_path, is_streamable, iter_elements

if TYPE_CHECKING:
    from runtime.core.components import StepContext
    from runtime.core.components import StepEntry as AnyStep

STREAMABLE = (BodyKind.RAW, BodyKind.TEXT, BodyKind.FILE)


def _take(parts: Iterator[Document], count: int) -> list[Document]:
    return list(itertools.islice(parts, count))


@registry.step("split")
class SplitStep(Step):
    """Split each document into several: one per item of `items` (JSON) or per `xpath` match
    (XML). New documents keep the properties and get `split_index` (and, unless streamed,
    `split_count`). Raw, text and file bodies are split *streaming* (path `/a/b` or `//b`),
    so a 200 MB file never sits in memory as a tree: give `steps` to run on each `batch`
    of parts as they are read, and `output: count` to keep only a tally."""

    items: ExpressionField | None = Field(
        None, description="Expression yielding a list, e.g. `doc.lines`."
    )
    xpath: XPathField | None = Field(
        None,
        description="XPath selecting elements, e.g. `/order/line` (namespaces from the process).",
    )
    steps: list[AnyStep] = Field(
        default_factory=list, description="Steps run on each batch of parts as they are split."
    )
    batch: int = Field(500, ge=1, le=100_000, description="Parts per batch for `steps`.")
    output: Literal["documents", "count"] = Field(
        "documents",
        description="`documents`: the parts (after `steps`); `count`: one JSON document "
        "`{parts, batches, documents_out}` instead, so memory stays bounded.",
    )

    _stream: tuple[bool, list[str]] | None = PrivateAttr(None)
    _pipeline: Pipeline | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _one_source(self, info: ValidationInfo) -> SplitStep:
        if (self.items is None) == (self.xpath is None):
            raise ValueError("give exactly one of `items` or `xpath`")
        if self.xpath is not None and is_streamable(self.xpath.path):
            namespaces = (info.context or {}).get("namespaces") or {}
            self._stream = compile_path(self.xpath.path, namespaces)
        return self

    def bind(self, path: str) -> None:
        super().bind(path)
        self._pipeline = Pipeline(self.steps, f"{path}.steps") if self.steps else None

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        result: list[Document] = []
        parts_seen = batches = produced = 0
        for document in documents:
            parts = self._parts(document)
            streamed = self._stream is not None and document.kind in STREAMABLE
            while True:
                # Streamed bodies are read and parsed in a worker thread, batch by batch,
                # so a large file never blocks the event loop.
                if streamed:
                    batch = await asyncio.to_thread(_take, parts, self.batch)
                else:
                    batch = _take(parts, self.batch)
                if not batch:
                    break
                parts_seen += len(batch)
                done = await self._finish(batch, context)
                produced, batches = produced + len(done), batches + 1
                if self.output == "documents":
                    result += done
        if self.output == "count":
            first = documents[0] if documents else Document.empty()
            tally = {"parts": parts_seen, "batches": batches, "documents_out": produced}
            return [first.derive_json(tally)]
        return result

    async def _finish(self, batch: list[Document], context: StepContext) -> list[Document]:
        if self._pipeline is None:
            return batch
        return await self._pipeline.run(batch, context)

    def _parts(self, document: Document) -> Iterator[Document]:
        if self._stream is not None and document.kind in STREAMABLE:
            yield from self._stream_parts(document)
        else:
            yield from self._split(document)

    def _stream_parts(self, document: Document) -> Iterator[Document]:
        assert self._stream is not None
        anywhere, names = self._stream
        source: IO[bytes]
        if document.kind is BodyKind.FILE:
            source = open(document.body, "rb")  # noqa: SIM115 - closed by the with below
        else:
            body = document.body.encode() if isinstance(document.body, str) else document.body
            source = io.BytesIO(body)
        with source:
            for index, element in enumerate(iter_elements(source, anywhere, names)):
                part = document.derive(element, BodyKind.XML, "application/xml")
                part.properties["split_index"] = index
                yield part

    def _split(self, document: Document) -> list[Document]:
        parts: list[Document] = []
        if self.items is not None:
            values = self.items.evaluate(variables(document))
            if not isinstance(values, list | tuple):
                raise DocumentError(
                    f"split items {self.items.source!r} gave {type(values).__name__}, not a list"
                )
            parts = [document.derive(value, BodyKind.JSON, "application/json") for value in values]
        else:
            if document.kind is not BodyKind.XML:
                raise DocumentError(f"split by xpath needs an XML document, not {document.kind}")
            assert self.xpath is not None
            matches: Any = self.xpath(document.body)
            if not isinstance(matches, list):
                raise DocumentError("split xpath must select elements")
            for match in matches:
                if not isinstance(match, etree._Element):
                    raise DocumentError("split xpath must select elements, not text or attributes")
                parts.append(
                    document.derive(copy.deepcopy(match), BodyKind.XML, document.media_type)
                )
        for index, part in enumerate(parts):
            part.properties["split_index"] = index
            part.properties["split_count"] = len(parts)
        return parts
