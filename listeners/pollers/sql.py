"""The `sql.poll` trigger: run a query on a schedule and hand the new rows to the process.

The largest value of one column seen so far (the watermark) is bound to `:last`, so each
fire selects only rows added or changed since the last successful run. It is stored typed,
because asyncpg refuses a string where the column is a timestamp, and saved only after the
execution succeeded: a failed run sees the same rows again (at least once, never lost).
"""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from processes.connectors.base import check_connection_name
from processes.connectors.sql import SqlClient, SqlError
from runtime.core import registry
from runtime.core.document import Document
from runtime.core.secrets import redact_text
from runtime.schedules.sources import Batch, Fire, Source
from runtime.schedules.timing import ScheduleContext, TimedTrigger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from runtime.core.connections import Connections
    from runtime.core.engine import Process

WATERMARK_KEY = "watermark"
WatermarkType = Literal["auto", "string", "integer", "number", "decimal", "datetime", "date"]


@registry.trigger("sql.poll")
class SqlPollTrigger(TimedTrigger):
    """Poll a table on a schedule: run `query` with `:last` bound to the watermark (the
    largest `watermark` column value of the last successful batch, `initial` at first).
    New rows run the process once, as one document per row (`rows`) or one JSON array
    (`batch`); no rows, no execution. The watermark is saved only when the execution
    succeeds, so a failure brings the same rows again. Properties: `sql_watermark` (the
    `:last` the query ran with), `sql_rows`, `schedule_slot`, `schedule_kind`. Order by the
    watermark column and prefer a strictly increasing one: rows that share the boundary
    value with `>` after a `LIMIT` are otherwise skipped."""

    execution_trigger: ClassVar[str] = "poll"

    connection: str = Field(description="Name of an `sql` connection in connections.yaml.")
    query: str = Field(
        description="SELECT with a `:last` parameter, e.g. `SELECT id, total, updated_at "
        "FROM orders WHERE updated_at > :last ORDER BY updated_at LIMIT 500`."
    )
    watermark: str = Field(description="Result column whose largest value becomes `:last`.")
    initial: datetime | date | int | float | str = Field(
        description="`:last` before the first successful batch. An ISO 8601 string is bound "
        "as a datetime (or date); write an offset (`Z`, `+02:00`) only for columns with a "
        "time zone. On SQLite strings are bound as written."
    )
    initial_type: WatermarkType = Field(
        "auto", description="Bind `initial` as this type instead of guessing from its form."
    )
    output: Literal["rows", "batch"] = Field(
        "rows", description="`rows`: one JSON object per row; `batch`: one JSON array."
    )

    @field_validator("connection")
    @classmethod
    def _sql_connection(cls, value: str, info: ValidationInfo) -> str:
        return check_connection_name(value, info, "sql")

    @field_validator("query")
    @classmethod
    def _has_last(cls, value: str) -> str:
        if "last" not in text(value).compile().params:
            raise ValueError("the query needs a `:last` parameter (the watermark)")
        return value

    def source(self, process: Process, context: ScheduleContext) -> Source:
        return SqlPollSource(self, context.connections)


