"""What the `sql.poll` trigger shares with the `sql` connector: the poll query and its
watermark.

The watermark is the largest value of one column seen so far, bound to `:last`. It is
stored typed (`encode_watermark` / `decode_watermark`), because asyncpg refuses a string
where the column is a timestamp, and bound as each driver takes it (`bindable`); rows
become JSON (`json_value`). The trigger (`listeners/pollers/sql.py`) decides when to poll
and when to save a watermark.
"""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from processes.connectors.sql.connection import SqlClient
from processes.connectors.sql.errors import SqlError
from runtime.core.secrets import redact_text

WatermarkType = Literal["auto", "string", "integer", "number", "decimal", "datetime", "date"]


def binds_last(query: str) -> bool:
    """The query has the `:last` parameter the watermark is bound to."""
    return "last" in text(query).compile().params


async def poll_rows(client: SqlClient, query: str, last: Any) -> list[dict[str, Any]]:
    """The rows `query` selects with `:last` bound to the watermark `last`."""
    try:
        async with client.engine.connect() as connection:
            result = await connection.execute(text(query), {"last": bindable(last, client.dialect)})
            return [dict(row._mapping) for row in result]
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None) or exc
        reason = str(original).strip().splitlines()[0] if str(original).strip() else ""
        raise SqlError(f"the poll query failed: {redact_text(reason)}") from None


def newest(rows: list[dict[str, Any]], column: str) -> Any:
    """The largest non-null value of `column` in `rows` (the next watermark), or None."""
    if column not in rows[0]:
        names = ", ".join(rows[0]) or "none"
        raise SqlError(f"the query returns no column {column!r} for the watermark ({names})")
    values = [row[column] for row in rows if row[column] is not None]
    try:
        return max(values) if values else None
    except TypeError:
        kinds = ", ".join(sorted({type(v).__name__ for v in values}))
        raise SqlError(f"watermark column {column!r} mixes value types ({kinds})") from None


def before(a: Any, b: Any) -> bool:
    """`a` is an older watermark than `b` (values of different types are not ordered)."""
    try:
        return bool(a < b)
    except TypeError:  # the column changed type (the process was edited): take the new one
        return False


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
