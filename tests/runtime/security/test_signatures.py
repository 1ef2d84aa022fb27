"""runtime.security.signatures: GitHub, Stripe, Slack and generic HMAC webhook signatures.

Expected signatures are computed here from the senders' public formats, independently of
the module under test.
"""

from __future__ import annotations

import base64
import hmac
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import ValidationError

from runtime.core.errors import ConfigError
from runtime.security.errors import AuthFailed
from runtime.security.signatures import SignatureAuth, SignatureVerifier

SECRET = "whsec_test_secret_value"
BODY = b'{"id":"evt_1","amount":4200}'
NOW = 1_700_000_000.0
T = str(int(NOW))


def mac(payload: bytes, digest: str = "sha256") -> bytes:
    return hmac.new(SECRET.encode(), payload, digest).digest()


def tampered(body: bytes) -> bytes:
    return body[:5] + bytes([body[5] ^ 1]) + body[6:]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def verifier(**config: Any) -> SignatureVerifier:
    return SignatureVerifier(
        SignatureAuth.model_validate({"secret": "${env:HOOK_SECRET}", **config})
    )


def failure(
    check: SignatureVerifier, headers: dict[str, str], body: bytes = BODY, now: float = NOW
) -> str:
    with pytest.raises(AuthFailed) as caught:
        check.verify(headers, body, now=now)
    assert caught.value.status == 401
    return caught.value.reason


# --- GitHub ---


def github_headers(body: bytes = BODY) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + mac(body).hex(), "X-GitHub-Event": "push"}


def test_github_valid() -> None:
    verifier(preset="github").verify(github_headers(), BODY)  # no timestamp: any clock


def test_github_headers_are_case_insensitive() -> None:
    check = verifier(preset="github")
    value = github_headers()["X-Hub-Signature-256"]
    check.verify({"x-hub-signature-256": value}, BODY)
    check.verify(CIMultiDictProxy(CIMultiDict({"X-HUB-SIGNATURE-256": value})), BODY)
    check.verify({"X-Hub-Signature-256": "sha256=" + mac(BODY).hex().upper()}, BODY)


def test_github_invalid() -> None:
    check = verifier(preset="github")
    assert failure(check, github_headers(), tampered(BODY)) == "bad request signature"
    assert failure(check, {}) == "missing header x-hub-signature-256"
    unprefixed = {"X-Hub-Signature-256": mac(BODY).hex()}
    assert "lacks prefix" in failure(check, unprefixed)
    assert failure(check, {"X-Hub-Signature-256": "sha256=zz"}) == "bad request signature"
    sha1 = {"X-Hub-Signature-256": "sha256=" + mac(BODY, "sha1").hex()}
    assert failure(check, sha1) == "bad request signature"


# --- Stripe ---


def stripe_header(timestamp: str = T, body: bytes = BODY) -> str:
    return f"t={timestamp},v1={mac(f'{timestamp}.'.encode() + body).hex()}"


def test_stripe_valid_within_tolerance() -> None:
    check = verifier(preset="stripe")
    check.verify({"Stripe-Signature": stripe_header()}, BODY, now=NOW)
    check.verify({"Stripe-Signature": stripe_header()}, BODY, now=NOW + 299)
    check.verify({"Stripe-Signature": stripe_header()}, BODY, now=NOW - 299)


def test_stripe_any_v1_value_may_match() -> None:
    good = mac(f"{T}.".encode() + BODY).hex()
    header = f"t={T},v1={'0' * 64},v0={good},v1={good}"
    verifier(preset="stripe").verify({"Stripe-Signature": header}, BODY, now=NOW)


def test_stripe_invalid() -> None:
    check = verifier(preset="stripe")
    assert failure(check, {"Stripe-Signature": stripe_header()}, tampered(BODY)) == (
        "bad request signature"
    )
    good = mac(f"{T}.".encode() + BODY).hex()
    assert failure(check, {"Stripe-Signature": f"t={T},v0={good}"}).startswith("Stripe")
    twice = {"Stripe-Signature": f"t={T},t={T},v1={good}"}
    assert failure(check, twice).startswith("Stripe-Signature needs one t=")
    assert failure(check, {}) == "missing header stripe-signature"
    # The timestamp is signed: moving it to look fresh breaks the signature.
    moved = {"Stripe-Signature": f"t={int(NOW) + 1000},v1={good}"}
    assert failure(check, moved, now=NOW + 1000) == "bad request signature"


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_stripe_replay_outside_tolerance_is_refused(skew: int) -> None:
    reason = failure(
        verifier(preset="stripe"), {"Stripe-Signature": stripe_header()}, now=NOW + skew
    )
    assert reason.startswith("signature timestamp is") and "replay" in reason


