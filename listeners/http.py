"""The HTTP listener: a method and a path that start a process."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from pydantic import Field, field_validator

from listeners.requests import InputKind, documents_from_body, read_body, request_properties
from listeners.responses import execution_response
from runtime import registry
from runtime.components import TriggerConfig

if TYPE_CHECKING:
    from runtime.engine import Process
    from runtime.settings import Settings

_PATH = re.compile(r"^/([A-Za-z0-9._~!$&'()*+,;=:@%-]+|\{[A-Za-z_][A-Za-z0-9_]*\}|/)*$")
RESERVED = ("/api", "/healthz", "/readyz", "/metrics")


@registry.trigger("http")
class HttpTrigger(TriggerConfig):
    """Start the process when a request arrives at `method` `path`."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        "POST", description="HTTP method."
    )
    path: str = Field(
        description="URL path; `{name}` segments become `param_<name>` properties, "
        "e.g. `/orders/{tenant}`."
    )
    input: InputKind = Field(
        "json",
        description="What the body holds: `none`, `raw` (bytes), `json`, `xml`, `form` "
        "(urlencoded, becomes a JSON object), `json_multiple` (a JSON array is split into "
        "one document per item).",
    )
    mode: Literal["sync"] = Field(
        "sync", description="`sync`: the caller waits for the process result."
    )
    max_body: int | None = Field(
        None, ge=0, description="Body limit in bytes (413 above it); default: the server's."
    )

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        if not _PATH.match(value):
            raise ValueError(
                "a path starts with '/' and holds URL-safe segments or {name} parameters"
            )
        if any(value == r or value.startswith(r + "/") for r in RESERVED):
            raise ValueError(f"paths under {', '.join(RESERVED)} are reserved for Wharf itself")
        return value

    def route_key(self) -> tuple[str, str]:
        return self.method, self.path

    def mount(self, app: web.Application, process: Process, settings: Settings) -> None:
        listener = HttpListener(self, process, settings.max_body)
        app.router.add_route(self.method, self.path, listener.handle, name=process.name)


class HttpListener:
    """Handles the requests of one process's HTTP trigger."""

    def __init__(self, trigger: HttpTrigger, process: Process, default_max_body: int):
        self.trigger = trigger
        self.process = process
        self.max_body = trigger.max_body if trigger.max_body is not None else default_max_body

    async def handle(self, request: web.Request) -> web.StreamResponse:
        properties = request_properties(request)
        body = await read_body(request, self.max_body)
        content_type = request.content_type if body and "Content-Type" in request.headers else ""
        documents = documents_from_body(self.trigger.input, body, content_type, properties)
        result = await self.process.execute(documents, trigger="listener")
        return execution_response(result, self.process.definition.response)
