"""The admin API's guard: `/api/...` always needs an admin credential.

An admin API key (`wharf keys create --admin`, or `WHARF_ADMIN_KEY`), or a JWT that the
`admin.jwt` of security.yaml accepts and whose admin claim matches. On a first start with
no admin credential at all, one key is made, stored as a hash, and printed once.
"""

from __future__ import annotations

import functools
import logging
import shutil
import sys
from pathlib import Path

from aiohttp import web

from runtime.security.api_keys import ApiKeyBook, new_key
from runtime.security.clients import client_ip
from runtime.security.config import SecurityConfig
from runtime.security.errors import AuthFailed
from runtime.security.guard import Forbidden, Unauthorized
from runtime.security.jwt_auth import JwtVerifier
from runtime.store import ApiKeyRecord
from runtime.web.routes import Handler, add_route

log = logging.getLogger("wharf.auth")

ADMIN_GUARD: web.AppKey[AdminGuard] = web.AppKey("wharf_admin_guard")
CHALLENGE = 'Bearer realm="wharf-admin"'
WHERE_KEYS_COME_FROM = (
    "the admin API needs an admin key, as X-API-Key or Authorization: Bearer: the "
    "WHARF_ADMIN_KEY the server was started with, one made by `wharf keys create --admin`, "
    "or the key printed on the first start (or an admin JWT when security.yaml sets admin.jwt)"
)


class AdminGuard:
    def __init__(self, keys: ApiKeyBook, security: SecurityConfig):
        self.keys = keys
        jwt = security.admin.jwt
        self.jwt = JwtVerifier(jwt) if jwt is not None else None

    async def check(self, request: web.Request) -> None:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        credential = credential.strip()
        bearer = credential if scheme.lower() == "bearer" and credential else None
        presented = request.headers.get("X-API-Key")
        try:
            if presented is not None:
                self._admit(await self.keys.verify(presented))
                return
            if bearer is not None:
                # Any admin key works as a bearer token (Prometheus sends one that way),
                # WHARF_ADMIN_KEY too, whatever its form; else it may be an admin JWT.
                record = await self.keys.verify(bearer)
                if record is not None or self.jwt is None:
                    self._admit(record)
                    return
                if not self.jwt.is_admin(self.jwt.verify(bearer)):
                    raise AuthFailed("the token has no admin claim", status=403)
                return
        except AuthFailed as exc:
            log.info("admin API refused %s: %s", client_ip(request), exc.reason)
            if exc.status == 403:
                raise Forbidden() from None
            raise Unauthorized(CHALLENGE, WHERE_KEYS_COME_FROM) from None
        log.info("admin API refused %s: no credentials", client_ip(request))
        raise Unauthorized(CHALLENGE, WHERE_KEYS_COME_FROM)

    @staticmethod
    def _admit(record: ApiKeyRecord | None) -> None:
        if record is None:
            raise AuthFailed("unknown or revoked API key")
        if not record.admin:
            raise AuthFailed(f"key {record.id} is not an admin key", status=403)

    async def ensure_admin_credential(self, url: str) -> None:
        """First start: no admin key anywhere and no admin JWT: make one, print it once."""
        if self.jwt is not None or await self.keys.has_admin_key():
            return
        made = new_key("first start", admin=True)
        await self.keys.store.add_api_key(made.record)
        await self.keys.refresh()
        print(first_start_banner(made.key, url), flush=True)
        log.info("made admin key %s on first start", made.record.id)


def first_start_banner(key: str, url: str) -> str:
    """What the operator needs to use the key at once: the key, the export line the CLI
    reads, a curl line, and how to get `wharf` on PATH when it is not."""
    lines = [
        "",
        "No admin credential was configured, so Wharf made an admin API key. It is shown "
        "only this once (the store keeps its hash):",
        "",
        f"    {key}",
        "",
        "The wharf CLI reads it from WHARF_ADMIN_KEY:",
        "",
        f"    export WHARF_ADMIN_KEY={key}",
        f"    curl -H 'X-API-Key: {key}' {url}/api/processes",
    ]
    if shutil.which("wharf") is None:
        scripts = Path(sys.prefix) / "bin"  # a virtual environment's, e.g. make's .venv
        if (scripts / "activate").is_file():
            lines += ["", f"`wharf` is not on PATH; to put it there:  . {scripts / 'activate'}"]
        elif (scripts / "wharf").is_file():
            lines += ["", f"`wharf` is not on PATH; it is {scripts / 'wharf'}"]
    return "\n".join(lines) + "\n"


def admin_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        await request.app[ADMIN_GUARD].check(request)
        return await handler(request)

    return guarded


def add_admin_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    add_route(app, method, path, admin_only(handler))
