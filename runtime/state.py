"""What a running server holds: processes, settings, store and dispatcher."""

from __future__ import annotations

from aiohttp import web

from runtime.dispatch import Dispatcher
from runtime.engine import Process
from runtime.settings import Settings
from runtime.store import Store


class RuntimeState:
    def __init__(
        self, processes: list[Process], settings: Settings, store: Store, dispatcher: Dispatcher
    ):
        self.processes = processes
        self.by_name = {process.name: process for process in processes}
        self.settings = settings
        self.store = store
        self.dispatcher = dispatcher
        self.ready = False
        self.stopping = False


STATE = web.AppKey("wharf_state", RuntimeState)
