"""`http.request`: call an HTTP API through an `http` connection.

Retries (the shared policy of runtime/core/retry.py: exponential back-off, here with full
jitter) on connection errors, timeouts, 429 and 5xx, honouring `Retry-After` up to a cap;
a 401 refreshes OAuth2 tokens once. The response becomes the document, its status and
headers properties.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal

import aiohttp
from pydantic import Field, field_validator

from processes.connectors.base import ConnectorStep
from processes.connectors.bodies import body_bytes
from processes.connectors.http.connection import HttpClient
from processes.connectors.http.paths import header_value, path_template, request_path, under
from runtime.core import registry
from runtime.core.document import BodyKind, Document
from runtime.core.durations import Duration
from runtime.core.errors import WharfError
from runtime.core.expressions import Evaluable, Template, TemplateField, ValueField, variables
from runtime.core.retry import RetryPolicy, TryAgain, retrying
from runtime.core.secrets import redact_text
from runtime.core.step_context import step_token
from runtime.formats.codecs import MalformedBody, parse_json, parse_xml

if TYPE_CHECKING:
    from yarl import URL

    from runtime.core.components import StepContext

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_Reply = tuple[int, dict[str, str], str, bytes]  # status, headers (lower-case), type, body


class UpstreamError(WharfError):
    problem = "upstream-error"
    title = "Upstream error"


class HttpRetry(RetryPolicy):
    """The shared retry policy with defaults for calls: three attempts, full jitter."""

    attempts: int = Field(3, ge=1, le=10, description="Total attempts, the first included.")
    backoff: Duration = Field(0.5, description="Wait before the second attempt.")
    max_backoff: Duration = Field(30.0, description="Upper bound of any one wait.")
    jitter: bool = Field(True, description="Wait a random time between 0 and the back-off.")
    max_retry_after: Duration = Field(60.0, description="Longest `Retry-After` honoured.")


def _retry_after(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, cap))


@registry.step("http.request")
class HttpRequestStep(ConnectorStep):
    """Send one request per document; the response becomes the document (JSON, XML or raw
    by its content type), with `http_status` and `http_header_<name>` properties."""

    connector = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "POST"
    target: ValueField = Field(
        alias="path",
        description="Path after the base URL: a template (`/orders/{{ doc.id }}`: each value "
        "one percent-encoded segment, `/` in it as %2F) or an expression (`\"'/orders'\"`: "
        "split at `/`, each segment encoded). `.`/`..` segments are refused.",
    )
    query: dict[str, ValueField] = Field(default_factory=dict, description="Query parameters.")
    headers: dict[str, ValueField] = Field(default_factory=dict, description="Extra headers.")
    body: Literal["document", "none", "template"] = Field(
        "document", description="What to send: the document's body, nothing, or `template`."
    )
    template: TemplateField | None = Field(None, description="Body text when body is `template`.")
    media_type: str | None = Field(None, description="Content-Type of the request body.")
    retry: HttpRetry = Field(default_factory=lambda: HttpRetry(), description="Retry policy.")
    fail_on_status: bool = Field(True, description="A final status >= 400 fails the step.")
    idempotency_key: bool = Field(
        False,
        description="Send `Idempotency-Key: <step token>` (`:<n>` added per document when "
        "the step gets several): the same in every attempt of the execution, so an API that "
        "honours the header applies a re-run once.",
    )

    @field_validator("target")
    @classmethod
    def _values_as_segments(cls, value: Evaluable) -> Evaluable:
        if isinstance(value, Template):
            return path_template(value.source, value.namespaces)
        return value

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.connection_client(context)
        assert isinstance(client, HttpClient)
        several = len(documents) > 1
        return [
            await self._call(client, document, n if several else None)
            for n, document in enumerate(documents)
        ]

    def _payload(self, document: Document) -> tuple[bytes | None, str | None]:
        if self.body == "none" or self.method in ("GET", "HEAD"):
            return None, None
        if self.body == "template":
            assert self.template is not None
            return self.template.evaluate(
                variables(document)
            ).encode(), self.media_type or "text/plain"
        if document.kind is BodyKind.NONE:
            return None, None
        return body_bytes(document), self.media_type or document.media_type

    async def _call(self, client: HttpClient, document: Document, n: int | None) -> Document:
        names = variables(document)
        url = under(client.config.url(), request_path(self.target, names))
        if self.query:
            url = url.update_query({k: str(v.evaluate(names)) for k, v in self.query.items()})
        headers = {k: header_value(k, v.evaluate(names)) for k, v in self.headers.items()}
        if self.idempotency_key:
            headers.setdefault("Idempotency-Key", step_token(n))
        body, media_type = self._payload(document)
        if media_type:
            headers.setdefault("Content-Type", media_type)
        attempts, (status, response_headers, content_type, data) = await self._send(
            client, url, headers, body
        )
        if status >= 400 and self.fail_on_status:
            raise UpstreamError(
                f"{self.method} {url.path} answered {status} after {attempts} attempt(s)",
                status=502,
            )
        return self._response_document(document, status, response_headers, content_type, data)

    async def _send(
        self, client: HttpClient, url: URL, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, _Reply]:
        """The attempts made and the last reply, retried by the policy."""
        refreshed = False
        made = 0

        async def attempt(number: int) -> _Reply:
            nonlocal refreshed, made
            made = number
            while True:
                async with client.send(self.method, url, headers, body, refreshed) as response:
                    status = response.status
                    data = await response.read()
                    response_headers = {k.lower(): v for k, v in response.headers.items()}
                    content_type = response.content_type
                if status == 401 and not refreshed and _has_oauth(client):
                    refreshed = True  # one forced token refresh, not counted as an attempt
                    continue
                if status in RETRY_STATUSES and number < self.retry.attempts:
                    retry_after = response_headers.get("retry-after")
                    raise TryAgain(_retry_after(retry_after, self.retry.max_retry_after))
                return status, response_headers, content_type, data

        try:
            reply = await retrying(
                self.retry, attempt, retry_on=(aiohttp.ClientError, TimeoutError)
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = redact_text(f"{type(exc).__name__}: {exc}".splitlines()[0])
            raise UpstreamError(
                f"{self.method} {url.path} failed after {made} attempts: {reason}", status=502
            ) from None
        return made, reply

    def _response_document(
        self,
        document: Document,
        status: int,
        headers: dict[str, str],
        content_type: str,
        data: bytes,
    ) -> Document:
        result: Document
        try:
            if content_type == "application/json" or content_type.endswith("+json"):
                result = document.derive(
                    parse_json(data) if data else None, BodyKind.JSON, content_type
                )
            elif content_type in ("application/xml", "text/xml") or content_type.endswith("+xml"):
                result = document.derive(parse_xml(data), BodyKind.XML, content_type)
            else:
                result = document.derive(
                    data, BodyKind.RAW, content_type or "application/octet-stream"
                )
        except MalformedBody as exc:
            raise UpstreamError(f"the response is not valid: {exc.detail}", status=502) from None
        result.properties["http_status"] = status
        for name, value in headers.items():
            result.properties[f"http_header_{name}"] = value
        return result


def _has_oauth(client: HttpClient) -> bool:
    return any(getattr(c, "kind", None) == "oauth2" for c in client.config.credentials)
