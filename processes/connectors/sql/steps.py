"""The `sql.*` actions: query, execute, insert and upsert through a `sql` connection.

Values are always bound parameters, never formatted into SQL. Table and column names
are checked at load (plain identifiers, optionally `schema.table`) and quoted by
SQLAlchemy. All documents of one step run in one transaction.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy import column, table, text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.sql.expression import TableClause

from processes.connectors.base import ConnectorStep
from processes.connectors.sql.connection import SqlClient
from processes.connectors.sql.errors import SqlError
from runtime.core import registry
from runtime.core.document import Document
from runtime.core.expressions import ValueField, variables
from runtime.core.secrets import redact_text

if TYPE_CHECKING:
    from runtime.core.components import StepContext

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _check_identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a plain table/column name")
    return value


class SqlStep(ConnectorStep):
    connector = "sql"

    async def client(self, context: StepContext) -> SqlClient:
        client = await self.connection_client(context)
        assert isinstance(client, SqlClient)
        return client

    def failed(self, exc: SQLAlchemyError, table_name: str | None = None) -> SqlError:
        original = getattr(exc, "orig", None) or exc
        reason = redact_text(str(original).strip().splitlines()[0] if str(original).strip() else "")
        where = f" on table {table_name}" if table_name else ""
        if isinstance(exc, IntegrityError):
            return SqlError(f"constraint violated{where}: {reason}", status=409)
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return SqlError(f"lost the database connection{where}: {reason}", status=503)
        return SqlError(f"database error{where}: {reason}")


@registry.step("sql.query")
class SqlQueryStep(SqlStep):
    """Run a SELECT per document with bound `:name` parameters. Rows become documents:
    one per row (`rows`), one list (`list`), or the first row or nothing (`first`)."""

    statement: str = Field(description="SQL with `:name` placeholders.")
    parameters: dict[str, ValueField] = Field(default_factory=dict, description="Name -> value.")
    output: Literal["rows", "list", "first"] = Field("rows", description="Result shape.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.client(context)
        statement = text(self.statement)
        result: list[Document] = []
        try:
            async with client.engine.connect() as connection:
                for document in documents:
                    names = variables(document)
                    params = {k: v.evaluate(names) for k, v in self.parameters.items()}
                    rows = [
                        dict(row._mapping) for row in await connection.execute(statement, params)
                    ]
                    if self.output == "rows":
                        result += [document.derive_json(row) for row in rows]
                    elif self.output == "list":
                        result.append(document.derive_json(rows))
                    elif rows:
                        result.append(document.derive_json(rows[0]))
        except SQLAlchemyError as exc:
            raise self.failed(exc) from None
        return result


@registry.step("sql.execute")
class SqlExecuteStep(SqlStep):
    """Run a statement (UPDATE, DELETE, DDL...) per document, in one transaction; the
    affected row count goes into the `sql_rowcount` property."""

    statement: str = Field(description="SQL with `:name` placeholders.")
    parameters: dict[str, ValueField] = Field(default_factory=dict, description="Name -> value.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.client(context)
        statement = text(self.statement)
        try:
            async with client.engine.begin() as connection:
                for document in documents:
                    names = variables(document)
                    params = {k: v.evaluate(names) for k, v in self.parameters.items()}
                    outcome = await connection.execute(statement, params)
                    document.properties["sql_rowcount"] = outcome.rowcount
        except SQLAlchemyError as exc:
            raise self.failed(exc) from None
        return documents


class _RowStep(SqlStep):
    table: str = Field(description="Table name (optionally `schema.table`).")
    values: dict[str, ValueField] = Field(description="Column -> value, per document.")

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str) -> str:
        return _check_identifier(value)

    @field_validator("values")
    @classmethod
    def _column_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("give at least one column")
        for name in value:
            _check_identifier(name)
        return value

    def table_clause(self) -> TableClause:
        schema, _, name = self.table.rpartition(".")
        return table(name, *(column(c) for c in self.values), schema=schema or None)

    def rows(self, documents: list[Document]) -> list[dict[str, Any]]:
        rows = []
        for document in documents:
            names = variables(document)
            rows.append({name: value.evaluate(names) for name, value in self.values.items()})
        return rows


@registry.step("sql.insert")
class SqlInsertStep(_RowStep):
    """Insert one row per document, all in one transaction (one batch)."""

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        if not documents:
            return documents
        client = await self.client(context)
        try:
            async with client.engine.begin() as connection:
                await connection.execute(self.table_clause().insert(), self.rows(documents))
        except SQLAlchemyError as exc:
            raise self.failed(exc, self.table) from None
        return documents


@registry.step("sql.upsert")
class SqlUpsertStep(_RowStep):
    """Insert or update one row per document, matched on `key` (a primary key or unique
    constraint), in one transaction: `ON CONFLICT DO UPDATE` on SQLite and PostgreSQL,
    `ON DUPLICATE KEY UPDATE` on MySQL/MariaDB."""

    key: list[str] = Field(min_length=1, description="Columns that identify a row.")
    update: list[str] | None = Field(
        None, description="Columns to update on a match (default: every non-key column)."
    )

    @model_validator(mode="after")
    def _key_in_values(self) -> SqlUpsertStep:
        missing = [name for name in self.key if name not in self.values]
        if missing:
            raise ValueError(f"key column(s) {', '.join(missing)} must be in `values`")
        for name in self.update or []:
            if name not in self.values:
                raise ValueError(f"update column {name!r} must be in `values`")
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        if not documents:
            return documents
        client = await self.client(context)
        rows = _last_per_key(self.rows(documents), self.key)
        updates = (
            self.update
            if self.update is not None
            else [c for c in self.values if c not in self.key]
        )
        target = self.table_clause()
        try:
            async with client.engine.begin() as connection:
                await connection.execute(self._statement(client.dialect, target, updates), rows)
        except SQLAlchemyError as exc:
            raise self.failed(exc, self.table) from None
        return documents

    def _statement(self, dialect: str, target: TableClause, updates: list[str]) -> Any:
        if dialect == "mysql":
            insert = mysql.insert(target)
            if not updates:
                return insert.prefix_with("IGNORE")
            return insert.on_duplicate_key_update({c: insert.inserted[c] for c in updates})
        module = postgresql if dialect == "postgresql" else sqlite
        if dialect not in ("postgresql", "sqlite"):
            raise SqlError(f"upsert is not supported on {dialect}")
        statement = module.insert(target)
        if not updates:
            return statement.on_conflict_do_nothing(index_elements=self.key)
        return statement.on_conflict_do_update(
            index_elements=self.key, set_={c: statement.excluded[c] for c in updates}
        )


def _last_per_key(rows: list[dict[str, Any]], key: list[str]) -> list[dict[str, Any]]:
    """One row per key within a batch (the last wins), as one statement cannot touch a row
    twice on every database."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        latest[tuple(row[name] for name in key)] = row
    return list(latest.values())
