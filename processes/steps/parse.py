"""`parse`: turn a raw or text body into a JSON value or an XML tree."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.formats.codecs import MalformedBody, parse_json, parse_xml

if TYPE_CHECKING:
    from runtime.core.components import StepContext


class MalformedCSV(MalformedBody):
    problem = "malformed-csv"
    title = "Malformed CSV"


def parse_csv(data: bytes | str, delimiter: str = ",") -> list[dict[str, str]]:
    """One object per row, keyed by the header row. Strict: a row with more or fewer fields
    than the header is an error rather than a silently shifted record."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedCSV(f"the body is not UTF-8 text (byte {exc.start})") from None
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise MalformedCSV("the body is empty, a CSV header row was expected")
        if "" in header or len(set(header)) != len(header):
            raise MalformedCSV(f"the header row needs distinct, non-empty names: {header}")
        rows = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise MalformedCSV(
                    f"line {reader.line_num} has {len(row)} field(s), the header has {len(header)}"
                )
            rows.append(dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        raise MalformedCSV(f"the body is not valid CSV: line {reader.line_num}: {exc}") from None
    return rows


@registry.step("parse")
class ParseStep(Step):
    """Parse each document's raw/text body as JSON, XML (hardened: no DTDs, no entities) or
    CSV (UTF-8 with a header row: a JSON list with one object of strings per row)."""

    format: Literal["json", "xml", "csv"] = Field(description="The format the body is in.")
    delimiter: str = Field(
        ",", min_length=1, max_length=1, description="CSV field separator, e.g. `;`."
    )

    @model_validator(mode="after")
    def _delimiter_for_csv(self) -> ParseStep:
        if "delimiter" in self.model_fields_set and self.format != "csv":
            raise ValueError("`delimiter` applies to `format: csv` only")
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [self._parse(document) for document in documents]

    def _parse(self, document: Document) -> Document:
        if document.kind not in (BodyKind.RAW, BodyKind.TEXT):
            raise DocumentError(f"parse needs a raw or text body, this document is {document.kind}")
        if self.format == "json":
            return document.derive(parse_json(document.body), BodyKind.JSON, "application/json")
        if self.format == "csv":
            rows = parse_csv(document.body, self.delimiter)
            return document.derive(rows, BodyKind.JSON, "application/json")
        return document.derive(parse_xml(document.body), BodyKind.XML, "application/xml")
