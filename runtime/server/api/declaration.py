"""One declaration per admin route: it mounts the handler and describes the operation.

The OpenAPI document (`runtime.server.openapi`) is generated from these declarations, so
a route is never served undocumented nor documented unserved. Bodies and parameters are
pydantic models that only describe: the handlers read requests and write answers as
before, and the tests hold both to the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from runtime.security.admin import add_admin_route
from runtime.web.routes import Handler

# The guard answers these on every admin route; the document adds them itself.
GUARD_STATUSES = (401, 403)
_PLACEHOLDER = re.compile(r"{(\w+)}")


def optional(
    description: str | None = None, *, ge: int | None = None, alias: str | None = None
) -> Any:
    """A field the body or query may leave out (`None` is not a value it takes: a field
    that may be null says so in its type); `ge` is a lower bound, `alias` its name."""
    return Field(None, description=description, ge=ge, alias=alias)


@dataclass(frozen=True)
class Reply:
    """One documented success answer: what it means, its JSON body, its headers."""

    description: str
    body: type[BaseModel]
    headers: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class AdminRoute:
    """An admin operation: where it is mounted, who answers, and what it takes and gives.

    `problems` are the statuses it answers with a problem body besides the guard's 401 and
    403; `path_params`, `query` and `headers` are models whose fields are the parameters;
    `operation_id` defaults to the handler's name in camelCase.
    """

    method: str
    path: str
    handler: Handler
    summary: str
    replies: Mapping[int, Reply]
    problems: tuple[int, ...] = ()
    description: str | None = None
    path_params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    operation_id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.operation_id:
            head, *rest = self.handler.__name__.split("_")
            object.__setattr__(self, "operation_id", head + "".join(w.title() for w in rest))
        placeholders = set(_PLACEHOLDER.findall(self.path))
        declared = set(self.path_params.model_fields) if self.path_params else set()
        if placeholders != declared:
            raise ValueError(f"{self.path}: path_params declares {sorted(declared)}")
        clash = set(self.replies) & {*self.problems, *GUARD_STATUSES}
        if clash:
            raise ValueError(f"{self.method} {self.path}: {sorted(clash)} are problems")


def add_admin_routes(app: web.Application, routes: Iterable[AdminRoute]) -> None:
    """Mount each declared route behind the admin guard."""
    for route in routes:
        add_admin_route(app, route.method, route.path, route.handler)
