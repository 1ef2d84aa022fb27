"""Traffic control for inbound listeners, as configured: rate limits, quotas,
concurrency caps and CORS.

This module holds the YAML-facing models only; the per-request checks live in
`runtime/traffic/limits.py` and the browser cross-origin rules in `runtime/traffic/cors.py`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from runtime.core.durations import Duration
from runtime.core.models import StrictModel

# A serialized origin as browsers send it: scheme "://" host [":" port], nothing after.
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#@\s]+$")
# An RFC 9110 token: what header and method names may be made of.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

DEFAULT_ALLOW_HEADERS = ["Content-Type", "Authorization", "X-API-Key", "Idempotency-Key"]
DEFAULT_EXPOSE_HEADERS = [
    "X-Execution-Id",
    "X-Execution-Status-Link",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


class RateLimit(StrictModel):
    """A token bucket per caller (or one for the listener), kept in memory."""

    requests: int = Field(ge=1, description="Requests allowed per `per`: the refill rate.")
    per: Literal["second", "minute", "hour"] = Field(
        description="The period `requests` is counted over: `second`, `minute` or `hour`."
    )
    burst: int | None = Field(
        None,
        ge=1,
        description="Bucket size: how many requests may arrive at once after a quiet "
        "spell. Default: `requests`.",
    )
    by: Literal["listener", "caller"] = Field(
        "caller",
        description="`caller`: a bucket per API key, user, JWT subject or client IP. "
        "`listener`: one bucket shared by everyone.",
    )


class Quota(StrictModel):
    """A hard count per UTC calendar day or month, kept in the store (survives restarts)."""

    requests: int = Field(ge=1, description="Requests allowed per period.")
    per: Literal["day", "month"] = Field(
        description="`day` or `month`, as UTC calendar periods (a day ends at 00:00 UTC)."
    )
    by: Literal["listener", "caller"] = Field(
        "caller",
        description="`caller`: a count per API key, user, JWT subject or client IP. "
        "`listener`: one count shared by everyone.",
    )


class Cors(StrictModel):
    """Which browser origins may call the listener, and what they may send and read."""

    origins: list[str] = Field(
        min_length=1,
        description="Allowed origins, exactly as browsers send them (e.g. "
        '`https://app.example.com`), or `["*"]` for any origin.',
    )
    methods: list[str] | None = Field(
        None, description="Allowed methods. Default: the listener's method and OPTIONS."
    )
    headers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOW_HEADERS),
        description="Request headers a browser may send.",
    )
    expose_headers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXPOSE_HEADERS),
        description="Response headers browser scripts may read.",
    )
    credentials: bool = Field(
        False,
        description="Let browsers send cookies and HTTP auth (`Access-Control-Allow-"
        'Credentials`); not allowed with `origins: ["*"]`.',
    )
    max_age: Duration = Field(600.0, description="How long browsers may cache a preflight answer.")

    _origins: frozenset[str] = PrivateAttr(frozenset())
    _allow_headers: frozenset[str] = PrivateAttr(frozenset())

    @field_validator("origins")
    @classmethod
    def _valid_origins(cls, value: list[str]) -> list[str]:
        if "*" in value:
            if len(value) > 1:
                raise ValueError("'*' allows every origin and cannot be listed with others")
            return value
        # Browsers serialize scheme and host in lower case; compare the same way.
        origins = [origin.lower() for origin in value]
        bad = [origin for origin in origins if not _ORIGIN.match(origin)]
        if bad:
            raise ValueError(
                f"not an origin: {', '.join(bad)} (scheme://host[:port], no path or slash)"
            )
        return origins

    @field_validator("methods")
    @classmethod
    def _valid_methods(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one method, or leave `methods` out")
        return [method.upper() for method in _tokens(value, "method")]

    @field_validator("headers", "expose_headers")
    @classmethod
    def _valid_headers(cls, value: list[str]) -> list[str]:
        return _tokens(value, "header")

    @model_validator(mode="after")
    def _no_credentials_for_everyone(self) -> Cors:
        if self.credentials and self.origins == ["*"]:
            raise ValueError(
                "credentials cannot be allowed for every origin ('*'); list the origins"
            )
        return self

    def model_post_init(self, context: object, /) -> None:
        self._origins = frozenset(self.origins)
        self._allow_headers = frozenset(header.lower() for header in self.headers)

    @property
    def any_origin(self) -> bool:
        """True for `origins: ["*"]`: answers are then the same for every origin."""
        return "*" in self._origins

    def allows_origin(self, origin: str) -> bool:
        return origin in self._origins or "*" in self._origins

    def allows_header(self, header: str) -> bool:
        """Case-insensitive, as header names are."""
        return header.lower() in self._allow_headers

    def allowed_methods(self, listener_method: str) -> list[str]:
        return self.methods if self.methods is not None else [listener_method, "OPTIONS"]


class LimitsConfig(StrictModel):
    """Limits for one listener (HTTP or SOAP); every part is off unless configured."""

    rate_limit: RateLimit | None = Field(
        None, description="Requests per second/minute/hour (in memory, per runtime)."
    )
    quota: Quota | None = Field(
        None, description="Requests per UTC day or month (stored, survives restarts)."
    )
    max_concurrent: int | None = Field(
        None,
        ge=1,
        description="Executions of this listener at once; more are refused with 503.",
    )


class TrafficConfig(LimitsConfig):
    """Limits and CORS for one HTTP listener."""

    cors: Cors | None = Field(None, description="Cross-origin rules for browser callers.")


def _tokens(values: list[str], what: str) -> list[str]:
    bad = [value for value in values if not _TOKEN.match(value)]
    if bad:
        raise ValueError(f"not a valid {what} name: {', '.join(repr(b) for b in bad)}")
    return values
