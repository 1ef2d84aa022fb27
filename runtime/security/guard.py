"""The guard of one listener: checks a request's credentials before anything runs.

Every refusal is a generic 401 (no valid credential) or 403 (a valid one, not allowed
here); the reason goes to the server log only, never to the caller, and the process
never sees the request, so no execution is recorded.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from aiohttp import web

from runtime.core.errors import RequestError
from runtime.security.api_keys import PREFIX, ApiKeyBook
from runtime.security.clients import client_ip
from runtime.security.config import AuthConfig, AuthSpec, SecurityConfig
from runtime.security.errors import AuthFailed
from runtime.security.jwt_auth import JwtVerifier
from runtime.security.passwords import verify_absent_user, verify_password
from runtime.security.signatures import SignatureVerifier

log = logging.getLogger("wharf.auth")


class Unauthorized(RequestError):
    def __init__(
        self, challenge: str | None = None, detail: str = "missing or invalid credentials"
    ):
        super().__init__(
            detail,
            status=401,
            problem="unauthorized",
            title="Unauthorized",
            headers={"WWW-Authenticate": challenge} if challenge else None,
        )


class Forbidden(RequestError):
    def __init__(self) -> None:
        super().__init__(
            "these credentials are not allowed here",
            status=403,
            problem="forbidden",
            title="Forbidden",
        )


@dataclass(slots=True)
class Principal:
    """Who made a request: the caller id for limits and analytics, and the properties its
    documents carry (`auth_kind`, `auth_caller`, `auth_user`, `jwt_<claim>`...)."""

    kind: str
    caller: str
    properties: dict[str, Any] = field(default_factory=dict)


def peer_subject(request: web.Request) -> str | None:
    """The verified client certificate's subject as `CN=..,O=..`, if the client sent one."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    parts = [f"{key}={value}" for rdn in cert.get("subject", ()) for key, value in rdn]
    names = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU"}
    return ",".join(f"{names.get(k, k)}={v}" for k, v in (part.split("=", 1) for part in parts))


