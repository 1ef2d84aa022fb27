"""What a running server holds. `create_app` builds it (and nothing else does); triggers
see it only through the listeners' `MountContext`, which it satisfies."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from runtime.core.clock import Clock
from runtime.core.connections import Connections
from runtime.core.engine import Process
from runtime.dispatch.dispatcher import Dispatcher
from runtime.schedules.scheduler import Scheduler
from runtime.security.api_keys import ApiKeyBook
from runtime.security.config import SecurityConfig
from runtime.server.settings import Settings
from runtime.store import Store
from runtime.traffic.metrics import Metrics
from runtime.traffic.usage import UsageRecorder


@dataclass(eq=False)
class RuntimeState:
    app: web.Application
    processes: list[Process]
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    connections: Connections
    security: SecurityConfig
    scheduler: Scheduler
    api_keys: ApiKeyBook
    usage: UsageRecorder
    metrics: Metrics
    clock: Clock  # schedules and traffic limits read time through it
    ready: bool = False
    stopping: bool = False
    by_name: dict[str, Process] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {process.name: process for process in self.processes}


STATE = web.AppKey("wharf_state", RuntimeState)
