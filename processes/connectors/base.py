"""What every connector action shares: naming its connection, and getting the client."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from runtime.core.components import ConnectionClient, Step
from runtime.core.errors import WharfError

if TYPE_CHECKING:
    from runtime.core.components import StepContext


class NoConnections(WharfError):
    problem = "no-connections"
    title = "No connections"


def check_connection_name(value: str, info: ValidationInfo, connector: str) -> str:
    """A `connection` field names a connection of `connector` in connections.yaml (checked
    at load, for steps and triggers alike)."""
    known = (info.context or {}).get("connections")
    if known is None:
        return value  # validated outside a directory (a model on its own)
    config = known.get(value)
    refused = (info.context or {}).get("refused_connections") or {}
    if config is None and value in refused:
        raise ValueError(f"connection {value!r} {refused[value]}")
    if config is None:
        names = ", ".join(sorted(known)) or "none defined"
        raise ValueError(f"no connection {value!r} in connections.yaml ({names})")
    if getattr(config, "connector", None) != connector:
        raise ValueError(f"connection {value!r} is not a {connector} connection")
    return value


class ConnectorStep(Step):
    """Base of connector actions; `connector` names the kind of connection they take."""

    connector: ClassVar[str]
    connection: str = Field(description="Name of a connection in connections.yaml.")

    @field_validator("connection")
    @classmethod
    def _known_connection(cls, value: str, info: ValidationInfo) -> str:
        return check_connection_name(value, info, cls.connector)

    async def connection_client(self, context: StepContext) -> ConnectionClient:
        if context.connections is None:
            raise NoConnections("no connections are available to this execution")
        return await context.connections.client(self.connection)
