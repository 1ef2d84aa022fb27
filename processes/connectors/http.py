"""The `http` connector: a base URL, credentials, and one pooled aiohttp session."""

from __future__ import annotations

import re
from typing import Literal

import aiohttp
from pydantic import Field, field_validator, model_validator
from yarl import URL

from processes.connectors.credentials import AnyCredential, Credential, Outgoing
from runtime import registry, secrets
from runtime.components import ComponentConfig, ConnectionClient, ConnectionConfig
from runtime.durations import Duration

_SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_HOST_SAFE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$")


class Variable(ComponentConfig):
    """A `{{name}}` slot of the base URL."""

    default: str | None = None
    pattern: str | None = Field(
        None, description="Regex the value must match (host-safe by default)."
    )


class Verify(ComponentConfig):
    """The request `wharf connections test` sends."""

    method: Literal["GET", "HEAD", "POST"] = "GET"
    path: str = "/"
    expect: list[int] = Field(default_factory=lambda: [200, 204])


@registry.connector("http")
class HttpConnection(ConnectionConfig):
    """An HTTP API, used by `http.request`."""

    connector: Literal["http"]
    base_url: str = Field(description="E.g. `https://{{subdomain}}.example.com/api`.")
    variables: dict[str, Variable] = Field(default_factory=dict, description="URL slots.")
    values: dict[str, str] = Field(default_factory=dict, description="Values for the slots.")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with every request.")
    credentials: list[AnyCredential] = Field(
        default_factory=list, description="Applied in order: basic, bearer, api_key, oauth2, hmac."
    )
    timeout: Duration = Field(30.0, description="Whole-request timeout.")
    verify: Verify = Field(default_factory=Verify, description="What `connections test` requests.")

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

    async def close(self) -> None:
        await self.session.close()

    async def check(self) -> str:
        verify = self.config.verify
        url = join(self.config.url(), verify.path)
        request = await self.prepare(verify.method, url, {}, None, False)
        async with self.session.request(
            request.method, request.url, headers=request.headers
        ) as response:
            if response.status not in verify.expect:
                raise ConnectionError(f"{verify.method} {verify.path} answered {response.status}")
            return f"{verify.method} {verify.path} -> {response.status}"


def join(base: URL, path: str) -> URL:
    """The base URL with `path` appended (not resolved: `/v1` + `/orders` = `/v1/orders`)."""
    return base.with_path(base.path.rstrip("/") + "/" + path.lstrip("/"), keep_query=True)


__all__ = ["HttpClient", "HttpConnection", "join"]
