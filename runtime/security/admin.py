"""The admin API's guard: `/api/...` always needs an admin credential.

An admin API key (`wharf keys create --admin`, or `WHARF_ADMIN_KEY`), or a JWT that the
`admin.jwt` of security.yaml accepts and whose admin claim matches. On a first start with
no admin credential at all, one key is made, stored as a hash, and printed once.
"""

from __future__ import annotations

import functools
import logging

from aiohttp import web

from runtime.routes import Handler, add_route
from runtime.security.api_keys import PREFIX, ApiKeyBook, new_key
from runtime.security.clients import client_ip
from runtime.security.config import SecurityConfig
from runtime.security.errors import AuthFailed
from runtime.security.guard import Forbidden, Unauthorized
from runtime.security.jwt_auth import JwtVerifier

log = logging.getLogger("wharf.auth")

ADMIN_GUARD: web.AppKey[AdminGuard] = web.AppKey("wharf_admin_guard")


class AdminGuard:
    def __init__(self, keys: ApiKeyBook, security: SecurityConfig):
        self.keys = keys
        jwt = security.admin.jwt
        self.jwt = JwtVerifier(jwt) if jwt is not None else None

    async def check(self, request: web.Request) -> None:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        credential = credential.strip()
        presented = request.headers.get("X-API-Key")
        if presented is None and scheme.lower() == "bearer" and credential.startswith(PREFIX):
            presented = credential
        try:
            if presented is not None:
                record = await self.keys.verify(presented)
                if record is None:
                    raise AuthFailed("unknown or revoked API key")
                if not record.admin:
                    raise AuthFailed(f"key {record.id} is not an admin key", status=403)
                return
            if self.jwt is not None and scheme.lower() == "bearer" and credential:
                if not self.jwt.is_admin(self.jwt.verify(credential)):
                    raise AuthFailed("the token has no admin claim", status=403)
                return
        except AuthFailed as exc:
            log.info("admin API refused %s: %s", client_ip(request), exc.reason)
            if exc.status == 403:
                raise Forbidden() from None
            raise Unauthorized('Bearer realm="wharf-admin"') from None
        raise Unauthorized('Bearer realm="wharf-admin"')

    async def ensure_admin_credential(self, url: str) -> None:
        """First start: no admin key anywhere and no admin JWT: make one, print it once."""
        if self.jwt is not None or await self.keys.has_admin_key():
            return
        made = new_key("first start", admin=True)
        await self.keys.store.add_api_key(made.record)
        await self.keys.refresh()
        print(
            "\nNo admin credential was configured, so Wharf made an admin API key. It is shown "
            "only this once (the store keeps its hash):\n\n"
            f"    {made.key}\n\n"
            f"    curl -H 'X-API-Key: {made.key}' {url}/api/processes\n",
            flush=True,
        )
        log.info("made admin key %s on first start", made.record.id)


def admin_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        await request.app[ADMIN_GUARD].check(request)
        return await handler(request)

    return guarded


def add_admin_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    add_route(app, method, path, admin_only(handler))
