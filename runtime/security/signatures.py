"""Webhook signatures: an HMAC of the raw body, keyed with a secret shared with the sender.

Presets cover GitHub, Stripe and Slack; anything else is described with the generic
fields (algorithm, header, encoding, prefix, and optionally a signed timestamp). A signed
timestamp outside the tolerance is refused, so a captured request cannot be replayed
later. Digests are compared as bytes with `hmac.compare_digest`, never as text.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from runtime.core.durations import Duration
from runtime.core.errors import ConfigError
from runtime.core.models import StrictModel
from runtime.core.secrets import SecretError, is_reference, resolve
from runtime.security.errors import AuthFailed

Preset = Literal["github", "stripe", "slack"]
_GENERIC_FIELDS = frozenset(
    {"algorithm", "header", "encoding", "prefix", "signed", "timestamp_header"}
)
STRIPE_HEADER = "stripe-signature"


class SignatureAuth(StrictModel):
    """An HMAC signature header over the raw request body."""

    preset: Preset | None = Field(
        None, description="A known sender's scheme; leave out to describe a generic HMAC."
    )
    secret: str = Field(
        description="The shared signing secret, as `${env:NAME}` or `${file:/path}`."
    )
    algorithm: Literal["sha1", "sha256", "sha512"] = Field(
        "sha256", description="Generic only: the HMAC hash."
    )
    header: str | None = Field(
        None, description="Generic only (required): the header carrying the signature."
    )
    encoding: Literal["hex", "base64"] = Field(
        "hex", description="Generic only: how the digest is written in the header."
    )
    prefix: str = Field(
        "", description="Generic only: text before the digest in the header, e.g. `sha256=`."
    )
    signed: Literal["body", "timestamp.body"] = Field(
        "body",
        description="Generic only: what is signed; `timestamp.body` is `<timestamp>.<body>`.",
    )
    timestamp_header: str | None = Field(
        None,
        description="Generic only: the header with the unix timestamp (required with "
        "`signed: timestamp.body`).",
    )
    tolerance: Duration = Field(
        300.0,
        description="How far a signed timestamp may be from now, either way (replay guard).",
    )

    @field_validator("secret")
    @classmethod
    def _secret_reference(cls, value: str) -> str:
        if not is_reference(value):
            raise ValueError(
                "secret must be a reference like ${env:NAME} or ${file:/path}; "
                "literal secrets are refused"
            )
        return value

    @model_validator(mode="after")
    def _scheme_complete(self) -> SignatureAuth:
        if self.preset is not None:
            extra = sorted(_GENERIC_FIELDS & self.model_fields_set)
            if extra:
                raise ValueError(f"preset {self.preset} fixes its scheme; drop {', '.join(extra)}")
            if self.preset == "github" and "tolerance" in self.model_fields_set:
                raise ValueError("github signatures carry no timestamp; drop tolerance")
            return self
        if not self.header:
            raise ValueError("a generic signature needs `header` (or give a `preset`)")
        if (self.signed == "timestamp.body") != (self.timestamp_header is not None):
            raise ValueError("`signed: timestamp.body` and `timestamp_header` go together")
        return self


@dataclass(frozen=True, slots=True)
class _Scheme:
    """One header holding one digest; with a timestamp, the signed bytes are
    `lead + timestamp + separator + body`."""

    header: str  # lower case
    digest: str
    encoding: str
    prefix: str
    timestamp_header: str | None = None
    lead: bytes = b""
    separator: bytes = b"."


GITHUB = _Scheme("x-hub-signature-256", "sha256", "hex", "sha256=")
SLACK = _Scheme(
    "x-slack-signature", "sha256", "hex", "v0=", "x-slack-request-timestamp", b"v0:", b":"
)


class SignatureVerifier:
    """Checks request signatures for one `SignatureAuth`; built once at load."""

    def __init__(self, config: SignatureAuth):
        self.config = config
        try:
            secret = resolve(config.secret)
        except SecretError as exc:
            raise ConfigError(f"signature secret: {exc}") from None
        if not secret:
            raise ConfigError("signature secret is empty")
        self._secret = secret.encode()
        self._scheme: _Scheme | None
        if config.preset == "github":
            self._scheme = GITHUB
        elif config.preset == "slack":
            self._scheme = SLACK
        elif config.preset == "stripe":
            self._scheme = None
        else:
            assert config.header is not None  # the model requires it without a preset
            self._scheme = _Scheme(
                config.header.lower(),
                config.algorithm,
                config.encoding,
                config.prefix,
                config.timestamp_header.lower() if config.timestamp_header else None,
            )

    def verify(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
        """Return if the request is signed with the secret (and fresh); else `AuthFailed`.

        `headers` may be any mapping; names are matched case-insensitively. `now` is for
        tests: unix time, defaulting to the clock.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        now = time.time() if now is None else now
        if self._scheme is None:
            self._verify_stripe(lowered, body, now)
        else:
            self._verify_scheme(self._scheme, lowered, body, now)

    def _verify_scheme(
        self, scheme: _Scheme, headers: dict[str, str], body: bytes, now: float
    ) -> None:
        presented = _header(headers, scheme.header).strip()
        signed = body
        timestamp: str | None = None
        if scheme.timestamp_header is not None:
            timestamp = _header(headers, scheme.timestamp_header).strip()
            signed = scheme.lead + timestamp.encode() + scheme.separator + body
        expected = hmac.digest(self._secret, signed, scheme.digest)
        if not presented.startswith(scheme.prefix):
            raise AuthFailed(f"signature header {scheme.header} lacks prefix {scheme.prefix!r}")
        digest = _decode(presented[len(scheme.prefix) :], scheme.encoding)
        if digest is None or not hmac.compare_digest(digest, expected):
            raise AuthFailed("bad request signature")
        if timestamp is not None:
            self._check_fresh(timestamp, now)

    def _verify_stripe(self, headers: dict[str, str], body: bytes, now: float) -> None:
        timestamps: list[str] = []
        candidates: list[str] = []
        for part in _header(headers, STRIPE_HEADER).split(","):
            key, _, value = part.strip().partition("=")
            if key == "t":
                timestamps.append(value.strip())
            elif key == "v1":  # other schemes (v0, test-mode) are not trusted
                candidates.append(value.strip())
        if len(timestamps) != 1 or not candidates:
            raise AuthFailed("Stripe-Signature needs one t= and at least one v1=")
        expected = hmac.digest(self._secret, timestamps[0].encode() + b"." + body, "sha256")
        # Every candidate is compared, so timing says nothing about which one matched.
        matches = [
            digest is not None and hmac.compare_digest(digest, expected)
            for digest in (_decode(candidate, "hex") for candidate in candidates)
        ]
        if not any(matches):
            raise AuthFailed("bad request signature")
        self._check_fresh(timestamps[0], now)

    def _check_fresh(self, timestamp: str, now: float) -> None:
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise AuthFailed(f"signature timestamp {timestamp[:20]!r} is not unix seconds")
        skew = abs(now - int(timestamp))
        if skew > self.config.tolerance:
            raise AuthFailed(f"signature timestamp is {skew:.0f}s away from now (replay?)")


def _header(headers: dict[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise AuthFailed(f"missing header {name}")
    return value


def _decode(text: str, encoding: str) -> bytes | None:
    """The digest bytes, or None when the text is not valid hex/base64."""
    try:
        if encoding == "hex":
            return bytes.fromhex(text)
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return None
