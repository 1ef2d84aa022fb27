"""API keys end to end: `wharf keys`, the first-start admin key, and no plaintext anywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.serverproc import ROOT, WharfServer, wait_until

pytestmark = pytest.mark.e2e

PROCESS = "name: p\ntrigger:\n  http: {path: /p, auth: {api_key: {}}}\nsteps: []\n"


def wharf(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli.main", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def everything_written(tmp_path: Path) -> bytes:
    """Every byte under the test's directory: store, its WAL, settings, logs."""
    return b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())


def test_keys_are_printed_once_and_stored_only_as_hashes(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/store.db"
    created = wharf("keys", "create", "partner-a", "--process", "p", "--store", store)
    assert created.returncode == 0, created.stderr
    key = created.stdout.split()[-1]
    assert re.fullmatch(r"wharf_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}", key)
    secret = key.split("_", 2)[2]
    assert secret.encode() not in everything_written(tmp_path)
    assert key.encode() not in everything_written(tmp_path)

    listed = wharf("keys", "list", "--store", store)
    assert "partner-a" in listed.stdout and secret not in listed.stdout

    directory = tmp_path / "processes"
    directory.mkdir()
    (directory / "p.yaml").write_text(PROCESS)
    with WharfServer(directory, "--store", store, cwd=tmp_path) as server:
        ok = requests.post(f"{server.url}/p", json={}, headers={"X-API-Key": key}, timeout=10)
        assert ok.status_code == 200
        key_id = key.split("_")[1]
        revoked = wharf("keys", "revoke", key_id, "--store", store)
        assert revoked.returncode == 0, revoked.stderr
        statuses = []

        def refused() -> bool:
            answer = requests.post(
                f"{server.url}/p", json={}, headers={"X-API-Key": key}, timeout=10
            )
            statuses.append(answer.status_code)
            return answer.status_code == 401

        # Real clock: the server sees the revocation once its key cache expires (5 s).
        wait_until(refused, "the revoked key to be refused", 10)
        assert statuses[-1] == 401
        log = server.log
    assert secret not in log
    assert secret.encode() not in everything_written(tmp_path)


def test_first_start_makes_an_admin_key_and_prints_it_once(tmp_path: Path) -> None:
    directory = tmp_path / "processes"
    directory.mkdir()
    (directory / "p.yaml").write_text(PROCESS)
    store = f"sqlite:///{tmp_path}/store.db"
    no_key = {"WHARF_ADMIN_KEY": ""}
    with WharfServer(directory, "--store", store, cwd=tmp_path, env=no_key) as server:
        printed = re.findall(r"wharf_[0-9a-f]{12}_[A-Za-z0-9_-]+", server.log)
        assert len(set(printed)) == 1
        (admin_key,) = set(printed)
        assert f"curl -H 'X-API-Key: {admin_key}'" in server.log
        answer = requests.get(
            f"{server.url}/api/processes", headers={"X-API-Key": admin_key}, timeout=10
        )
        assert answer.status_code == 200
        assert requests.get(f"{server.url}/api/processes", timeout=10).status_code == 401
        assert server.stop() == 0
    store_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert admin_key.split("_", 2)[2].encode() not in store_bytes
    # The next start finds the stored admin key and prints nothing new.
    with WharfServer(directory, "--store", store, cwd=tmp_path, env=no_key) as again:
        assert "No admin credential" not in again.log


def test_hash_password_makes_a_scrypt_hash(tmp_path: Path) -> None:
    made = wharf("hash-password", stdin="s3cret\n")
    assert made.returncode == 0
    assert made.stdout.startswith("scrypt$") and "s3cret" not in made.stdout
