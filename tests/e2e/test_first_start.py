"""A first start as an operator meets it: the banner's key and export line work with the
CLI, and every time the API and the CLI show is ISO 8601 UTC."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serverproc import WharfServer, run_cli, wait_until

pytestmark = pytest.mark.e2e

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

PROCESSES = {
    "tick.yaml": "name: tick\ntrigger: {schedule: {cron: '0 3 * * *'}}\nsteps: []\n",
    "echo.yaml": (
        "name: echo\nrecord: full\n"
        "trigger: {http: {auth: none, method: POST, path: /echo, input: json, mode: async}}\n"
        "steps: []\n"
    ),
}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WharfServer, str]]:
    workdir = tmp_path_factory.mktemp("first-start")
    for name, text in PROCESSES.items():
        (workdir / name).write_text(text)
    # No admin key configured, and a PATH without `wharf` (as after `make run`).
    env = {"WHARF_ADMIN_KEY": "", "PATH": "/usr/bin:/bin"}
    with WharfServer(workdir, cwd=workdir, env=env) as running:
        match = re.search(r"^\s*export WHARF_ADMIN_KEY=(\S+)$", running.log, re.MULTILINE)
        assert match, running.log
        yield running, match.group(1)


def wharf(key: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, admin_key=key)


def api(server: WharfServer, key: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(f"{server.url}{path}", data, headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def times(data: Any, found: list[tuple[str, Any]] | None = None) -> list[tuple[str, Any]]:
    """Every (name, value) of a time field (`*_at`, `slot`, `since`) in an answer."""
    found = [] if found is None else found
    if isinstance(data, list):
        for item in data:
            times(item, found)
    elif isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_at") or key in ("slot", "since"):
                found.append((key, value))
            else:
                times(value, found)
    return found


def test_the_banner_says_how_to_use_the_key(first: tuple[WharfServer, str]) -> None:
    server, key = first
    assert f"curl -H 'X-API-Key: {key}'" in server.log
    activate = Path(sys.prefix) / "bin" / "activate"
    if activate.is_file():
        assert f"to put it there:  . {activate}" in server.log
    listed = wharf(key, "executions", "list", "--url", server.url)
    assert listed.returncode == 0, listed.stderr
    refused = wharf(None, "executions", "list", "--url", server.url)
    assert refused.returncode == 1
    assert "WHARF_ADMIN_KEY" in refused.stderr
    assert "wharf keys create --admin" in refused.stderr


def test_api_and_cli_show_iso_utc_times(first: tuple[WharfServer, str], tmp_path: Path) -> None:
    server, key = first
    accepted = api(server, key, "POST", "/api/processes/echo/executions", {"body": {"n": 1}})
    execution_id = accepted["execution_id"]
    wait_until(
        lambda: api(server, key, "GET", f"/api/executions/{execution_id}")["status"] == "succeeded",
        "the execution to succeed",
    )
    fired = wharf(key, "run-now", "tick", "--wait", "30s", "--url", server.url)
    assert fired.returncode == 0, fired.stderr

    answers = [
        api(server, key, "GET", "/api/executions"),
        api(server, key, "GET", f"/api/executions/{execution_id}"),
        api(server, key, "POST", "/api/processes/echo/executions?wait=5000", {"body": {}}),
        api(server, key, "GET", "/api/schedules"),
        api(server, key, "GET", "/api/schedules/tick?fires=5"),
        api(server, key, "POST", "/api/schedules/tick/run?wait=30000"),
        api(server, key, "GET", "/api/usage"),
    ]
    found = times(answers)
    names = {name for name, _ in found}
    assert {"created_at", "started_at", "finished_at", "slot", "claimed_at", "since"} <= names
    assert {"next_fire_at"} <= names
    assert [(n, v) for n, v in found if v is not None and not ISO.match(str(v))] == []

    shown = wharf(key, "executions", "show", execution_id, "--url", server.url)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert ISO.match(record["created_at"]) and ISO.match(record["finished_at"])
    store = f"sqlite:///{server.cwd / '.wharf' / 'wharf.db'}"
    direct = wharf(None, "executions", "show", execution_id, "--store", store)
    assert direct.returncode == 0, direct.stderr
    assert json.loads(direct.stdout)["created_at"] == record["created_at"]
    schedule = wharf(key, "schedules", "show", "tick", "--url", server.url)
    assert schedule.returncode == 0, schedule.stderr
    last = json.loads(schedule.stdout)["last_fire"]
    assert ISO.match(last["slot"]) and ISO.match(last["finished_at"])
    for table in (
        wharf(key, "executions", "list", "--url", server.url),
        wharf(key, "schedules", "list", "--url", server.url),
    ):
        assert table.returncode == 0, table.stderr
        assert ISO_SECONDS.search(table.stdout), table.stdout
