"""Authentication failures: detailed for the log, generic for the caller."""

from __future__ import annotations


class AuthFailed(Exception):
    """A credential was presented and is not valid. `reason` is for the server log only;
    callers get a generic problem (never which check failed)."""

    def __init__(self, reason: str, status: int = 401):
        super().__init__(reason)
        self.reason = reason
        self.status = status