class ListenerGuard:
    def __init__(self, spec: AuthSpec, process: str, security: SecurityConfig, keys: ApiKeyBook):
        self.process = process
        self.open = spec == "none"
        self.config = spec if isinstance(spec, AuthConfig) else None
        self.security = security
        self.keys = keys
        config = self.config
        self.jwt = JwtVerifier(config.jwt) if config and config.jwt else None
        self.signature = (
            SignatureVerifier(config.signature) if config and config.signature else None
        )
        self.needs_body = self.signature is not None
        challenges = []
        if config and config.basic:
            challenges.append(f'Basic realm="{config.basic.realm}"')
        if config and (config.jwt or config.api_key):
            challenges.append('Bearer realm="wharf"')
        self.challenge = ", ".join(challenges) or None
        # Request properties that carry credentials: dropped before documents are made, so
        # no key, password or token reaches a step, a record or a log.
        hidden: set[str] = set()
        if config is not None:
            hidden.add("inheader_authorization")
            if config.api_key is not None:
                hidden.add(f"inheader_{config.api_key.header.lower()}")
                if config.api_key.query:
                    hidden.add(f"query_{config.api_key.query}")
        self.credential_properties = frozenset(hidden)
        # A listener's callers send the same key on every request: its admitted principal
        # is kept until the key book is re-read (so a revocation still ends it).
        self._admitted: dict[str, Principal] = {}
        self._admitted_epoch = -1

    def strip_credentials(self, properties: dict[str, Any]) -> None:
        for name in self.credential_properties:
            properties.pop(name, None)

    async def check(self, request: web.Request, body: bytes | None = None) -> Principal:
        """The request's principal, or Unauthorized / Forbidden."""
        if self.open or self.config is None:
            return Principal("none", client_ip(request))
        try:
            principal = await self._authenticate(request, body)
        except AuthFailed as exc:
            log.info("auth refused on %s from %s: %s", self.process, client_ip(request), exc.reason)
            if exc.status == 403:
                raise Forbidden() from None
            raise Unauthorized(self.challenge) from None
        if principal is None:
            log.info("auth refused on %s from %s: no credentials", self.process, client_ip(request))
            raise Unauthorized(self.challenge)
        if "auth_kind" not in principal.properties:
            principal.properties["auth_kind"] = principal.kind
            principal.properties["auth_caller"] = principal.caller
        return principal

    async def _authenticate(self, request: web.Request, body: bytes | None) -> Principal | None:
        config = self.config
        assert config is not None
        if config.api_key is not None:  # first: the common case needs one header lookup
            presented = request.headers.get(config.api_key.header)
            if presented is not None:
                return await self._api_key(presented)
        authorization = request.headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        scheme = scheme.lower()
        credential = credential.strip()
        if config.api_key is not None:
            presented = None
            if scheme == "bearer" and credential.startswith(PREFIX):
                presented = credential
            if presented is None and config.api_key.query:
                presented = request.query.get(config.api_key.query)
            if presented is not None:
                return await self._api_key(presented)
        if config.basic is not None and scheme == "basic":
            return await self._basic(request, credential)
        if self.jwt is not None and scheme == "bearer" and credential:
            claims = self.jwt.verify(credential)
            subject = str(claims.get("sub", "jwt"))
            return Principal("jwt", subject, self.jwt.properties(claims))
        if config.mtls is not None:
            peer = peer_subject(request)
            if peer is not None:
                allowed = config.mtls.subjects
                if allowed is not None and peer not in allowed:
                    raise AuthFailed(f"client subject {peer!r} is not allowed", status=403)
                return Principal("mtls", peer, {"client_subject": peer})
        if self.signature is not None:  # last: without its headers it refuses the request
            self.signature.verify(request.headers, body if body is not None else b"")
            return Principal("signature", f"signature:{client_ip(request)}")
        return None

    async def _api_key(self, presented: str) -> Principal:
        keys = self.keys
        if self._admitted_epoch != keys.epoch:
            self._admitted, self._admitted_epoch = {}, keys.epoch
        known = self._admitted.get(presented)
        if known is not None and keys.fresh:
            return known
        principal = await self._verify_key(presented)
        if len(self._admitted) >= 10_000:
            self._admitted.clear()
        self._admitted[presented] = principal
        return principal

    async def _verify_key(self, presented: str) -> Principal:
        record = await self.keys.verify(presented)
        if record is None:
            raise AuthFailed("unknown or revoked API key")
        if record.admin:
            raise AuthFailed(f"admin key {record.id} used on a listener", status=403)
        if record.processes is not None and self.process not in record.processes:
            raise AuthFailed(f"key {record.id} is not allowed for {self.process}", status=403)
        caller = f"key:{record.id}"
        properties = {"auth_key": record.name, "auth_kind": "api_key", "auth_caller": caller}
        return Principal("api_key", caller, properties)

    async def _basic(self, request: web.Request, credential: str) -> Principal:
        try:
            decoded = base64.b64decode(credential, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailed("malformed basic credentials") from None
        name, sep, password = decoded.partition(":")
        users = self.security.users
        user = users.get(name) if sep else None
        if user is None:  # as slow as a wrong password for a user that exists
            like = next((known.password_hash for known in users.values()), None)
            await verify_absent_user(password, like)
            raise AuthFailed(f"bad basic credentials for unknown user {name!r}")
        if not await verify_password(password, user.password_hash):
            raise AuthFailed(f"bad basic credentials for user {name!r}")
        if "*" not in user.processes and self.process not in user.processes:
            raise AuthFailed(f"user {name!r} is not allowed for {self.process}", status=403)
        if user.ip_allow is not None:
            try:
                address = ip_address(client_ip(request))
            except ValueError:
                raise AuthFailed(f"user {name!r}: no client address", status=403) from None
            if not any(address in network for network in user.ip_allow):
                raise AuthFailed(f"user {name!r} from {address} is not allowed", status=403)
        return Principal("basic", f"user:{name}", {"auth_user": name})
