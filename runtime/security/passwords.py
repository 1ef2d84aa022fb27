"""Password hashes for basic-auth users: scrypt, from the standard library.

Format: `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`; `wharf hash-password` prints one.
Verification runs in a thread: scrypt is deliberately slow (tens of milliseconds), and
the event loop must not wait on it. Verified passwords are remembered by a keyed digest
for a minute so a client sending the same credentials on every request costs one scrypt,
not one per request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time

N, R, P = 2**14, 8, 1
_REMEMBER_SECONDS = 60.0
_PEPPER = os.urandom(32)  # per process: the cache's keys mean nothing outside it
_verified: dict[bytes, float] = {}
_dummies: dict[tuple[int, int, int], str] = {}  # by cost: hashes no password matches in practice


def hash_password(password: str, n: int = N, r: int = R, p: int = P) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${n}${r}${p}${encoded[0]}${encoded[1]}"


def is_password_hash(value: str) -> bool:
    parts = value.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])


def _check(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


async def verify_absent_user(password: str, like: str | None = None) -> bool:
    """Verify against a throw-away hash of the same cost as `like` (a real user's hash):
    an unknown user costs the same scrypt as a known one with a wrong password, so answer
    times do not tell which user names exist."""
    n, r, p = (
        (int(x) for x in like.split("$")[1:4]) if like and is_password_hash(like) else (N, R, P)
    )
    dummy = _dummies.get((n, r, p))
    if dummy is None:  # made once per cost, off the event loop like every scrypt
        made = await asyncio.to_thread(hash_password, os.urandom(16).hex(), n, r, p)
        dummy = _dummies.setdefault((n, r, p), made)
    await asyncio.to_thread(_check, password, dummy)
    return False


async def verify_password(password: str, stored: str) -> bool:
    mark = hmac.digest(_PEPPER, f"{stored}\0{password}".encode(), "sha256")
    seen = _verified.get(mark)
    if seen is not None and time.monotonic() - seen < _REMEMBER_SECONDS:
        return True
    if not await asyncio.to_thread(_check, password, stored):
        return False
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[mark] = time.monotonic()
    return True
