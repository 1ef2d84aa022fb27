"""`wharf executions list|show` and `wharf retry`, against a server and against the store."""

from __future__ import annotations

import json
import subprocess
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.serverproc import ADMIN, ADMIN_KEY, WharfServer, run_cli, wait_until

pytestmark = pytest.mark.e2e

PROCESS = """
name: checker
trigger:
  http: {auth: none, method: POST, path: /check, input: json, mode: async}
steps:
  - route:
      routes:
        - when: doc.ok is not true
          steps:
            - fail: {status: 422, title: Not ok}
"""


def wharf(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, admin_key=ADMIN_KEY)


def post(url: str, body: dict[str, object]) -> str:
    command = ["curl", "-s", "-X", "POST", url, "-H", "Content-Type: application/json"]
    result = subprocess.run([*command, "-d", json.dumps(body)], capture_output=True, text=True)
    return str(json.loads(result.stdout)["execution_id"])


def wait_status(url: str, execution_id: str, status: str) -> None:
    def reached() -> bool:
        try:
            request = urllib.request.Request(f"{url}/api/executions/{execution_id}", headers=ADMIN)
            with urllib.request.urlopen(request) as response:
                return bool(json.load(response)["status"] == status)
        except urllib.error.HTTPError:
            return False

    wait_until(reached, f"{execution_id} to become {status}")


def test_list_show_retry_via_server_and_store(tmp_path: Path) -> None:
    processes = tmp_path / "processes"
    processes.mkdir()
    (processes / "checker.yaml").write_text(textwrap.dedent(PROCESS))
    store = f"sqlite:///{tmp_path / 'store.db'}"
    with WharfServer(processes, "--store", store, cwd=tmp_path) as server:
        good = post(f"{server.url}/check", {"ok": True})
        bad = post(f"{server.url}/check", {"ok": False})
        wait_status(server.url, good, "succeeded")
        wait_status(server.url, bad, "failed")

        listing = wharf("executions", "list", "--url", server.url)
        assert listing.returncode == 0, listing.stderr
        lines = listing.stdout.splitlines()
        assert lines[0].split()[:4] == ["ID", "PROCESS", "STATUS", "TRIGGER"]
        assert {line.split()[0]: line.split()[2] for line in lines[1:]} == {
            good: "succeeded",
            bad: "failed",
        }
        failed_only = wharf(
            "executions", "list", "--status", "failed", "--json", "--url", server.url
        )
        assert [item["id"] for item in json.loads(failed_only.stdout)] == [bad]

        shown = json.loads(wharf("executions", "show", bad, "--url", server.url).stdout)
        assert shown["error"]["step"] == "steps[0].route.routes[0].steps[0].fail"
        assert [entry["step"] for entry in shown["trace"]][-1] == shown["error"]["step"]

        retried = wharf("retry", bad, "--url", server.url)
        assert retried.returncode == 0, retried.stderr
        retry_id = retried.stdout.split()[-1]
        wait_status(server.url, retry_id, "failed")
        refused = wharf("retry", good, "--url", server.url)
        assert refused.returncode == 1
        assert "only failed executions can be retried" in refused.stderr
        missing = wharf("executions", "show", "nope", "--url", server.url)
        assert missing.returncode == 1 and "not found" in missing.stderr

    # Server stopped: the store answers directly, and a retry waits in the inbox.
    offline = wharf("executions", "list", "--json", "--store", store)
    assert offline.returncode == 0, offline.stderr
    assert {item["id"] for item in json.loads(offline.stdout)} == {good, bad, retry_id}
    queued = wharf("retry", bad, "--store", store)
    assert queued.returncode == 0, queued.stderr
    queued_id = queued.stdout.split()[2].rstrip(";")
    shown = json.loads(wharf("executions", "show", queued_id, "--store", store).stdout)
    assert (shown["status"], shown["trigger"], shown["parent_id"]) == ("queued", "retry", bad)
    with WharfServer(processes, "--store", store, cwd=tmp_path) as server:
        wait_status(server.url, queued_id, "failed")  # resumed from the inbox at start-up
    unreachable = wharf("executions", "list", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
