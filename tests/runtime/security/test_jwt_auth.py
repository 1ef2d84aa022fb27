"""runtime.security.jwt_auth: the JWT config guards and the verifier, with real keys."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from runtime.core.errors import ConfigError
from runtime.security.errors import AuthFailed
from runtime.security.jwt_auth import JwtAuth, JwtVerifier

SECRET = "s3cret-for-hmac-tokens-32-bytes-long!!"  # 38 bytes: enough for HS256


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def pem_file(tmp_path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(public_pem(key))
    return path


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": int(time.time()) + 300, **extra}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_token(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def failure(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthFailed) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    return caught.value.reason


@pytest.fixture
def hs_verifier(monkeypatch: pytest.MonkeyPatch) -> JwtVerifier:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    return JwtVerifier(JwtAuth(algorithms=["HS256"], secret="${env:JWT_SECRET}"))


@pytest.fixture
def rs_verifier(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> JwtVerifier:
    return JwtVerifier(JwtAuth(algorithms=["RS256"], public_key_file=pem_file(tmp_path, rsa_key)))


# --- valid tokens ---


def test_hs256_token_is_accepted_and_claims_become_properties(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(scope="orders"), SECRET, algorithm="HS256")
    verified = hs_verifier.verify(token)
    assert verified["sub"] == "alice" and verified["scope"] == "orders"
    assert hs_verifier.properties(verified) == {"jwt_sub": "alice"}


def test_rs256_token_is_accepted(rs_verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert rs_verifier.verify(token)["sub"] == "alice"


def test_es256_token_is_accepted(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    verifier = JwtVerifier(
        JwtAuth(algorithms=["ES256"], public_key_file=pem_file(tmp_path, ec_key))
    )
    token = jwt.encode(claims(), ec_key, algorithm="ES256")
    assert verifier.verify(token)["sub"] == "alice"


def test_public_key_may_come_from_a_certificate(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    path = tmp_path / "cert.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    verifier = JwtVerifier(JwtAuth(algorithms=["PS256"], public_key_file=path))
    assert verifier.verify(jwt.encode(claims(), rsa_key, algorithm="PS256"))["sub"] == "alice"


# --- time ---


def test_expired_beyond_leeway_is_refused(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256")
    assert failure(hs_verifier, token) == "token expired"


def test_expired_within_leeway_is_accepted(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256")
    assert hs_verifier.verify(token)["sub"] == "alice"


def test_leeway_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    verifier = JwtVerifier(JwtAuth(algorithms=["HS256"], secret="${env:JWT_SECRET}", leeway="0s"))
    token = jwt.encode(claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256")
    assert failure(verifier, token) == "token expired"


def test_not_yet_valid_is_refused(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(nbf=int(time.time()) + 120), SECRET, algorithm="HS256")
    assert failure(hs_verifier, token) == "token not yet valid"


# --- signatures and algorithms ---


def test_token_signed_with_another_key_is_refused(
    rs_verifier: JwtVerifier, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(), other_rsa_key, algorithm="RS256")
    assert failure(rs_verifier, token) == "bad token signature"


def test_token_signed_with_another_secret_is_refused(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(), "another-secret-that-is-also-32-bytes!", algorithm="HS256")
    assert failure(hs_verifier, token) == "bad token signature"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(hs_verifier: JwtVerifier, alg: str) -> None:
    token = hand_token({"alg": alg, "typ": "JWT"}, claims(), lambda _: b"")
    assert token.endswith(".")
    assert "is not accepted" in failure(hs_verifier, token)


def test_hs256_signed_with_the_rsa_public_key_is_refused(
    rs_verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    pem = public_pem(rsa_key)
    token = hand_token(
        {"alg": "HS256", "typ": "JWT"},
        claims(),
        lambda data: hmac.new(pem, data, hashlib.sha256).digest(),
    )
    assert failure(rs_verifier, token) == "token algorithm 'HS256' is not accepted"


def test_algorithm_outside_the_configured_list_is_refused(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = JwtVerifier(
        JwtAuth(algorithms=["RS512"], public_key_file=pem_file(tmp_path, rsa_key))
    )
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert failure(verifier, token) == "token algorithm 'RS256' is not accepted"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "e30.e30", "x" * 20_000])
def test_malformed_tokens_are_refused(hs_verifier: JwtVerifier, token: str) -> None:
    assert failure(hs_verifier, token).startswith(("malformed", "token algorithm"))


# --- claims ---


def test_issuer_and_audience_must_match(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    verifier = JwtVerifier(
        JwtAuth(
            algorithms=["HS256"],
            secret="${env:JWT_SECRET}",
            issuer="https://idp.example",
            audience=["wharf", "orders-api"],
        )
    )

    def token(**extra: Any) -> str:
        return jwt.encode(claims(**extra), SECRET, algorithm="HS256")

    assert verifier.verify(token(iss="https://idp.example", aud="orders-api"))["sub"] == "alice"
    assert failure(verifier, token(iss="https://idp.example", aud="billing")) == (
        "wrong token audience"
    )
    assert failure(verifier, token(iss="https://evil.example", aud="wharf")) == (
        "wrong token issuer"
    )
    assert failure(verifier, token(aud="wharf")) == "token lacks the 'iss' claim"
    assert (
        failure(verifier, token(iss="https://idp.example")) == "token lacks the 'aud' claim"
    )  # a required issuer must be present


def test_aud_is_not_checked_when_no_audience_is_configured(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256")
    assert hs_verifier.verify(token)["aud"] == "someone-else"


def test_missing_exp_is_refused_even_when_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    config = JwtAuth(algorithms=["HS256"], secret="${env:JWT_SECRET}", required_claims=["sub"])
    assert config.required_claims == ["sub", "exp"]
    verifier = JwtVerifier(config)
    token = jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256")
    assert failure(verifier, token) == "token lacks the 'exp' claim"
    no_sub = jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert failure(verifier, no_sub) == "token lacks the 'sub' claim"


def test_is_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)

    def verifier(claim: str | None) -> JwtVerifier:
        admin = None if claim is None else {"claim": claim, "value": "admin"}
        return JwtVerifier(
            JwtAuth.model_validate(
                {"algorithms": ["HS256"], "secret": "${env:JWT_SECRET}", "admin_claim": admin}
            )
        )

    role = verifier("role")
    assert role.is_admin({"role": "admin"})
    assert role.is_admin({"role": ["user", "admin"]})
    assert not role.is_admin({"role": "user"})
    assert not role.is_admin({"role": "administrator"})
    assert not role.is_admin({})
    assert verifier("realm_access.roles").is_admin({"realm_access": {"roles": ["admin"]}})
    assert verifier("https://x.example/roles").is_admin({"https://x.example/roles": ["admin"]})
    assert not verifier(None).is_admin({"role": "admin"})


# --- JWKS ---


@pytest.fixture
def jwks_path(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> Path:
    rsa_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    ec_jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True)
    path = tmp_path / "jwks.json"
    keys = [{**rsa_jwk, "kid": "rsa-1"}, {**ec_jwk, "kid": "ec-1", "alg": "ES256"}]
    path.write_text(json.dumps({"keys": keys}))
    return path


def test_jwks_picks_the_key_by_kid(
    jwks_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = JwtVerifier(JwtAuth(algorithms=["RS256", "ES256"], jwks_file=jwks_path))
    rs = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert verifier.verify(rs)["sub"] == verifier.verify(es)["sub"] == "alice"
    wrong_key = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "ec-1"})
    assert failure(verifier, wrong_key) == "JWKS key 'ec-1' is not for algorithm RS256"


def test_jwks_unknown_or_missing_kid_is_refused(
    jwks_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = JwtVerifier(JwtAuth(algorithms=["RS256"], jwks_file=jwks_path))
    unknown = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-2"})
    assert failure(verifier, unknown) == "no key in the JWKS for kid 'rsa-2'"
    assert "kid None" in failure(verifier, jwt.encode(claims(), rsa_key, algorithm="RS256"))


def test_jwks_with_one_key_serves_tokens_without_kid(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "one.json"
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True)
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "only"}]}))
    verifier = JwtVerifier(JwtAuth(algorithms=["ES256"], jwks_file=path))
    assert verifier.verify(jwt.encode(claims(), ec_key, algorithm="ES256"))["sub"] == "alice"
    other = ec.generate_private_key(ec.SECP256R1())
    assert failure(verifier, jwt.encode(claims(), other, algorithm="ES256")) == (
        "bad token signature"
    )


# --- configuration ---


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"algorithms": ["HS256", "RS256"], "secret": "${env:S}"}, "algorithm confusion"),
        ({"algorithms": ["HS256"], "secret": "literally-the-secret"}, "literal secrets"),
        ({"algorithms": ["HS256"]}, "need `secret`"),
        ({"algorithms": ["RS256"]}, "exactly one of"),
        ({"algorithms": ["RS256"], "secret": "${env:S}"}, "exactly one of"),
        (
            {"algorithms": ["ES256"], "public_key_file": "a.pem", "jwks_file": "b.json"},
            "exactly one of",
        ),
        ({"algorithms": ["HS256"], "secret": "${env:S}", "jwks_file": "b.json"}, "no key file"),
        ({"algorithms": [], "secret": "${env:S}"}, "at least 1 item"),
        ({"algorithms": ["none"], "secret": "${env:S}"}, "Input should be"),
        ({"algorithms": ["HS256"], "secret": "${env:S}", "leeway": "soon"}, "duration"),
        ({"algorithms": ["HS256"], "secret": "${env:S}", "algorithm": "HS256"}, "Extra inputs"),
    ],
)
def test_invalid_configs(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JwtAuth.model_validate(config)


def test_secret_is_resolved_at_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MISSING_JWT_SECRET", raising=False)
    with pytest.raises(ConfigError, match="MISSING_JWT_SECRET is not set"):
        JwtVerifier(JwtAuth(algorithms=["HS256"], secret="${env:MISSING_JWT_SECRET}"))
    short = tmp_path / "short"
    short.write_text("too-short\n")
    with pytest.raises(ConfigError, match="need at least 64"):
        JwtVerifier(JwtAuth(algorithms=["HS256", "HS512"], secret=f"${{file:{short}}}"))


def test_key_files_are_checked_at_load(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(ConfigError, match="cannot verify ES256"):
        JwtVerifier(JwtAuth(algorithms=["ES256"], public_key_file=pem_file(tmp_path, rsa_key)))
    with pytest.raises(ConfigError, match="cannot verify ES384"):
        JwtVerifier(JwtAuth(algorithms=["ES384"], public_key_file=pem_file(tmp_path, ec_key)))
    with pytest.raises(ConfigError, match="cannot read public key file"):
        JwtVerifier(JwtAuth(algorithms=["RS256"], public_key_file=tmp_path / "absent.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(ConfigError, match="no PEM public key"):
        JwtVerifier(JwtAuth(algorithms=["RS256"], public_key_file=garbage))
    jwks = tmp_path / "oct.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "oct", "k": b64url(b"x" * 32)}]}))
    with pytest.raises(ConfigError, match="only RSA and EC"):
        JwtVerifier(JwtAuth(algorithms=["RS256"], jwks_file=jwks))
    jwks.write_text(json.dumps({"keys": []}))
    with pytest.raises(ConfigError, match="no signing keys"):
        JwtVerifier(JwtAuth(algorithms=["RS256"], jwks_file=jwks))
