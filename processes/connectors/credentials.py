"""Credential schemes for HTTP-based connections, applied in the order listed.

Secrets are references (`${env:NAME}`, `${file:/path}`), resolved when the connection
opens; a literal secret is refused unless the connection says `insecure: true`.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import time
from typing import TYPE_CHECKING, Annotated, Literal, Union

import aiohttp
from pydantic import Field, PrivateAttr

from runtime.core import secrets
from runtime.core.errors import WharfError
from runtime.core.models import StrictModel

if TYPE_CHECKING:
    from yarl import URL

SECRET_FIELDS = {"password", "token", "value", "client_secret", "refresh_token", "secret"}


class CredentialError(WharfError):
    problem = "credential-failed"
    title = "Credential failed"


class Outgoing:
    """A request being prepared: credentials add headers, query parameters or cookies."""

    def __init__(self, method: str, url: URL, headers: dict[str, str], body: bytes | None):
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body


class Credential(StrictModel):
    def secret_values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in SECRET_FIELDS if hasattr(self, name)}

    async def apply(self, request: Outgoing, session: aiohttp.ClientSession, force: bool) -> None:
        raise NotImplementedError


class Basic(Credential):
    """HTTP Basic authentication: `Authorization: Basic ...`."""

    kind: Literal["basic"] = Field(description="The scheme.")
    username: str = Field(description="The user name.")
    password: str = Field(description="The password, as a reference: `${env:NAME}`.")

    async def apply(self, request: Outgoing, session: aiohttp.ClientSession, force: bool) -> None:
        encoded = secrets.remember_basic(self.username, secrets.resolve(self.password))
        request.headers["Authorization"] = f"Basic {encoded}"


class Bearer(Credential):
    """A fixed bearer token: `Authorization: Bearer <token>`."""

    kind: Literal["bearer"] = Field(description="The scheme.")
    token: str = Field(description="The token, as a reference: `${env:NAME}`.")

    async def apply(self, request: Outgoing, session: aiohttp.ClientSession, force: bool) -> None:
        request.headers["Authorization"] = f"Bearer {secrets.resolve(self.token)}"


class ApiKey(Credential):
    """An API key in a header, query parameter or cookie, sent as is (no prefix)."""

    kind: Literal["api_key"] = Field(description="The scheme.")
    name: str = Field(description="Header, query parameter or cookie name.")
    value: str = Field(description="The key, as a reference: `${env:NAME}`.")
    location: Literal["header", "query", "cookie"] = Field(
        "header", alias="in", description="Where the key goes."
    )

    async def apply(self, request: Outgoing, session: aiohttp.ClientSession, force: bool) -> None:
        value = secrets.resolve(self.value)
        if self.location == "header":
            request.headers[self.name] = value
        elif self.location == "query":
            request.url = request.url.update_query({self.name: value})
        else:
            cookie = f"{self.name}={value}"
            existing = request.headers.get("Cookie")
            request.headers["Cookie"] = f"{existing}; {cookie}" if existing else cookie


class OAuth2(Credential):
    """OAuth2 client credentials or refresh token. The access token is cached until shortly
    before it expires; one refresh at a time per connection; a 401 forces one refresh."""

    kind: Literal["oauth2"] = Field(description="The scheme.")
    token_url: str = Field(description="The token endpoint (never redirected).")
    client_id: str = Field(description="The client's id.")
    client_secret: str = Field(description="The client's secret, as a reference: `${env:NAME}`.")
    grant: Literal["client_credentials", "refresh_token"] = Field(
        "client_credentials", description="How tokens are obtained."
    )
    refresh_token: str | None = Field(
        None, description="For the `refresh_token` grant, as a reference: `${env:NAME}`."
    )
    scope: str | None = Field(None, description="Scope asked for, if any.")
    early: float = Field(30.0, description="Refresh this many seconds before expiry.")

    _token: str | None = PrivateAttr(None)
    _expires: float = PrivateAttr(0.0)
    _lock: asyncio.Lock = PrivateAttr(default_factory=asyncio.Lock)

    async def apply(self, request: Outgoing, session: aiohttp.ClientSession, force: bool) -> None:
        request.headers["Authorization"] = f"Bearer {await self.access_token(session, force)}"

    async def access_token(self, session: aiohttp.ClientSession, force: bool = False) -> str:
        seen = self._token
        async with self._lock:
            # Another request may have refreshed while this one waited: use its token.
            fresh = self._token is not None and time.monotonic() < self._expires
            if fresh and not (force and self._token == seen):
                assert self._token is not None
                return self._token
            await self._refresh(session)
            assert self._token is not None
            return self._token

    async def _refresh(self, session: aiohttp.ClientSession) -> None:
        form = {"grant_type": self.grant, "client_id": self.client_id}
        form["client_secret"] = secrets.resolve(self.client_secret)
        if self.grant == "refresh_token":
            if not self.refresh_token:
                raise CredentialError("the refresh_token grant needs a refresh_token")
            form["refresh_token"] = secrets.resolve(self.refresh_token)
        if self.scope:
            form["scope"] = self.scope
        try:
            # Never redirected: the form holds the client secret.
            async with session.post(self.token_url, data=form, allow_redirects=False) as response:
                payload = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CredentialError(f"token request failed: {type(exc).__name__}") from None
        if status != 200 or not isinstance(payload, dict) or "access_token" not in payload:
            raise CredentialError(f"token endpoint answered {status}")
        token = str(payload["access_token"])
        secrets.remember(token)
        self._token = token
        lifetime = float(payload.get("expires_in") or 3600)
        self._expires = time.monotonic() + max(lifetime - self.early, 0.0)


class Hmac(Credential):
    """Sign each request with an HMAC of the body (optionally prefixed by a timestamp)."""

    kind: Literal["hmac"] = Field(description="The scheme.")
    secret: str = Field(description="The signing key, as a reference: `${env:NAME}`.")
    header: str = Field("X-Signature", description="Header that carries the signature.")
    algorithm: Literal["sha256", "sha1", "sha512"] = Field("sha256", description="Hash.")
    encoding: Literal["hex", "base64"] = Field("hex", description="How the signature is written.")
    prefix: str = Field("", description="Put before the signature, e.g. `sha256=`.")
    signed: Literal["body", "timestamp_body", "method_path_body"] = Field(
        "body",
        description="What is signed: the body; `<timestamp>.<body>`; or "
        "`<method>\\n<path and query>\\n<body>`.",
    )
    timestamp_header: str = Field(
        "X-Timestamp", description="With `timestamp_body`: header that carries the timestamp."
    )

    async def apply(self, request: Outgoing, session: aiohttp.ClientSession, force: bool) -> None:
        body = request.body or b""
        if self.signed == "timestamp_body":
            stamp = str(int(time.time()))
            request.headers[self.timestamp_header] = stamp
            message = stamp.encode() + b"." + body
        elif self.signed == "method_path_body":
            message = f"{request.method}\n{request.url.raw_path_qs}\n".encode() + body
        else:
            message = body
        digest = hmac.new(secrets.resolve(self.secret).encode(), message, self.algorithm).digest()
        text = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        request.headers[self.header] = self.prefix + text


AnyCredential = Annotated[
    Union[Basic, Bearer, ApiKey, OAuth2, Hmac],  # noqa: UP007
    Field(discriminator="kind"),
]
