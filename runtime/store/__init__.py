"""Durable state behind one URL: `sqlite:///relative.db`, `sqlite:////abs/path.db`,
`sqlite://` (in memory, for tests). One protocol per concern (`protocols`); `Store` is
all of them, and `open_store` picks the backend by the URL's scheme."""

from __future__ import annotations

from runtime.core.errors import ConfigError
from runtime.store.protocols import (
    ExecutionLog,
    FireLedger,
    Inbox,
    KeyRing,
    PollerMemory,
    QuotaLedger,
    Retention,
    SchedulerStore,
    Store,
)
from runtime.store.records import (
    Accepted,
    ApiKeyRecord,
    Attempt,
    ExecutionQuery,
    ExecutionRecord,
    FireRecord,
    InboxItem,
)

DEFAULT_STORE_URL = "sqlite:///.wharf/wharf.db"

__all__ = [
    "DEFAULT_STORE_URL",
    "Accepted",
    "ApiKeyRecord",
    "Attempt",
    "ExecutionLog",
    "ExecutionQuery",
    "ExecutionRecord",
    "FireLedger",
    "FireRecord",
    "Inbox",
    "InboxItem",
    "KeyRing",
    "PollerMemory",
    "QuotaLedger",
    "Retention",
    "SchedulerStore",
    "Store",
    "open_store",
]


def open_store(url: str) -> Store:
    """A store for a URL (not yet opened: call `await store.open()`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"a store URL looks like sqlite:///path/to/file.db, not {url!r}")
    if scheme == "sqlite":
        from runtime.store.sqlite import SQLiteStore

        path = rest[1:] if rest.startswith("/") else rest
        return SQLiteStore(path or ":memory:")
    raise ConfigError(f"unsupported store {scheme!r} (supported: sqlite)")
