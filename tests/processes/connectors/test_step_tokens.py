"""Step idempotency tokens: `<execution id>:<step path>`, the same in every attempt.

`http.request` sends it as `Idempotency-Key` (`idempotency_key: true`), one per document;
`sql.upsert` keys on it through `step_token()`; a retry keeps the first execution's id."""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.core.errors import ExpressionError
from runtime.core.expressions import Expression
from runtime.loading.loader import load_directory

STEPS = """
- sql.upsert:
    connection: db
    table: effects
    key: [token]
    values: {token: "step_token(doc.id)", n: doc.n, attempt: attempt(), run: execution_id()}
- http.request: {connection: api, path: "'/hook'", idempotency_key: true}
"""


@pytest.fixture
async def upstream(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> tuple[list[str], str]:
    keys: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        keys.append(request.headers.get("Idempotency-Key", "<none>"))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    return keys, f"http://127.0.0.1:{server.port}"


async def test_tokens_are_the_same_in_every_attempt(
    upstream: tuple[list[str], str], tmp_path: Path
) -> None:
    keys, url = upstream
    database = tmp_path / "effects.db"
    (tmp_path / "connections.yaml").write_text(
        textwrap.dedent(
            f"""
            connections:
              api: {{connector: http, base_url: '{url}'}}
              db:
                connector: sql
                url: sqlite+aiosqlite:///{database}
                init:
                  - CREATE TABLE IF NOT EXISTS effects (
                      token VARCHAR(200) PRIMARY KEY, n INTEGER, attempt INTEGER, run TEXT)
            """
        )
    )
    (tmp_path / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        + textwrap.indent(textwrap.dedent(STEPS), "  ")
    )
    processes, configs, problems = load_directory(tmp_path)
    assert problems == []
    (process,) = processes
    connections = Connections(configs)
    documents = [Document.json({"id": "a", "n": 1}), Document.json({"id": "b", "n": 2})]
    try:
        first = await process.execute(list(documents), connections=connections)
        assert first.execution.error is None, first.execution.error
        run = first.execution.id
        # A re-run of the same execution (after a crash) and a retry (a new execution that
        # keeps the first one's id in its tokens) write the same rows and send the same keys.
        again = await process.execute(
            list(documents), execution_id=run, connections=connections, attempt=2
        )
        retry = await process.execute(
            list(documents), connections=connections, attempt=3, token_root=run
        )
        assert again.execution.error is None and retry.execution.error is None
    finally:
        await connections.close()
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT token, n, attempt, run FROM effects ORDER BY token").fetchall()
    upsert = f"{run}:steps[0].sql.upsert"
    assert rows == [
        (f"{upsert}:a", 1, 3, retry.execution.id),
        (f"{upsert}:b", 2, 3, retry.execution.id),
    ]
    call = f"{run}:steps[1].http.request"
    assert keys == [f"{call}:0", f"{call}:1"] * 3  # one key per document, the same each time


def test_tokens_are_known_only_while_steps_run() -> None:
    with pytest.raises(ExpressionError, match="only in a process's steps"):
        Expression("step_token()").evaluate({"doc": None, "props": {}})
