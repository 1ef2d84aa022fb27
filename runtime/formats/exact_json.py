"""JSON that keeps Decimals as Decimals, for typed documents kept in the inbox.

A JSON number says nothing of its type: read back, `0.30` would be a float. A typed
document (an xs:decimal from a SOAP request) keeps each Decimal as `{"$decimal": "0.30"}`,
which no XML name can collide with, so an async execution sees the same values as a
synchronous one.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

TAG = "$decimal"


def _tagged(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {TAG: str(value)}
    if isinstance(value, dict):
        return {key: _tagged(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_tagged(item) for item in value]
    return value


def _untagged(value: dict[str, Any]) -> Any:
    return Decimal(value[TAG]) if value.keys() == {TAG} else value


def dumps(value: Any) -> bytes:
    return orjson.dumps(_tagged(value))


def loads(data: bytes) -> Any:
    return json.loads(data, object_hook=_untagged)
