"""The `sql` connector: SQLAlchemy Core (async) over SQLite, PostgreSQL and MySQL/MariaDB.

URLs name the async driver: `sqlite+aiosqlite:///file.db`, `postgresql+asyncpg://...`,
`mysql+asyncmy://...`. The PostgreSQL and MySQL drivers are extras (`pip install
'wharf[postgresql]'`, `'wharf[mysql]'`; `mysql+aiomysql` needs `aiomysql`): a missing one
is named when the connection opens. A password is given by reference
(`${env:DB_PASSWORD}`), never literally; it is put into the URL object as is, so `@`, `/`
or `#` in it stay part of the password. Relative SQLite paths are relative to the
directory holding connections.yaml.
"""

from __future__ import annotations

import asyncio
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from runtime.core import registry, secrets
from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.errors import ConfigError

DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg", "mysql+asyncmy", "mysql+aiomysql")
_INSTALL = {"asyncpg": "'wharf[postgresql]'", "asyncmy": "'wharf[mysql]'"}


@registry.connector("sql")
class SqlConnection(ConnectionConfig):
    """A relational database, used by the `sql.*` steps."""

    connector: Literal["sql"] = Field(description="The connector kind.")
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

    @field_validator("url")
    @classmethod
    def _sqlite_beside_connections_file(cls, value: str, info: ValidationInfo) -> str:
        """A relative SQLite file is relative to the directory holding connections.yaml."""
        directory = (info.context or {}).get("base_dir")
        if directory is None or secrets.contains_reference(value):
            return value
        url = make_url(value)
        database = url.database
        if not url.drivername.startswith("sqlite") or database in (None, "", ":memory:"):
            return value
        assert database is not None
        if database.startswith("file:") or Path(database).is_absolute():
            return value
        absolute = os.path.abspath(Path(directory) / database)
        return url.set(database=absolute).render_as_string(hide_password=False)

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

    def resolved_url(self) -> URL:
        return resolved_url(self.url)

    async def open_for_check(self) -> ConnectionClient:
        """The database as it is: a missing SQLite file is reported, not created; no WAL
        switch, no `init` statements."""
        url = self.resolved_url()
        if _sqlite_file(url):
            assert url.database is not None
            if not await asyncio.to_thread(Path(url.database).is_file):
                return _Absent(f"sqlite: {url.database} does not exist yet (created on first use)")
        return SqlClient(_engine(url, poolclass=NullPool))

    async def open(self) -> SqlClient:
        url = self.resolved_url()
        if _sqlite_file(url):
            assert url.database is not None
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        if _sqlite_file(url):
            # SQLite has one writer at a time: one pooled connection queues writers in the
            # pool instead of spinning on the file lock; WAL lets readers go on meanwhile.
            engine = _engine(url, pool_size=1, max_overflow=0, pool_timeout=self.timeout)
            event.listen(engine.sync_engine, "connect", _sqlite_wal)
        else:
            engine = _engine(
                url, pool_size=self.pool_size, pool_timeout=self.timeout, pool_pre_ping=True
            )
        if url.drivername.startswith("sqlite"):
            event.listen(engine.sync_engine, "before_cursor_execute", _decimals, retval=True)
        if self.init:
            async with engine.begin() as connection:
                for statement in self.init:
                    await connection.execute(text(statement))
        return SqlClient(engine)


_PLACEHOLDER = "wharfsecretref{}x"


def resolved_url(text: str) -> URL:
    """The URL with its secret references resolved inside the parsed URL object, never
    pasted into the URL text: a password holding `@`, `/`, `#` or `:` stays a password."""
    references: list[str] = []

    def hide(match: re.Match[str]) -> str:
        references.append(match.group(0))
        return _PLACEHOLDER.format(len(references) - 1)

    url = make_url(secrets.REFERENCE.sub(hide, text))
    if not references:
        return url

    def fill(value: str | None) -> str | None:
        if value is None:
            return None
        for index, reference in enumerate(references):
            placeholder = _PLACEHOLDER.format(index)
            if placeholder in value:
                value = value.replace(placeholder, secrets.resolve(reference))
        return value

    query = {
        key: tuple(str(fill(v)) for v in value) if isinstance(value, tuple) else str(fill(value))
        for key, value in url.query.items()
    }
    return URL.create(
        url.drivername,
        username=fill(url.username),
        password=fill(url.password),
        host=fill(url.host),
        port=url.port,
        database=fill(url.database),
        query=query,
    )


def _engine(url: URL, **options: Any) -> AsyncEngine:
    """The engine; a driver that is not installed is named, with what installs it."""
    try:
        return create_async_engine(url, **options)
    except ModuleNotFoundError as exc:
        module = exc.name or url.get_driver_name()
        install = _INSTALL.get(module, module)
        raise ConfigError(
            f"the {url.drivername} driver is not installed (pip install {install})"
        ) from None


def _sqlite_file(url: URL) -> bool:
    return url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:")


class _Absent(ConnectionClient):
    """What `connections test` reports for a database that is created on first use."""

    def __init__(self, detail: str):
        self.detail = detail

    async def check(self) -> str:
        return self.detail


def _sqlite_wal(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _decimals(
    connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> tuple[str, Any]:
    """SQLite's driver refuses Decimal parameters and SQLite has no exact numeric type:
    a Decimal (e.g. an xs:decimal from a SOAP request) is bound as its exact digits, which
    a TEXT column keeps and a NUMERIC or REAL column converts as it would any number."""
    if many:
        return statement, [_exact(row) for row in parameters]
    return statement, _exact(parameters)


def _exact(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in parameters.items()}
    if isinstance(parameters, list | tuple):
        return type(parameters)(str(v) if isinstance(v, Decimal) else v for v in parameters)
    return parameters


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
