"""Connection limits aiohttp lacks: total header size, and timeouts on slow clients.

aiohttp bounds each header line and the number of headers, but not their total, and it
waits forever for the rest of a request's headers or body: a hundred slowloris
connections stay open as long as their senders like. Here each connection has:

- a header timeout: a request's line and headers arrive within `header_timeout` of its
  first byte (or of the connection opening), else 408 and the connection is closed;
- a body idle timeout: a body that sends nothing for `body_timeout` is dropped (unless
  Wharf itself paused reading, which is back-pressure, not a slow client);
- a total header limit: a request line and headers over `max_header_size` bytes is
  answered 431 before any handler runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http import HttpProcessingError, RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from runtime.web.problems import PROBLEM_JSON, problem_type

log = logging.getLogger("wharf.server")

HEADER_OVERHEAD = 4  # ": " and CRLF of each header line


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_size: int
    header_timeout: float
    body_timeout: float


def refusal(status: int, reason: str, slug: str, detail: str) -> bytes:
    """A complete HTTP/1.1 problem response that closes the connection."""
    body = orjson.dumps(
        {"type": problem_type(slug), "title": reason, "status": status, "detail": detail}
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def header_size(message: RawRequestMessage) -> int:
    return len(message.path) + sum(
        len(name) + len(value) + HEADER_OVERHEAD for name, value in message.raw_headers
    )


class LimitedRequestHandler(RequestHandler):
    """aiohttp's protocol, watching each request's header and body phases."""

    def __init__(self, manager: web.Server, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._timer: asyncio.TimerHandle | None = None
        self._in_headers = False  # bytes of an incomplete request head have arrived
        self._head_bytes = 0
        self._payload: StreamReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm(self._limits.header_timeout, self._header_timeout)  # the first request

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        body_data = self._in_body()  # before feeding: the data may end the body
        super().data_received(data)
        if self.transport is None or self._force_close:
            self._disarm()
            return
        if self._request_count != before:  # a request head is complete
            # A head that came in fewer bytes than the limit is within it: no need to
            # add up its headers (the usual case, per request on a keep-alive connection).
            surely_small = self._head_bytes + len(data) <= self._limits.max_header_size
            self._in_headers = False
            self._head_bytes = 0
            message, payload = self._messages[-1] if self._messages else (None, None)
            if (
                not surely_small
                and isinstance(message, RawRequestMessage)
                and header_size(message) > self._limits.max_header_size
            ):
                # Answered by aiohttp as it answers its own parser's refusals (the
                # connection's task may already be waking up for this message).
                error = HttpProcessingError(code=431, message=self._too_large())
                self._messages[-1] = (_ErrInfo(431, error, error.message), EMPTY_PAYLOAD)
                self._payload = None
                self._disarm()
                return
            self._payload = payload if isinstance(payload, StreamReader) else None
        elif data and not body_data:
            self._head_bytes += len(data)
            if self._head_bytes > self._limits.max_header_size:
                self._refuse_headers()
                return
            if not self._in_headers:
                self._in_headers = True
                self._arm(self._limits.header_timeout, self._header_timeout)
            return
        if self._in_body():
            self._arm(self._limits.body_timeout, self._body_timeout)
        else:
            self._disarm()

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """A malformed request (aiohttp's parser refused it) or a client that went away is
        the caller's doing: one INFO line, no traceback. Anything else stays an error."""
        exc = kw.get("exc_info")
        if isinstance(exc, HttpProcessingError | ConnectionError):
            log.info(
                "a malformed or abandoned request: %s",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
            return
        super().log_exception(*args, **kw)

    def _in_body(self) -> bool:
        return self._payload is not None and not self._payload.is_eof()

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._timer = self._loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close_with(self, response: bytes) -> None:
        if self.transport is not None and self._current_request is None:
            self.transport.write(response)  # nobody else is answering on this connection
        self.force_close()

    def _too_large(self) -> str:
        limit = self._limits.max_header_size
        return f"the request line and headers are larger than the limit of {limit} bytes"

    def _refuse_headers(self) -> None:
        log.info("refused a request: %s", self._too_large())
        self._disarm()
        self._close_with(
            refusal(431, "Request Header Fields Too Large", "headers-too-large", self._too_large())
        )

    def _header_timeout(self) -> None:
        self._timer = None
        if not self._in_headers and self._request_count > 0:
            return  # idle between requests: aiohttp's keep-alive timeout applies
        log.info(
            "closed a connection whose request headers took over %gs", self._limits.header_timeout
        )
        self._close_with(
            refusal(
                408,
                "Request Timeout",
                "request-timeout",
                f"the request headers did not arrive within {self._limits.header_timeout:g}s",
            )
        )

    def _body_timeout(self) -> None:
        self._timer = None
        if not self._in_body():
            return
        if self._reading_paused:  # Wharf is not reading: back-pressure, not a slow client
            self._arm(self._limits.body_timeout, self._body_timeout)
            return
        log.info(
            "closed a connection whose request body was idle for %gs", self._limits.body_timeout
        )
        self.force_close()


class LimitedServer(web.Server):
    """aiohttp's server, making LimitedRequestHandler protocols."""

    def __init__(self, limits: ConnectionLimits, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits

    def __call__(self) -> RequestHandler:
        return LimitedRequestHandler(self, self.limits, loop=self._loop, **self._kwargs)


class LimitedRunner(web.AppRunner):
    """An AppRunner whose server applies `limits` to every connection."""

    def __init__(self, app: web.Application, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return LimitedServer(
            self.limits,
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
