"""The `sql.poll` trigger: run a query on a schedule and hand the new rows to the process.

The largest value of one column seen so far (the watermark) is bound to `:last`, so each
fire selects only rows added or changed since the last successful run. It is stored typed,
because asyncpg refuses a string where the column is a timestamp, and saved only after the
execution succeeded: a failed run sees the same rows again (at least once, never lost).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from processes.connectors.base import check_connection_name
from processes.connectors.sql import (
    SqlClient,
    SqlError,
    WatermarkType,
    before,
    binds_last,
    decode_watermark,
    encode_watermark,
    initial_value,
    json_value,
    newest,
    poll_rows,
)
from runtime.core import registry
from runtime.core.document import Document
from runtime.schedules.sources import Batch, Fire, Source
from runtime.schedules.timing import ScheduleContext, TimedTrigger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from runtime.core.connections import Connections
    from runtime.core.engine import Process

WATERMARK_KEY = "watermark"


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
    connector: ClassVar[str] = "sql"  # the kind of its connections (listed in the docs)

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
        if not binds_last(value):
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
        rows = await poll_rows(client, trigger.query, last)
        if not rows:
            return
        latest = newest(rows, trigger.watermark)
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
        context = {"watermark": encode_watermark(latest) if latest is not None else None}
        yield Batch(documents, label=f"{len(rows)} row(s) after {last!r}", context=context)

    async def succeeded(self, fire: Fire, batch: Batch, execution_id: str) -> None:
        new = batch.context.get("watermark")
        if new is None:
            return
        current = await fire.store.poller_value(fire.process, WATERMARK_KEY)
        # With `overlap: allow`, an older batch may finish after a newer one: never go back.
        if current is None or not before(decode_watermark(new), decode_watermark(current)):
            await fire.store.set_poller_value(fire.process, WATERMARK_KEY, new)
