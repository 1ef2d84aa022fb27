"""The `sql` connector: SQLAlchemy Core (async) over SQLite, PostgreSQL and MySQL/MariaDB.

URLs name the async driver: `sqlite+aiosqlite:///file.db`, `postgresql+asyncpg://...`,
`mysql+asyncmy://...`. A password is given by reference (`${env:DB_PASSWORD}`), never
literally. Relative SQLite paths are relative to the server's working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from runtime import registry, secrets
from runtime.components import ConnectionClient, ConnectionConfig

DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg", "mysql+asyncmy", "mysql+aiomysql")


@registry.connector("sql")
class SqlConnection(ConnectionConfig):
    """A relational database, used by the `sql.*` steps."""

    connector: Literal["sql"]
    url: str = Field(
        description="SQLAlchemy URL with an async driver; the password as `${env:NAME}`."
    )
    pool_size: int = Field(5, ge=1, le=100, description="Connections kept open.")
    timeout: float = Field(30.0, gt=0, description="Seconds to wait for a pooled connection.")
    init: list[str] = Field(
        default_factory=list,
        description="Statements run once when the connection opens, e.g. "
        "`CREATE TABLE IF NOT EXISTS ...`.",
    )

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        placeholder = secrets.REFERENCE.sub("x", value)
        try:
            url = make_url(placeholder)
        except ArgumentError:
            raise ValueError(
                "not a database URL (e.g. postgresql+asyncpg://user@host/db)"
            ) from None
        if url.drivername not in DRIVERS:
            raise ValueError(f"driver {url.drivername!r} is not one of {', '.join(DRIVERS)}")
        return value

    @model_validator(mode="after")
    def _no_literal_password(self) -> SqlConnection:
        url = make_url(secrets.REFERENCE.sub("REF", self.url))
        if url.password not in (None, "", "REF") and not self.insecure:
            raise secrets.LiteralSecretError(
                ("url",),
                "the URL holds a literal password; write it as ${env:NAME} or ${file:/path} "
                "(or mark the connection `insecure: true`)",
            )
        return self

    async def open(self) -> SqlClient:
        url = make_url(secrets.resolve(self.url))
        if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
            # SQLite has one writer at a time: one pooled connection queues writers in the
            # pool instead of spinning on the file lock; WAL lets readers go on meanwhile.
            engine = create_async_engine(
                url, pool_size=1, max_overflow=0, pool_timeout=self.timeout
            )
            event.listen(engine.sync_engine, "connect", _sqlite_wal)
        else:
            engine = create_async_engine(
                url, pool_size=self.pool_size, pool_timeout=self.timeout, pool_pre_ping=True
            )
        if self.init:
            async with engine.begin() as connection:
                for statement in self.init:
                    await connection.execute(text(statement))
        return SqlClient(engine)


def _sqlite_wal(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class SqlClient(ConnectionClient):
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()

    async def check(self) -> str:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return f"{self.dialect}: SELECT 1 ok"
