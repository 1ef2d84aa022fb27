"""Every GET of the admin API answers 200 for every sample directory and every trigger kind.

The admin API describes processes from their loaded configs, which hold compiled objects
(expressions, templates, XPaths): each must be described by its source text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runtime.loading.loader import load_directory
from runtime.loading.security import load_security
from runtime.server.api.routes import openapi_document
from runtime.server.app import create_app
from runtime.server.settings import Settings
from tests.helpers import ADMIN_KEY, ClientFactory, admin_client, write_files

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "sample_processes"

# One process per trigger kind, with the expression, template and XPath fields each has.
EVERY_TRIGGER = {
    "connections.yaml": """
        connections:
          api: {connector: http, base_url: 'http://127.0.0.1:9/api'}
          db: {connector: sql, url: 'sqlite+aiosqlite://'}
    """,
    "soap.yaml": """
        name: soap-required
        trigger:
          soap:
            path: /soap/notify
            service: Notify
            operation: notify
            namespace: urn:notify
            input: {org: string, text: string}
            auth: none
            mode: async
            ack: '<Ack xmlns="urn:notify"/>'
            idempotency_key: doc.text
            require:
              - when: doc.org == 'ACME'
                message: wrong organization
        steps: []
    """,
    "http.yaml": """
        name: http-keyed
        trigger:
          http:
            path: /keyed
            method: POST
            auth: none
            input: json
            mode: async
            idempotency_key: "{{ doc.id }}-x"
        steps: []
    """,
    "schedule.yaml": """
        name: nightly
        trigger: {schedule: {cron: '0 3 * * *'}}
        steps: []
    """,
    "feed.yaml": """
        name: feed
        trigger:
          http.poll: {connection: api, path: /feed, every: 1h}
        steps: []
    """,
    "rows.yaml": """
        name: rows
        trigger:
          sql.poll:
            connection: db
            query: SELECT id FROM t WHERE id > :last ORDER BY id
            watermark: id
            initial: 0
            every: 1h
        steps: []
    """,
}


DIRECTORIES = [
    "sample_processes",
    *(f"sample_processes/{d.name}" for d in sorted(SAMPLES.iterdir()) if any(d.glob("*.yaml"))),
    "every_trigger",
]


def _directory(name: str, tmp_path: Path) -> Path:
    if name == "every_trigger":
        return write_files(tmp_path / name, EVERY_TRIGGER)
    return ROOT / name


def _conforms(body: Any, operation: dict[str, Any]) -> None:
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    document = openapi_document()
    jsonschema.validate(body, {**schema, "components": document["components"]})


async def _every_get(client: Any) -> dict[str, int]:
    """GET every admin path (path parameters from the listings); status by URL."""
    processes = (await (await client.get("/api/processes")).json())["items"]
    schedules = (await (await client.get("/api/schedules")).json())["items"]
    names = {
        "/api/processes/{name}": [p["name"] for p in processes],
        "/api/schedules/{name}": [s["process"] for s in schedules],
    }
    paths = openapi_document()["paths"]
    statuses = {}
    for path, operations in paths.items():
        if "get" not in operations or "{id}" in path:
            continue
        for name in names.get(path, [None]):
            url = path.replace("{name}", name) if name else path
            response = await client.get(url)
            statuses[url] = response.status
            if response.status == 200 and path != "/api/openapi.json":
                _conforms(await response.json(), operations["get"])
    return statuses


@pytest.mark.parametrize("name", DIRECTORIES)
async def test_every_admin_get_answers_for_every_sample_and_trigger_kind(
    name: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    directory = _directory(name, tmp_path)
    processes, connections, problems = load_directory(directory)
    assert problems == [], problems
    security, _ = load_security(directory)
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://")
    app = create_app(processes, settings, connections=connections, security=security)
    client = await admin_client(aiohttp_client, app)
    statuses = await _every_get(client)
    assert len(statuses) >= 6 + len(processes)
    started = await client.post(f"/api/processes/{processes[0].name}/executions")
    assert started.status == 202
    execution = await client.get(f"/api/executions/{(await started.json())['execution_id']}")
    statuses["/api/executions/{id}"] = execution.status
    _conforms(await execution.json(), openapi_document()["paths"]["/api/executions/{id}"]["get"])
    assert {url: status for url, status in statuses.items() if status != 200} == {}


async def test_compiled_fields_are_described_by_their_source(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    processes, connections, _ = load_directory(_directory("every_trigger", tmp_path))
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://")
    app = create_app(processes, settings, connections=connections)
    client = await admin_client(aiohttp_client, app)
    soap = await (await client.get("/api/processes/soap-required")).json()
    assert soap["trigger"]["kind"] == "soap"
    assert soap["trigger"]["require"] == [
        {"when": "doc.org == 'ACME'", "message": "wrong organization"}
    ]
