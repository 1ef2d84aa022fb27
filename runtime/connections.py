"""Named connections from `connections.yaml`, and the live clients behind them.

```yaml
connections:
  crm_db:
    connector: sql
    url: postgresql+asyncpg://wharf:${env:CRM_DB_PASSWORD}@db.internal/crm
```

Each connection is one connector kind (the `connector:` key selects its config model).
Steps name a connection; the name is checked at load. Clients open on first use, one per
connection, shared by every execution, and close at shutdown.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from runtime import registry
from runtime.components import ConnectionClient, ConnectionConfig
from runtime.errors import WharfError
from runtime.yaml_models import LoadProblem, read_yaml_file, validate_file

CONNECTIONS_FILES = ("connections.yaml", "connections.yml")


def connections_model() -> type[BaseModel]:
    """`{connections: {name: <one of the registered connector configs>}}`."""
    registry.load_components()
    kinds = tuple(registry.CONNECTORS.values())
    any_connection: Any
    if len(kinds) == 1:
        any_connection = kinds[0]
    else:
        any_connection = Annotated[Union[kinds], Field(discriminator="connector")]  # noqa: UP007
    return create_model(
        "ConnectionsFile",
        __config__=ConfigDict(extra="forbid"),
        connections=(dict[str, any_connection], Field(default_factory=dict)),
    )


def load_connections(directory: Path) -> tuple[dict[str, ConnectionConfig], list[LoadProblem]]:
    for name in CONNECTIONS_FILES:
        path = directory / name
        if path.is_file():
            break
    else:
        return {}, []
    file, problems = read_yaml_file(path, str(path))
    if file is None:
        return {}, problems
    model, model_problems = validate_file(file, connections_model(), {"base_dir": directory})
    if model is None:
        return {}, problems + model_problems
    connections: dict[str, ConnectionConfig] = getattr(model, "connections")  # noqa: B009
    return connections, problems


class ConnectionNotFound(WharfError):
    problem = "connection-not-found"
    title = "Connection not found"


class Connections:
    """The live clients of a running server."""

    def __init__(self, configs: dict[str, ConnectionConfig]):
        self.configs = configs
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
                self._clients[name] = await self.configs[name].open()
        return self._clients[name]

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()
