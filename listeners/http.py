"""The HTTP listener: a method and a path that start a process."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import Field, field_validator

from listeners.gate import BYTES_IN, add_listener_route, gate_for, idempotency_scope
from listeners.paths import LISTENER_PATH, check_not_reserved
from listeners.requests import read_body, request_properties
from runtime.core import registry
from runtime.core.components import TriggerConfig
from runtime.core.document import Document
from runtime.core.durations import Duration
from runtime.core.expressions import ValueField, variables
from runtime.core.offload import INLINE_BELOW, off_loop
from runtime.dispatch.dispatcher import Pending, parse_max_wait
from runtime.formats.inputs import (
    InputKind,
    documents_from_body,
    encode_request,
    request_fingerprint,
)
from runtime.security.config import AuthSpec
from runtime.traffic.config import TrafficConfig
from runtime.web.answers import accepted_response, execution_response

if TYPE_CHECKING:
    from listeners.context import MountContext
    from runtime.core.engine import Process
    from runtime.security.guard import Principal

IDEMPOTENCY_HEADER = "inheader_idempotency-key"


@registry.trigger("http")
class HttpTrigger(TrafficConfig, TriggerConfig):
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
    mode: Literal["sync", "async"] = Field(
        "sync",
        description="`sync`: the caller waits for the process result. `async`: the request "
        "is stored durably, the caller gets 202 with the execution id and a status URL, and a "
        "worker runs the process (again after a crash: the record's `attempt` counts the runs "
        "and `attempts` keeps each one's outcome).",
    )
    max_wait: Duration | None = Field(
        None,
        description="`sync` only: after this long, answer 202 with `X-Execution-Id` and "
        "`X-Execution-Status-Link` while the execution goes on (callers may send "
        "`X-Max-Wait: <ms>`).",
    )
    idempotency_key: ValueField | None = Field(
        None,
        description="`async` only: value over the request identifying a delivery, e.g. "
        "`xpath('//sf:Notification/sf:Id')`; a repeated key from the same caller returns the "
        "first execution. Default: the `Idempotency-Key` header, when sent; that key is bound "
        "to its request (another body under a used key: 422). Keys are per caller (API key, "
        "user, JWT subject, client certificate); `auth: none` callers share one scope.",
    )
    max_body: int | None = Field(
        None, ge=0, description="Body limit in bytes (413 above it); default: the server's."
    )
    auth: AuthSpec | None = Field(
        None,
        description="Who may call: `none` (public), or any of `api_key`, `basic`, `jwt`, "
        "`signature`, `mtls`; default: security.yaml's `defaults.auth`.",
    )

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        if not LISTENER_PATH.match(value):
            raise ValueError(
                "a path starts with '/' and holds URL-safe segments or {name} parameters"
            )
        check_not_reserved(value)
        names = re.findall(r"\{([^}]*)\}", value)
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"path parameter(s) {', '.join(repeated)} appear more than once")
        return value

    def route_key(self) -> tuple[str, str]:
        return self.method, self.path

    def mount(self, process: Process, context: MountContext) -> None:
        listener = HttpListener(self, process, context)
        add_listener_route(
            context.app, self.method, self.path, listener.handle, process.name, context, self
        )


class HttpListener:
    """Handles the requests of one process's HTTP trigger."""

    def __init__(self, trigger: HttpTrigger, process: Process, context: MountContext):
        self.trigger = trigger
        self.process = process
        self.dispatcher = context.dispatcher
        default = context.settings.max_body
        self.max_body = trigger.max_body if trigger.max_body is not None else default
        self.max_documents = context.settings.max_documents
        self.gate = gate_for(trigger.auth, trigger, process, context)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        gate = self.gate
        principal = gate.open_principal  # public and unlimited: nothing to check
        try:
            if principal is None and not gate.needs_body:
                principal = await gate.admit(request)
            properties = request_properties(request)
            if gate.guard.credential_properties:
                gate.guard.strip_credentials(properties)
            body = await read_body(request, self.max_body)
            request[BYTES_IN] = len(body)
            if principal is None:
                principal = await gate.admit(request, body)
            if principal.properties:
                properties.update(principal.properties)
            return await self._run(request, body, properties, principal)
        finally:
            if gate.busy is not None:
                gate.release(request)

    async def _run(
        self, request: web.Request, body: bytes, properties: dict[str, Any], principal: Principal
    ) -> web.StreamResponse:
        content_type = request.content_type if body and "Content-Type" in request.headers else ""
        kind = self.trigger.input

        # Parsing first refuses bad input with a 4xx before anything is accepted; large
        # bodies are parsed off the event loop (small ones inline, without a coroutine).
        def parse() -> list[Document]:
            return documents_from_body(kind, body, content_type, properties, self.max_documents)

        documents = parse() if len(body) < INLINE_BELOW else await off_loop(parse, len(body))
        if self.trigger.mode == "async":
            stored = encode_request(kind, body, content_type, properties)
            # A key the caller sends is bound to its request; a key the process takes
            # from the body names the delivery by itself.
            key = self._idempotency_key(documents)
            from_caller = key is not None and self.trigger.idempotency_key is None
            accepted = await self.dispatcher.accept(
                self.process,
                stored,
                idempotency_key=key,
                idempotency_scope=idempotency_scope(principal),
                request_hash=request_fingerprint(stored) if from_caller else None,
            )
            return accepted_response(accepted.execution_id, duplicate=accepted.duplicate)
        max_wait = parse_max_wait(request.headers.get("X-Max-Wait"), self.trigger.max_wait)
        outcome = await self.dispatcher.run(self.process, documents, max_wait=max_wait)
        if isinstance(outcome, Pending):
            return accepted_response(outcome.execution_id)
        return execution_response(outcome, self.process.definition.response)

    def _idempotency_key(self, documents: list[Document]) -> str | None:
        if not documents:
            return None
        first = documents[0]
        if self.trigger.idempotency_key is None:
            value = first.properties.get(IDEMPOTENCY_HEADER)
        else:
            value = self.trigger.idempotency_key.evaluate(variables(first))
        return None if value is None or value == "" else str(value)
