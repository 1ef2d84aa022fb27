"""Checking connections for real: `wharf connections test` and the admin API.

Each connection opens (secrets resolved) and proves itself with its connector's check
(SQL: `SELECT 1`). Failures are reported with secrets scrubbed from the message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from runtime.core.connections import Connections
from runtime.core.secrets import SecretError, redact_text

CHECK_TIMEOUT = 15.0


@dataclass
class CheckResult:
    name: str
    connector: str
    ok: bool
    detail: str
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def check_connection(connections: Connections, name: str) -> CheckResult:
    config = connections.configs[name]
    connector = str(getattr(config, "connector", "?"))
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            client = await connections.client(name)
            detail, ok = await client.check(), True
    except TimeoutError:
        detail, ok = f"no answer within {CHECK_TIMEOUT:.0f}s", False
    except SecretError as exc:
        detail, ok = str(exc), False
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        detail, ok = f"{type(exc).__name__}: {first_line}", False
    duration = (time.perf_counter() - started) * 1000
    return CheckResult(name, connector, ok, redact_text(detail), round(duration, 1))


def format_table(results: list[CheckResult]) -> str:
    rows = [("CONNECTION", "CONNECTOR", "RESULT", "MS", "DETAIL")]
    for result in results:
        outcome = "ok" if result.ok else "FAILED"
        rows.append(
            (result.name, result.connector, outcome, f"{result.duration_ms:.0f}", result.detail)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  "
        + row[4]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)
