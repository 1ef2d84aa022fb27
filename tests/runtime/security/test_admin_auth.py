"""The admin API with JWTs from security.yaml, and an open /metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from runtime.loading.loader import load_directory
from runtime.loading.security import load_security
from runtime.server.app import create_app
from runtime.server.settings import Settings
from tests.helpers import ADMIN_KEY, ClientFactory

SECRET = "an-admin-jwt-secret-of-at-least-32-bytes"


async def test_admin_jwts_need_the_admin_claim_and_metrics_can_be_open(
    tmp_path: Path, aiohttp_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_ADMIN_JWT", SECRET)
    (tmp_path / "p.yaml").write_text("name: p\ntrigger: {http: {path: /p, auth: none}}\n")
    security = {
        "admin": {
            "jwt": {
                "algorithms": ["HS256"],
                "secret": "${env:T_ADMIN_JWT}",
                "audience": "wharf-admin",
                "admin_claim": {"claim": "roles", "value": "wharf-admin"},
            }
        },
        "metrics": "open",
    }
    (tmp_path / "security.yaml").write_text(json.dumps(security))
    processes, connections, problems = load_directory(tmp_path)
    assert problems == []
    config, _ = load_security(tmp_path)
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://")
    client = await aiohttp_client(
        create_app(processes, settings, connections=connections, security=config)
    )

    def token(**claims: object) -> dict[str, str]:
        payload = {"sub": "ops", "aud": "wharf-admin", "exp": int(time.time()) + 60, **claims}
        return {"Authorization": f"Bearer {jwt.encode(payload, SECRET, 'HS256')}"}

    assert (await client.get("/api/processes", headers=token(roles=["wharf-admin"]))).status == 200
    assert (await client.get("/api/processes", headers=token(roles=["viewer"]))).status == 403
    assert (await client.get("/api/processes", headers=token(aud="other"))).status == 401
    assert (await client.get("/api/processes")).status == 401
    metrics = await client.get("/metrics")  # open by configuration
    assert metrics.status == 200
    assert "wharf_http_requests_total" in await metrics.text()
