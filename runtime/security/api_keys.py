"""API keys: `wharf_<id>_<secret>`, stored as the id and a hash of the key only.

The secret is 256 random bits, so a plain SHA-256 is enough (a slow password hash guards
guessable secrets; these are not). The id lets a request's key be found without scanning;
the hash comparison is constant-time. Verified keys are cached briefly, so a busy listener
costs one hash per request and no store read, and a revocation is seen within seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from runtime.store import ApiKeyRecord, KeyRing

PREFIX = "wharf_"
CACHE_SECONDS = 5.0


@dataclass(slots=True)
class NewKey:
    record: ApiKeyRecord
    key: str  # shown once, never stored


def hash_key(key: str) -> str:
    """The stored form of a whole key (`wharf_<id>_<secret>`, or WHARF_ADMIN_KEY)."""
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(presented: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key."""
    if not presented.startswith(PREFIX):
        return None
    key_id, sep, secret = presented[len(PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def new_key(name: str, *, admin: bool = False, processes: list[str] | None = None) -> NewKey:
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(ApiKeyRecord(key_id, name, hash_key(key), admin, processes, time.time()), key)


class ApiKeyBook:
    """The active keys of a store, verified from a short-lived in-memory copy."""

    def __init__(self, store: KeyRing, env_admin_key: str | None = None):
        self.store = store
        self._keys: dict[str, ApiKeyRecord] = {}
        self._read_at = 0.0
        self._reading: asyncio.Future[None] | None = None
        self.epoch = 0
        # WHARF_ADMIN_KEY: an operator-provided admin key, compared by hash, never stored.
        self._env_admin_hash = hash_key(env_admin_key) if env_admin_key else None
        self._env_admin = ApiKeyRecord("env", "WHARF_ADMIN_KEY", "", True, None, 0.0)

    async def refresh(self) -> None:
        """Re-read the keys; callers arriving meanwhile share the one read."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read())
        await asyncio.shield(self._reading)

    async def _read(self) -> None:
        keys = await self.store.api_keys()
        self._keys = {key.id: key for key in keys if key.revoked_at is None}
        self._read_at = time.monotonic()
        self.epoch += 1  # callers' caches of admitted keys start over

    @property
    def fresh(self) -> bool:
        """The copy is recent enough to trust (else `verify` re-reads the store)."""
        return time.monotonic() - self._read_at <= CACHE_SECONDS

    async def verify(self, presented: str) -> ApiKeyRecord | None:
        """The key's record when `presented` is a valid, active key (one hash per call)."""
        digest = hash_key(presented)
        if self._env_admin_hash is not None and hmac.compare_digest(digest, self._env_admin_hash):
            return self._env_admin
        parts = split_key(presented)
        if parts is None:
            return None
        key_id = parts[0]
        age = time.monotonic() - self._read_at
        if age > CACHE_SECONDS or (key_id not in self._keys and age > 0.5):
            await self.refresh()  # new keys are seen within 0.5 s, revocations within 5 s
        record = self._keys.get(key_id)
        if record is None or not hmac.compare_digest(digest, record.hash):
            return None
        return record

    async def has_admin_key(self) -> bool:
        if self._env_admin_hash is not None:
            return True
        await self.refresh()
        return any(key.admin for key in self._keys.values())
