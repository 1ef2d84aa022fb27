"""What a running server holds: processes, settings, store, dispatcher, connections,
scheduler."""

from __future__ import annotations

from aiohttp import web

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


class RuntimeState:
    def __init__(
        self,
        processes: list[Process],
        settings: Settings,
        store: Store,
        dispatcher: Dispatcher,
        connections: Connections,
        security: SecurityConfig,
    ):
        self.processes = processes
        self.by_name = {process.name: process for process in processes}
        self.settings = settings
        self.store = store
        self.dispatcher = dispatcher
        self.connections = connections
        self.scheduler = Scheduler(store, dispatcher)
        self.security = security
        self.api_keys = ApiKeyBook(store, settings.admin_key)
        self.usage = UsageRecorder()
        self.metrics = Metrics(
            inbox_depth=lambda: dispatcher.queued, outstanding=lambda: dispatcher.outstanding
        )
        dispatcher.metrics = self.scheduler.metrics = self.metrics
        self.ready = False
        self.stopping = False


STATE = web.AppKey("wharf_state", RuntimeState)
