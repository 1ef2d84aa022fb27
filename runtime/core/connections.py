"""The live connection clients of a running server: opened on first use, one per
connection, shared by every execution, closed at shutdown. (`runtime/loading/connections.py`
reads them from `connections.yaml`.)"""

from __future__ import annotations

import asyncio

from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.errors import WharfError


class ConnectionNotFound(WharfError):
    problem = "connection-not-found"
    title = "Connection not found"


class Connections:
    """The live clients of a running server."""

    def __init__(self, configs: dict[str, ConnectionConfig], *, checking: bool = False):
        """`checking`: clients for `wharf connections test` only, opened without side effects."""
        self.configs = configs
        self.checking = checking
        self._clients: dict[str, ConnectionClient] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def client(self, name: str) -> ConnectionClient:
        client = self._clients.get(name)
        if client is not None:
            return client
        if name not in self.configs:
            raise ConnectionNotFound(f"no connection named {name!r}")
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:  # one open per connection, however many executions ask at once
            if name not in self._clients:
                config = self.configs[name]
                opened = config.open_for_check() if self.checking else config.open()
                self._clients[name] = await opened
        return self._clients[name]

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()
