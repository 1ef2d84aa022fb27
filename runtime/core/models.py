"""The strict base model of every YAML configuration Wharf reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Strict config: unknown keys are errors, so typos are caught by `wharf validate`."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    if not TYPE_CHECKING:  # (hidden from mypy, which would then accept any attribute name)

        def __getattr__(self, name: str) -> Any:
            # Private attributes (compiled templates, bound pipelines...) are read on every
            # request; pydantic's own lookup of them costs about 1.3 us, this about 0.4 us.
            private = self.__pydantic_private__
            if private is not None and name in private:
                return private[name]
            return super().__getattr__(name)
