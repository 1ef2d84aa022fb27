"""The admin API keeps the promises of its OpenAPI document, checked by a real client:
schemathesis against `wharf run sample_processes`, with the admin key and without.

Every status an operation answers is documented, every body matches its schema and
media type, and nothing answers 5xx. POSTs run processes and schedules for real: the
server's store lives in a temporary directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from runtime.server.api.routes import openapi_document
from tests.serverproc import ADMIN, ADMIN_KEY, ROOT, WharfServer

CHECKS = (
    "not_a_server_error,status_code_conformance,response_schema_conformance,"
    "content_type_conformance"
)


def _schemathesis() -> str:
    found = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    assert Path(found).exists(), "schemathesis is a test dependency: pip install -e '.[test]'"
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfServer]:
    workdir = tmp_path_factory.mktemp("admin-openapi")
    with WharfServer(ROOT / "sample_processes", cwd=workdir) as running:
        yield running


def _run(server: WharfServer, cwd: Path, location: str, *args: str) -> None:
    command = [_schemathesis(), "run", location, "--checks", CHECKS]
    command += ["--seed", "1", "--workers", "1", "--request-timeout", "20", *args]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n--- server log:\n{server.log}"
    assert "Server error" not in done.stdout


def test_schemathesis_finds_nothing_with_the_admin_key(server: WharfServer, tmp_path: Path) -> None:
    location = f"{server.url}/api/openapi.json"
    _run(server, tmp_path, location, "--header", f"X-API-Key: {ADMIN_KEY}", "--max-examples", "8")


def test_schemathesis_finds_every_refusal_documented_without_a_key(
    server: WharfServer, tmp_path: Path
) -> None:
    # Every operation answers 401 (documented, a problem body) to a caller with no key.
    # The document itself needs the key: schemathesis reads it from a file.
    with urllib.request.urlopen(
        urllib.request.Request(f"{server.url}/api/openapi.json", headers=ADMIN), timeout=10
    ) as response:
        (tmp_path / "openapi.json").write_bytes(response.read())
    args = ("--url", server.url, "--phases", "examples,coverage", "--max-examples", "2")
    _run(server, tmp_path, str(tmp_path / "openapi.json"), *args)


# Odd inputs testers sent by hand: each answers a documented 4xx problem, never a 5xx.
EXECUTE = "/api/processes/{name}/executions"
ODD = [
    ("GET", "/api/schedules/account-export?fires=-1", "/api/schedules/{name}", 400),
    ("GET", "/api/schedules/account-export?fires=x", "/api/schedules/{name}", 400),
    ("POST", "/api/schedules/account-export/run?wait=-1", "/api/schedules/{name}/run", 400),
    ("POST", "/api/processes/get-customer/executions?wait=-1", EXECUTE, 400),
    ("POST", "/api/processes/nope/executions", EXECUTE, 404),
    ("GET", "/api/executions?limit=0", "/api/executions", 400),
    ("GET", "/api/executions?since=yesterday", "/api/executions", 400),
    ("GET", "/api/usage?since=nan", "/api/usage", 400),
    ("GET", "/api/executions?since=inf", "/api/executions", 400),
    ("GET", "/api/executions?until=-nan", "/api/executions", 400),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "path", "status"), ODD, ids=[o[1] for o in ODD])
async def test_odd_inputs_answer_documented_problems(
    server: WharfServer, method: str, url: str, path: str, status: int
) -> None:
    async with (
        aiohttp.ClientSession(headers=ADMIN) as session,
        session.request(method, f"{server.url}{url}") as response,
    ):
        assert response.status == status, await response.text()
        assert response.content_type == "application/problem+json"
        body = await response.json(content_type=None)
    operation = openapi_document()["paths"][path][method.lower()]
    assert str(status) in operation["responses"]
    assert body["status"] == status


def test_the_document_declares_its_security_and_refusals() -> None:
    document = openapi_document()
    schemes = document["components"]["securitySchemes"]
    assert schemes["adminKey"] == {**schemes["adminKey"], "in": "header", "name": "X-API-Key"}
    assert schemes["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"adminKey": []}, {"bearer": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
