"""`lookup`: find a record in a cross-reference table (a CSV or JSON file)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import Document
from runtime.core.expressions import ExpressionField, variables
from runtime.formats.schemas import resolve

if TYPE_CHECKING:
    from runtime.core.components import StepContext


def _read_table(path: Path) -> list[dict[str, Any]]:
    try:
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        rows = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read table {path.name}: {exc.strerror}") from None
    except (orjson.JSONDecodeError, csv.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read table {path.name}: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"table {path.name} must be a JSON list of objects")
    return rows


@registry.step("lookup")
class LookupStep(Step):
    """Look each document's key up in a table loaded once at start (a CSV file with a
    header row, or a JSON list of objects) — a cross-reference table, e.g. partner codes
    or a small master-data extract. The matching row (or null) goes into a property."""

    table: str = Field(description="CSV or JSON file, relative to the process file.")
    key: str = Field(description="The table column to match.")
    value: ExpressionField = Field(description="The value to look up, e.g. `doc.customerId`.")
    into: str = Field(description="Property that receives the row (null when none matches).")

    _index: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> LookupStep:
        rows = _read_table(resolve((info.context or {}).get("base_dir"), self.table))
        if rows and self.key not in rows[0]:
            raise ValueError(f"table {self.table!r} has no column {self.key!r}")
        self._index = {str(row.get(self.key)): row for row in rows}
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        for document in documents:
            found = self._index.get(str(self.value.evaluate(variables(document))))
            document.properties[self.into] = dict(found) if found is not None else None
        return documents
