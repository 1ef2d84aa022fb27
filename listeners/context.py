"""How a trigger attaches to the running server: the contract between listeners and
the composition root.

A trigger's `mount(process, context)` sees only this `MountContext` (never the server's
state object), so listeners depend on the services they use, not on `runtime/server/`.
`runtime/server/app.py` builds the one object that satisfies it.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aiohttp import web

    from runtime.core.clock import Clock
    from runtime.core.connections import Connections
    from runtime.core.engine import Process
    from runtime.dispatch.dispatcher import Dispatcher
    from runtime.schedules.scheduler import Scheduler
    from runtime.security.api_keys import ApiKeyBook
    from runtime.security.config import SecurityConfig
    from runtime.store import QuotaLedger
    from runtime.traffic.metrics import Metrics
    from runtime.traffic.usage import UsageRecorder


class ListenerSettings(Protocol):
    """The server settings a listener reads."""

    @property
    def max_body(self) -> int: ...

    @property
    def max_documents(self) -> int: ...

    @property
    def tls_client_ca(self) -> str | None: ...

    @property
    def trusted_proxies(self) -> list[IPv4Network | IPv6Network]: ...


class MountContext(Protocol):
    """What a trigger may use while it mounts, and keep for its requests."""

    @property
    def app(self) -> web.Application: ...

    @property
    def settings(self) -> ListenerSettings: ...

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def connections(self) -> Connections: ...

    @property
    def scheduler(self) -> Scheduler: ...

    @property
    def security(self) -> SecurityConfig: ...

    @property
    def api_keys(self) -> ApiKeyBook: ...

    @property
    def store(self) -> QuotaLedger: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def usage(self) -> UsageRecorder: ...

    @property
    def clock(self) -> Clock:
        """The time rate limits and quotas go by (a fake one in tests)."""
        ...


@runtime_checkable
class Mountable(Protocol):
    """A trigger that can attach itself: every registered trigger kind is one."""

    def mount(self, process: Process, context: MountContext) -> None: ...
