"""The `response:` section of a process: how its result answers the caller."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.core.expressions import ValueField


class ResponseConfig(BaseModel):
    """How the documents left at the end of the steps become the answer to the caller."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    status: int = Field(
        200, ge=100, le=599, description="HTTP status (a document's `outstatuscode` overrides it)."
    )
    headers: dict[str, ValueField] = Field(
        default_factory=dict,
        description="Headers to add, as values over the first document "
        "(a document's `outheader_<Name>` properties add more).",
    )
    media_type: str | None = Field(
        None, description="Content-Type of the answer; by default derived from the documents."
    )
    multiple: Literal["array", "first", "concat"] = Field(
        "array",
        description="How several documents answer: a JSON array / XML `<Response>` wrapper "
        "(`array`), only the first, or the bodies concatenated.",
    )
    empty_status: int = Field(
        204, ge=100, le=599, description="Status when no document reaches the end."
    )
