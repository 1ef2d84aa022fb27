"""Durations written the way people write them in YAML: `500ms`, `2s`, `1m`, `1h`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# One pattern for parsing and for the JSON Schema, so editors accept what the loader does.
DURATION_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$"
_PATTERN = re.compile(DURATION_PATTERN)


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string with a unit."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '500ms', '2s', '1m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _PATTERN.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ValueError("a duration is a number of seconds or a string like '500ms', '2s', '1m'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "seconds, or a string with a unit: `500ms`, `2s`, `1m`, `1h`, `1d`",
        }
    ),
]
"""A duration in seconds; YAML may say `250ms`, `2s`, `1.5m`, `1h` or a number of seconds."""
