"""The `http` connector: a base URL, credentials, and one pooled aiohttp session.

Redirects are not followed by default: a 3xx is the answer. With `follow_redirects:
same-origin`, a redirect to the same scheme, host and port is followed (a few hops at
most, credentials applied afresh each hop); one to another origin is not, so a
connection's credentials never reach another origin.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import aiohttp
from pydantic import Field, field_validator, model_validator
from yarl import URL

from processes.connectors.credentials import AnyCredential, Credential, Outgoing
from runtime.core import registry, secrets
from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.durations import Duration
from runtime.core.models import StrictModel

_SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_HOST_SAFE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$")


class Variable(StrictModel):
    """A `{{name}}` slot of the base URL."""

    default: str | None = Field(None, description="Value when the connection gives none.")
    pattern: str | None = Field(
        None, description="Regex the value must match (host-safe by default)."
    )


REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


class Verify(StrictModel):
    """The request `wharf connections test` sends."""

    method: Literal["GET", "HEAD", "POST"] = Field("GET", description="The request method.")
    path: str | None = Field(None, description="Deprecated: use the connection's `health_path`.")
    expect: list[int] | None = Field(
        None, description="Statuses that pass; by default any answer below 500."
    )


@registry.connector("http")
class HttpConnection(ConnectionConfig):
    """An HTTP API, used by `http.request`."""

    connector: Literal["http"] = Field(description="The connector kind.")
    base_url: str = Field(description="E.g. `https://{{subdomain}}.example.com/api`.")
    variables: dict[str, Variable] = Field(default_factory=dict, description="URL slots.")
    values: dict[str, str] = Field(default_factory=dict, description="Values for the slots.")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with every request.")
    credentials: list[AnyCredential] = Field(
        default_factory=list, description="Applied in order: basic, bearer, api_key, oauth2, hmac."
    )
    timeout: Duration = Field(30.0, description="Whole-request timeout.")
    health_path: str = Field(
        "/",
        description="Path `wharf connections test` requests; any answer below 500 counts "
        "as reachable (unless `verify.expect` lists the statuses).",
    )
    verify: Verify = Field(default_factory=Verify, description="What `connections test` requests.")
    follow_redirects: Literal["none", "same-origin"] = Field(
        "none",
        description="`none`: a 3xx is the answer. `same-origin`: follow redirects to the same "
        f"scheme, host and port, at most {MAX_REDIRECTS}; credentials never go to another origin.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url starts with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secrets_by_reference(self) -> HttpConnection:
        if not self.insecure:
            for index, credential in enumerate(self.credentials):
                for name, value in credential.secret_values().items():
                    if value and not secrets.is_reference(value):
                        raise secrets.LiteralSecretError(
                            ("credentials", index, name),
                            f"credentials[{index}].{name} is a literal secret; write it as "
                            "${env:NAME} or ${file:/path} (or mark the connection "
                            "`insecure: true`)",
                        )
        for slot in _SLOT.findall(self.base_url):
            if slot not in self.variables:
                raise ValueError(f"base_url uses {{{{{slot}}}}} but `variables` has no {slot!r}")
        return self

    def url(self, overrides: dict[str, str] | None = None) -> URL:
        values = {name: var.default for name, var in self.variables.items()}
        values |= self.values | (overrides or {})

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            value = values.get(name)
            pattern = self.variables[name].pattern
            if value is None:
                raise ValueError(f"connection variable {name!r} has no value")
            if not (re.fullmatch(pattern, value) if pattern else _HOST_SAFE.match(value)):
                raise ValueError(f"connection variable {name!r} has an invalid value")
            return value

        return URL(_SLOT.sub(fill, self.base_url))

    async def open(self) -> HttpClient:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
        return HttpClient(self, session)


class HttpClient(ConnectionClient):
    def __init__(self, config: HttpConnection, session: aiohttp.ClientSession):
        self.config = config
        self.session = session

    async def prepare(
        self, method: str, url: URL, headers: dict[str, str], body: bytes | None, force: bool
    ) -> Outgoing:
        request = Outgoing(method, url, {**self.config.headers, **headers}, body)
        credential: Credential
        for credential in self.config.credentials:
            await credential.apply(request, self.session, force)
        return request

    @asynccontextmanager
    async def send(
        self, method: str, url: URL, headers: dict[str, str], body: bytes | None, force: bool
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request with the connection's credentials; redirects as configured."""
        hops = 0
        while True:
            request = await self.prepare(method, url, dict(headers), body, force)
            response = await self.session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=body,
                allow_redirects=False,
            )
            target = self._redirect(response, url, hops)
            if target is None:
                break
            response.release()
            hops += 1
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = ("HEAD" if method == "HEAD" else "GET"), None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = target
        try:
            yield response
        finally:
            response.release()

    def _redirect(self, response: aiohttp.ClientResponse, url: URL, hops: int) -> URL | None:
        """Where to go next, or None: the response is the answer."""
        if self.config.follow_redirects == "none" or response.status not in REDIRECTS:
            return None
        location = response.headers.get("Location")
        if not location or hops >= MAX_REDIRECTS:
            return None
        try:
            target = url.join(URL(location))
        except ValueError:
            return None
        return target if same_origin(target, url) else None

    @property
    def refreshes_tokens(self) -> bool:
        """A credential obtains tokens (OAuth2): a 401 is worth one forced refresh."""
        return any(getattr(c, "kind", None) == "oauth2" for c in self.config.credentials)

    async def close(self) -> None:
        await self.session.close()

    async def check(self) -> str:
        verify = self.config.verify
        path = verify.path or self.config.health_path
        url = join(self.config.url(), path)
        async with self.send(verify.method, url, {}, None, False) as response:
            status = response.status
        passed = status in verify.expect if verify.expect is not None else status < 500
        if not passed:
            raise ConnectionError(f"{verify.method} {path} answered {status}")
        return f"{verify.method} {path} -> {status}"


def same_origin(one: URL, other: URL) -> bool:
    return (one.scheme, one.host, one.explicit_port or one.port) == (
        other.scheme,
        other.host,
        other.explicit_port or other.port,
    )


def join(base: URL, path: str) -> URL:
    """The base URL with `path` appended (not resolved: `/v1` + `/orders` = `/v1/orders`)."""
    return base.with_path(base.path.rstrip("/") + "/" + path.lstrip("/"), keep_query=True)


__all__ = ["HttpClient", "HttpConnection", "join"]
