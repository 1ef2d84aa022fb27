"""What the `http.poll` trigger shares with the `http` connector: one GET and its answer.

A poll goes through a connection's client (its credentials, its redirect policy, one
forced OAuth2 refresh on a 401, as `http.request` does) or, for a plain `url`, through a
session of its own that never follows a redirect (the headers may hold secrets). The body
is refused as soon as it passes the trigger's limit, and errors never show the URL's
query string or user info. When to poll and what to remember is the trigger's business
(`listeners/pollers/http.py`).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import aiohttp
from yarl import URL

from processes.connectors.http.connection import HttpClient
from runtime.core import secrets
from runtime.core.durations import Duration
from runtime.core.errors import WharfError


class HttpPollError(WharfError):
    problem = "http-poll-failed"
    title = "HTTP poll failed"
    status = 502


@dataclass(frozen=True, slots=True)
class Polled:
    """One answer to a poll's GET."""

    status: int
    headers: dict[str, str]  # names in lower case
    content_type: str
    charset: str | None
    body: bytes


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, refused as soon as it passes `limit` (never held whole in memory first)."""
    too_big = HttpPollError(f"the response body is over max_body ({limit} bytes)")
    if response.content_length is not None and response.content_length > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def shown(url: URL) -> str:
    """The URL as errors show it: no user info or query string (either may hold a key)."""
    return str(url.with_user(None).with_query(None).with_fragment(None))


class PollGetter:
    """GETs for one poller; owns the session used for a plain `url` (closed by `close`)."""

    def __init__(self, timeout: Duration, max_body: int):
        self.timeout = timeout
        self.max_body = max_body
        self._session: aiohttp.ClientSession | None = None  # only for a plain `url`

    def _own_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
        return self._session

    async def get(self, client: HttpClient | None, url: URL, headers: dict[str, str]) -> Polled:
        """GET `url` through `client` (None: the own session); errors as HttpPollError."""
        refreshed = False
        while True:
            try:
                sending: AbstractAsyncContextManager[aiohttp.ClientResponse]
                if client is not None:  # its redirect policy, its credentials on its origin
                    sending = client.send("GET", url, headers, None, refreshed)
                else:  # headers may hold secrets: a redirect is an answer, never followed
                    sending = self._own_session().get(url, headers=headers, allow_redirects=False)
                async with sending as response:
                    data = await read_limited(response, self.max_body)
                    status = response.status
                    found = {k.lower(): v for k, v in response.headers.items()}
                    content_type, charset = response.content_type, response.charset
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0].rstrip(": ")
                reason = secrets.redact_text(reason.replace(str(url), shown(url)))
                raise HttpPollError(f"GET {shown(url)} failed: {reason}") from None
            except WharfError as exc:  # a credential could not be obtained
                raise HttpPollError(f"GET {shown(url)}: {exc.detail}") from None
            if status == 401 and client is not None and not refreshed and client.refreshes_tokens:
                refreshed = True  # one forced token refresh, as http.request does
                continue
            return Polled(status, found, content_type, charset, data)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