def test_stripe_tolerance_is_configurable() -> None:
    check = verifier(preset="stripe", tolerance="1m")
    assert "replay" in failure(check, {"Stripe-Signature": stripe_header()}, now=NOW + 61)


# --- Slack ---


def slack_headers(timestamp: str = T, body: bytes = BODY) -> dict[str, str]:
    signature = mac(f"v0:{timestamp}:".encode() + body).hex()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={signature}"}


def test_slack_valid() -> None:
    verifier(preset="slack").verify(slack_headers(), BODY, now=NOW + 120)


def test_slack_invalid() -> None:
    check = verifier(preset="slack")
    assert failure(check, slack_headers(), tampered(BODY)) == "bad request signature"
    headers = slack_headers()
    del headers["X-Slack-Request-Timestamp"]
    assert failure(check, headers) == "missing header x-slack-request-timestamp"
    stripe_style = slack_headers()
    stripe_style["X-Slack-Signature"] = "v0=" + mac(f"{T}.".encode() + BODY).hex()
    assert failure(check, stripe_style) == "bad request signature"


def test_slack_replay_outside_tolerance_is_refused() -> None:
    assert "replay" in failure(verifier(preset="slack"), slack_headers(), now=NOW + 301)


# --- generic HMAC ---


def test_generic_base64_with_timestamp() -> None:
    check = verifier(
        header="X-Signature",
        algorithm="sha512",
        encoding="base64",
        prefix="hmac ",
        signed="timestamp.body",
        timestamp_header="X-Timestamp",
        tolerance="30s",
    )
    signature = base64.b64encode(mac(f"{T}.".encode() + BODY, "sha512")).decode()
    headers = {"x-signature": f"hmac {signature}", "X-TIMESTAMP": T}
    check.verify(headers, BODY, now=NOW + 30)
    assert failure(check, headers, tampered(BODY)) == "bad request signature"
    assert "replay" in failure(check, headers, now=NOW + 31)
    assert failure(check, {**headers, "x-signature": "hmac not*base64"}) == (
        "bad request signature"
    )
    hex_instead = {**headers, "x-signature": "hmac " + mac(f"{T}.".encode() + BODY, "sha512").hex()}
    assert failure(check, hex_instead) == "bad request signature"


def test_generic_timestamp_must_be_unix_seconds() -> None:
    check = verifier(header="X-Sig", signed="timestamp.body", timestamp_header="X-Ts")
    stamp = "1700000000.5"
    headers = {"X-Sig": mac(f"{stamp}.".encode() + BODY).hex(), "X-Ts": stamp}
    assert "is not unix seconds" in failure(check, headers)


def test_generic_sha1_body_only() -> None:
    check = verifier(header="X-Sig", algorithm="sha1")
    check.verify({"X-Sig": mac(BODY, "sha1").hex()}, BODY)
    assert failure(check, {"X-Sig": mac(BODY).hex()}) == "bad request signature"


# --- configuration ---


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"preset": "github", "secret": "plain-text-secret"}, "literal secrets"),
        ({"preset": "github", "secret": "${env:S}", "header": "X-Sig"}, "drop header"),
        ({"preset": "stripe", "secret": "${env:S}", "encoding": "base64"}, "drop encoding"),
        ({"preset": "github", "secret": "${env:S}", "tolerance": "1m"}, "drop tolerance"),
        ({"secret": "${env:S}"}, "needs `header`"),
        ({"secret": "${env:S}", "header": "X", "signed": "timestamp.body"}, "go together"),
        ({"secret": "${env:S}", "header": "X", "timestamp_header": "T"}, "go together"),
        ({"secret": "${env:S}", "header": "X", "algorithm": "md5"}, "Input should be"),
        ({"preset": "gitlab", "secret": "${env:S}"}, "Input should be"),
        ({"preset": "slack"}, "secret"),
    ],
)
def test_invalid_configs(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SignatureAuth.model_validate(config)


def test_secret_is_resolved_at_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NO_SUCH_HOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_HOOK_SECRET is not set"):
        SignatureVerifier(SignatureAuth(preset="github", secret="${env:NO_SUCH_HOOK_SECRET}"))
    path = tmp_path / "hook-secret"
    path.write_text(SECRET + "\n")
    from_file = SignatureVerifier(SignatureAuth(preset="github", secret=f"${{file:{path}}}"))
    from_env = verifier(preset="github")
    path.write_text("changed-after-load")
    monkeypatch.setenv("HOOK_SECRET", "changed-after-load")
    from_file.verify(github_headers(), BODY)  # secrets are read once, at load
    from_env.verify(github_headers(), BODY)
