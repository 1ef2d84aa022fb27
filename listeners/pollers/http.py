"""The `http.poll` trigger: GET a URL on a schedule and run the process on the response.

Conditional requests make polling cheap for both sides: the ETag and Last-Modified of the
last response whose execution succeeded are sent back, and a 304 means nothing changed (an
idle fire, no execution). They are saved only after success, so a failed run gets the
same content again on the next fire.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from yarl import URL

from processes.connectors.base import check_connection_name
from processes.connectors.http import HttpClient, HttpPollError, Polled, PollGetter, join, shown
from runtime.core import registry, secrets
from runtime.core.document import Document
from runtime.core.durations import Duration
from runtime.core.errors import RequestError
from runtime.formats.inputs import documents_from_body
from runtime.schedules.sources import Batch, Fire, Source
from runtime.schedules.timing import ScheduleContext, TimedTrigger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from runtime.core.connections import Connections
    from runtime.core.engine import Process

VALIDATORS_KEY = "validators"


@registry.trigger("http.poll")
class HttpPollTrigger(TimedTrigger):
    """GET a URL on a schedule (through an `http` connection, or a plain `url`) and run
    the process on the response body, read as `input`. With `conditional` (the default)
    the ETag / Last-Modified of the last successfully processed response are sent back as
    If-None-Match / If-Modified-Since; a 304 runs nothing. Any other non-2xx status or a
    network error fails the fire. Properties: `http_status`, `http_etag`,
    `http_header_<name>` (lower case) for each response header, `schedule_slot`,
    `schedule_kind`."""

    execution_trigger: ClassVar[str] = "poll"
    connector: ClassVar[str] = "http"  # the kind of its connections (listed in the docs)

    connection: str | None = Field(
        None, description="Name of an `http` connection (base URL, credentials, headers)."
    )
    path: str | None = Field(None, description="With `connection`: the path after its base URL.")
    url: str | None = Field(
        None, description="Without a connection: the full URL (may hold `${env:NAME}`)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers; values may hold `${env:NAME}`."
    )
    input: Literal["json", "xml", "raw", "text"] = Field(
        "json", description="How the response body becomes the document."
    )
    conditional: bool = Field(
        True, description="Send If-None-Match / If-Modified-Since; a 304 runs nothing."
    )
    timeout: Duration = Field(
        30.0, description="Whole-request timeout for `url` (a connection has its own)."
    )
    max_body: int = Field(
        50 * 1024 * 1024,
        ge=1,
        description="Largest response body in bytes; over it the fire fails.",
    )

    @field_validator("connection")
    @classmethod
    def _http_connection(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_connection_name(value, info, "http")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("url starts with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> HttpPollTrigger:
        if (self.connection is None) == (self.url is None):
            raise ValueError("give exactly one of `connection` (with `path`) and `url`")
        if self.url is not None and self.path is not None:
            raise ValueError("`path` goes with `connection`; put it in `url` instead")
        return self

    def source(self, process: Process, context: ScheduleContext) -> Source:
        return HttpPollSource(self, context.connections)


class HttpPollSource(Source):
    def __init__(self, trigger: HttpPollTrigger, connections: Connections):
        self.trigger = trigger
        self.connections = connections
        self.getter = PollGetter(trigger.timeout, trigger.max_body)

    async def _client(self) -> HttpClient | None:
        if self.trigger.connection is None:
            return None
        client = await self.connections.client(self.trigger.connection)
        if not isinstance(client, HttpClient):
            raise HttpPollError(f"connection {self.trigger.connection!r} is not an http one")
        return client

    async def batches(self, fire: Fire) -> AsyncIterator[Batch]:
        trigger = self.trigger
        client = await self._client()
        try:
            if client is not None:
                url = join(client.config.url(), trigger.path or "/")
            else:
                url = URL(secrets.resolve(trigger.url or ""))
            headers = {name: secrets.resolve(value) for name, value in trigger.headers.items()}
        except ValueError as exc:  # an unset secret, a bad connection variable
            raise HttpPollError(f"cannot build the request: {exc}") from None
        where = shown(url)
        target = hashlib.sha256(str(url).encode()).hexdigest()[:16]
        stored = await fire.store.poller_value(fire.process, VALIDATORS_KEY)
        if trigger.conditional and isinstance(stored, dict) and stored.get("target") == target:
            if stored.get("etag"):
                headers["If-None-Match"] = stored["etag"]
            if stored.get("last_modified"):
                headers["If-Modified-Since"] = stored["last_modified"]
        polled = await self.getter.get(client, url, headers)
        if polled.status == 304:
            return
        if not 200 <= polled.status < 300:
            raise HttpPollError(f"GET {where} answered {polled.status}")
        properties: dict[str, Any] = {
            **fire.properties(),
            "http_status": polled.status,
            "http_etag": polled.headers.get("etag"),
        }
        for name, value in polled.headers.items():
            properties[f"http_header_{name}"] = value
        documents = self._documents(polled, properties, where)
        context = {
            "target": target,
            "etag": polled.headers.get("etag"),
            "last_modified": polled.headers.get("last-modified"),
        }
        yield Batch(documents, label=f"GET {where} -> {polled.status}", context=context)

    def _documents(self, polled: Polled, properties: dict[str, Any], where: str) -> list[Document]:
        kind = self.trigger.input
        data, content_type, charset = polled.body, polled.content_type, polled.charset
        try:
            if kind == "text":
                return [Document.text(data.decode(charset or "utf-8"), content_type, properties)]
            # The declared input decides how to read the body, whatever type the server says.
            return documents_from_body(
                kind, data, "" if kind != "raw" else content_type, properties
            )
        except RequestError as exc:
            raise HttpPollError(f"GET {where}: the response is not usable: {exc.detail}") from None
        except (UnicodeDecodeError, LookupError):
            raise HttpPollError(
                f"GET {where}: the response is not {charset or 'utf-8'} text"
            ) from None

    async def succeeded(self, fire: Fire, batch: Batch, execution_id: str) -> None:
        if self.trigger.conditional:
            await fire.store.set_poller_value(fire.process, VALIDATORS_KEY, batch.context)

    async def close(self) -> None:
        await self.getter.close()