class SqlPollSource(Source):
    def __init__(self, trigger: SqlPollTrigger, connections: Connections):
        self.trigger = trigger
        self.connections = connections

    async def _client(self) -> SqlClient:
        client = await self.connections.client(self.trigger.connection)
        if not isinstance(client, SqlClient):
            raise SqlError(f"connection {self.trigger.connection!r} is not an sql connection")
        return client

    async def batches(self, fire: Fire) -> AsyncIterator[Batch]:
        trigger = self.trigger
        client = await self._client()
        stored = await fire.store.poller_value(fire.process, WATERMARK_KEY)
        if stored is not None:
            last = decode_watermark(stored)
        else:
            last = initial_value(trigger.initial, trigger.initial_type, client.dialect)
        try:
            async with client.engine.connect() as connection:
                result = await connection.execute(
                    text(trigger.query), {"last": bindable(last, client.dialect)}
                )
                rows = [dict(row._mapping) for row in result]
        except SQLAlchemyError as exc:
            original = getattr(exc, "orig", None) or exc
            reason = str(original).strip().splitlines()[0] if str(original).strip() else ""
            raise SqlError(f"the poll query failed: {redact_text(reason)}") from None
        if not rows:
            return
        newest = _newest(rows, trigger.watermark)
        properties = {
            **fire.properties(),
            "sql_watermark": json_value(last),
            "sql_rows": len(rows),
        }
        bodies = [{name: json_value(value) for name, value in row.items()} for row in rows]
        if trigger.output == "rows":
            documents = [Document.json(body, properties) for body in bodies]
        else:
            documents = [Document.json(bodies, properties)]
        context = {"watermark": encode_watermark(newest) if newest is not None else None}
        yield Batch(documents, label=f"{len(rows)} row(s) after {last!r}", context=context)

    async def succeeded(self, fire: Fire, batch: Batch, execution_id: str) -> None:
        new = batch.context.get("watermark")
        if new is None:
            return
        current = await fire.store.poller_value(fire.process, WATERMARK_KEY)
        # With `overlap: allow`, an older batch may finish after a newer one: never go back.
        if current is None or not _before(decode_watermark(new), decode_watermark(current)):
            await fire.store.set_poller_value(fire.process, WATERMARK_KEY, new)


def _newest(rows: list[dict[str, Any]], column: str) -> Any:
    if column not in rows[0]:
        names = ", ".join(rows[0]) or "none"
        raise SqlError(f"the query returns no column {column!r} for the watermark ({names})")
    values = [row[column] for row in rows if row[column] is not None]
    try:
        return max(values) if values else None
    except TypeError:
        kinds = ", ".join(sorted({type(v).__name__ for v in values}))
        raise SqlError(f"watermark column {column!r} mixes value types ({kinds})") from None


def _before(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:  # the column changed type (the process was edited): take the new one
        return False


# --- watermark values: typed in the store, bindable on every driver -------------------------


def encode_watermark(value: Any) -> dict[str, Any]:
    """A JSON form that decodes to the same Python type (asyncpg binds by exact type)."""
    if isinstance(value, bool):
        return {"type": "integer", "value": int(value)}
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, int):
        return {"type": "integer", "value": value}
    if isinstance(value, float):
        return {"type": "number", "value": value}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    raise SqlError(
        f"a watermark of type {type(value).__name__} is not supported; use a number, "
        "string, date or datetime column"
    )


def decode_watermark(stored: Any) -> Any:
    if not isinstance(stored, dict) or "type" not in stored:
        return stored  # not written by this module: use as is
    value: Any = stored.get("value")
    match stored["type"]:
        case "datetime":
            return datetime.fromisoformat(value)
        case "date":
            return date.fromisoformat(value)
        case "decimal":
            return Decimal(value)
        case "integer":
            return int(value)
        case "number":
            return float(value)
        case _:
            return value


def initial_value(value: Any, kind: WatermarkType, dialect: str) -> Any:
    """`initial` as the type the column compares with."""
    if kind == "auto":
        if not isinstance(value, str) or dialect == "sqlite":
            return value
        try:
            return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        except ValueError:
            return value
    try:
        match kind:
            case "string":
                return value.isoformat() if isinstance(value, date) else str(value)
            case "integer":
                return int(value)
            case "number":
                return float(value)
            case "decimal":
                return Decimal(str(value))
            case "datetime":
                return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            case _:
                return value if isinstance(value, date) else date.fromisoformat(str(value))
    except (TypeError, ValueError, ArithmeticError):
        raise SqlError(f"initial {value!r} is not a valid {kind}") from None


def bindable(value: Any, dialect: str) -> Any:
    """SQLite has no datetime or decimal type: bind those as text and float."""
    if dialect == "sqlite":
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
    return value


def json_value(value: Any) -> Any:
    """A column value as JSON: ISO 8601 for dates and times, numbers for decimals."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return (
            int(value) if value.is_finite() and value == value.to_integral_value() else float(value)
        )
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
