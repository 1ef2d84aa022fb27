"""JWT bearer tokens: the `jwt:` auth method and its verifier.

The config refuses what makes JWT verification go wrong in practice: an HMAC algorithm
next to an asymmetric one (algorithm confusion: a token signed with the public key as an
HMAC secret), a literal secret in YAML, a key source that does not fit the algorithms.
`JwtVerifier` loads keys and resolves secrets once, at load; `verify` only checks tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import Field, field_validator, model_validator

from runtime.core.durations import Duration
from runtime.core.errors import ConfigError
from runtime.core.models import StrictModel
from runtime.core.secrets import SecretError, is_reference, resolve
from runtime.security.errors import AuthFailed

Algorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

MAX_TOKEN_LENGTH = 16_384  # far above any real token; bounds the work an attacker can ask
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}  # RFC 7518 3.2: >= hash size
_CURVES: dict[str, type[ec.EllipticCurve]] = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1}


def _is_hmac(algorithm: str) -> bool:
    return algorithm.startswith("HS")


def key_fits(algorithm: str, key: PublicKey) -> bool:
    """Whether a public key can verify `algorithm` (RSA for RS/PS, the right curve for ES)."""
    if algorithm[:2] in ("RS", "PS"):
        return isinstance(key, rsa.RSAPublicKey)
    curve = _CURVES.get(algorithm)
    return (
        curve is not None
        and isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, curve)
    )


class AdminClaim(StrictModel):
    """Which claim marks an admin, e.g. `{claim: role, value: admin}`."""

    claim: str = Field(
        description="Claim name, e.g. `role` or `https://example.com/roles`; a dotted path "
        "such as `realm_access.roles` reaches into nested claims."
    )
    value: str = Field(description="The value (or list member) that grants admin access.")


class JwtAuth(StrictModel):
    """JWT bearer tokens signed with a shared secret (HS*) or a private key (RS/ES/PS)."""

    algorithms: list[Algorithm] = Field(
        min_length=1,
        description="Accepted `alg` values; HS* and asymmetric algorithms cannot be mixed. "
        "`none` is never accepted.",
    )
    secret: str | None = Field(
        None, description="HS* only: the shared secret, as `${env:NAME}` or `${file:/path}`."
    )
    public_key_file: Path | None = Field(
        None, description="RS/ES/PS: a PEM file with the public key or a certificate."
    )
    jwks_file: Path | None = Field(
        None,
        description="RS/ES/PS: a JWKS JSON file; the key is chosen by the token's `kid` "
        "(a token without `kid` needs a set of exactly one key).",
    )
    issuer: str | None = Field(None, description="When set, the `iss` claim must equal it.")
    audience: str | list[str] | None = Field(
        None, description="When set, the `aud` claim must contain (one of) these values."
    )
    leeway: Duration = Field(30.0, description="Clock skew allowed on `exp`, `nbf` and `iat`.")
    required_claims: list[str] = Field(
        default_factory=lambda: ["exp"],
        description="Claims a token must carry; `exp` is always required.",
    )
    claims_as_properties: list[str] = Field(
        default_factory=lambda: ["sub"],
        description="Claims copied into document properties as `jwt_<claim>`.",
    )
    admin_claim: AdminClaim | None = Field(
        None, description="For the admin API: the claim and value that make a token admin."
    )

    @field_validator("secret")
    @classmethod
    def _secret_reference(cls, value: str | None) -> str | None:
        if value is not None and not is_reference(value):
            raise ValueError(
                "secret must be a reference like ${env:NAME} or ${file:/path}; "
                "literal secrets are refused"
            )
        return value

    @field_validator("required_claims")
    @classmethod
    def _exp_required(cls, value: list[str]) -> list[str]:
        return value if "exp" in value else [*value, "exp"]

    @model_validator(mode="after")
    def _key_source_fits(self) -> JwtAuth:
        families = {_is_hmac(algorithm) for algorithm in self.algorithms}
        if len(families) > 1:
            raise ValueError(
                "HS* algorithms cannot be mixed with RS/ES/PS ones (algorithm confusion)"
            )
        files = [name for name in ("public_key_file", "jwks_file") if getattr(self, name)]
        if families == {True}:
            if self.secret is None or files:
                raise ValueError("HS* algorithms need `secret` and no key file")
        elif len(files) != 1 or self.secret is not None:
            raise ValueError(
                "RS/ES/PS algorithms need exactly one of `public_key_file`, `jwks_file` "
                "(and no `secret`)"
            )
        return self


class JwtVerifier:
    """Checks tokens against one `JwtAuth`; built once at load (reads keys and secrets)."""

    def __init__(self, config: JwtAuth):
        self.config = config
        self._algorithms: list[str] = list(dict.fromkeys(config.algorithms))
        self._secret: bytes | None = None
        self._key: PublicKey | None = None
        self._jwks: dict[str | None, tuple[PublicKey, str | None]] = {}
        if config.secret is not None:
            self._secret = _load_secret(config.secret, self._algorithms)
        elif config.public_key_file is not None:
            self._key = _load_pem(config.public_key_file)
            unfit = [alg for alg in self._algorithms if not key_fits(alg, self._key)]
            if unfit:
                raise ConfigError(
                    f"the key in {config.public_key_file} cannot verify {', '.join(unfit)}"
                )
        elif config.jwks_file is not None:
            self._jwks = _load_jwks(config.jwks_file)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; `AuthFailed` (with the reason for the log) otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthFailed("malformed token: empty or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthFailed("malformed token") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise AuthFailed(f"token algorithm {algorithm!r} is not accepted")
        key = self._key_for(algorithm, header.get("kid"))
        config = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=config.issuer,
                audience=config.audience,
                leeway=config.leeway,
                options={"require": config.required_claims, "verify_aud": bool(config.audience)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthFailed("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthFailed("token not yet valid") from None
        except jwt.InvalidSignatureError:
            raise AuthFailed("bad token signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthFailed(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidAudienceError:
            raise AuthFailed("wrong token audience") from None
        except jwt.InvalidIssuerError:
            raise AuthFailed("wrong token issuer") from None
        except jwt.PyJWTError as exc:
            raise AuthFailed(f"invalid token: {exc}") from None
        return claims

    def properties(self, claims: dict[str, Any]) -> dict[str, Any]:
        """Document properties `jwt_<claim>` for the configured claims the token carries."""
        return {
            f"jwt_{name}": claims[name]
            for name in self.config.claims_as_properties
            if name in claims
        }

    def is_admin(self, claims: dict[str, Any]) -> bool:
        """Whether verified claims carry the configured admin claim (value or list member)."""
        admin = self.config.admin_claim
        if admin is None:
            return False
        value = _claim(claims, admin.claim)
        if isinstance(value, list):
            return admin.value in value
        return isinstance(value, str) and value == admin.value

    def _key_for(self, algorithm: str, kid: object) -> bytes | PublicKey:
        if self._secret is not None:
            return self._secret
        if self._key is not None:
            return self._key
        if kid is None and len(self._jwks) == 1:
            ((key, key_alg),) = self._jwks.values()
        elif isinstance(kid, str) and kid in self._jwks:
            key, key_alg = self._jwks[kid]
        else:
            raise AuthFailed(f"no key in the JWKS for kid {kid!r}")
        if (key_alg is not None and key_alg != algorithm) or not key_fits(algorithm, key):
            raise AuthFailed(f"JWKS key {kid!r} is not for algorithm {algorithm}")
        return key


def _claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by its exact name (namespaced claims contain dots) or by a dotted path."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _load_secret(reference: str, algorithms: list[str]) -> bytes:
    try:
        secret = resolve(reference).encode()
    except SecretError as exc:
        raise ConfigError(f"jwt secret: {exc}") from None
    needed = max(_HMAC_MIN_BYTES[algorithm] for algorithm in algorithms)
    if len(secret) < needed:
        raise ConfigError(
            f"jwt secret is {len(secret)} bytes; {', '.join(algorithms)} need at least {needed}"
        )
    return secret


def _load_pem(path: Path) -> PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read public key file {path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = load_pem_public_key(data)
    except ValueError:
        raise ConfigError(f"{path} holds no PEM public key or certificate") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ConfigError(f"{path}: only RSA and EC public keys are supported")
    return key


def _load_jwks(path: Path) -> dict[str | None, tuple[PublicKey, str | None]]:
    """kid -> (public key, the JWK's `alg` if it names one). Symmetric keys are refused:
    a JWKS here backs asymmetric algorithms only."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read JWKS file {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"JWKS file {path} is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"JWKS file {path} has no `keys` list")
    keys: dict[str | None, tuple[PublicKey, str | None]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue  # encryption keys do not verify signatures
        if entry.get("kty") not in ("RSA", "EC"):
            raise ConfigError(f"JWKS file {path}: only RSA and EC keys are supported")
        try:
            key: Any = jwt.PyJWK(entry).key
        except jwt.PyJWTError as exc:
            raise ConfigError(f"JWKS file {path}: unusable key: {exc}") from None
        if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            key = key.public_key()
        kid = entry.get("kid") if isinstance(entry.get("kid"), str) else None
        if kid in keys:
            what = f"kid {kid!r} appears twice" if kid else "several keys have no kid"
            raise ConfigError(f"JWKS file {path}: {what}")
        alg = entry.get("alg")
        keys[kid] = (key, alg if isinstance(alg, str) else None)
    if not keys:
        raise ConfigError(f"JWKS file {path} has no signing keys")
    return keys
