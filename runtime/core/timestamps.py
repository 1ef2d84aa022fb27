"""Times as callers see them: ISO 8601 in UTC with milliseconds, `2026-12-02T15:04:05.123Z`.

Records keep epoch seconds (cheap to store, sort and compare); every API answer and CLI
output shows them in this one form. A record's time fields are named `*_at` (and a fire's
`slot`), so new fields a record gains are shown the same way without a list to keep.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from runtime.core.errors import RequestError

# Document snapshots carry the caller's own data: their fields are never rewritten.
_DATA = frozenset({"input", "output", "documents", "properties", "body"})


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_time(value: str, name: str) -> float:
    """Epoch seconds from a query parameter: ISO 8601 (UTC unless it names an offset) or
    epoch seconds; anything else is the caller's mistake."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise RequestError(
                f"{name} is an ISO 8601 time or epoch seconds, not {value!r}",
                problem="invalid-query",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(seconds):
        raise RequestError(f"{name} is a finite number, not {value!r}", problem="invalid-query")
    return seconds


def iso_times(data: Any) -> Any:
    """`data` with every time field (`*_at`, `slot`) of its records as ISO 8601 UTC."""
    if isinstance(data, list):
        return [iso_times(item) for item in data]
    if not isinstance(data, dict):
        return data
    shown: dict[str, Any] = {}
    for key, value in data.items():
        if key in _DATA:
            shown[key] = value
        elif _is_time(key) and isinstance(value, int | float) and not isinstance(value, bool):
            shown[key] = iso_utc(value)
        else:
            shown[key] = iso_times(value)
    return shown


def _is_time(key: object) -> bool:
    return isinstance(key, str) and (key.endswith("_at") or key == "slot")
