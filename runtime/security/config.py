"""Security configuration: a listener's `auth:` and the directory's `security.yaml`.

Nothing is open unless the configuration says so: every listener declares `auth:` (one or
more methods, any of which admits a request) or `auth: none`, or inherits the default
from `security.yaml`; a listener with neither fails validation.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from runtime.core.errors import NestedConfigError
from runtime.core.models import StrictModel
from runtime.security.jwt_auth import JwtAuth
from runtime.security.passwords import is_password_hash
from runtime.security.signatures import SignatureAuth

SECURITY_FILES = ("security.yaml", "security.yml")


class ApiKeyAuth(StrictModel):
    """API keys made with `wharf keys create` (only their hashes are stored)."""

    header: str = Field(
        "X-API-Key",
        description="Header carrying the key; `Authorization: Bearer <key>` is accepted too.",
    )
    query: str | None = Field(
        None, description="Also accept the key in this query parameter (e.g. `api_key`)."
    )


class BasicAuth(StrictModel):
    """HTTP Basic with the users of `security.yaml` whose allow list names this process."""

    realm: str = Field("wharf", description="The realm sent in `WWW-Authenticate`.")


class MtlsAuth(StrictModel):
    """A client certificate, verified against the server's `WHARF_TLS_CLIENT_CA`."""

    subjects: list[str] | None = Field(
        None,
        description="Allowed client subjects, e.g. `CN=partner-a,O=Acme` (default: any "
        "certificate the client CA signed).",
    )


class AuthConfig(StrictModel):
    """One or more methods; a request is admitted by any of them."""

    api_key: ApiKeyAuth | None = Field(None, description="API keys (header or query).")
    basic: BasicAuth | None = Field(None, description="Basic auth users of security.yaml.")
    jwt: JwtAuth | None = Field(None, description="JWT bearer tokens.")
    signature: SignatureAuth | None = Field(
        None, description="A webhook signature over the raw body (GitHub, Stripe, Slack, HMAC)."
    )
    mtls: MtlsAuth | None = Field(None, description="Mutual TLS client certificates.")

    @model_validator(mode="after")
    def _some_method(self) -> AuthConfig:
        if not any(getattr(self, name) is not None for name in type(self).model_fields):
            raise ValueError(
                "give at least one of api_key, basic, jwt, signature, mtls (or `auth: none`)"
            )
        return self


def _auth_spec(value: Any, info: ValidationInfo) -> Any:
    """Pick the branch here, so a mistake is reported once, at its own key (a plain union
    would report it against `none` and the mapping both)."""
    if value == "none" or isinstance(value, AuthConfig):
        return value
    if not isinstance(value, dict):
        raise ValueError("`auth` is `none` or a mapping of methods, e.g. `{api_key: {}}`")
    try:
        return AuthConfig.model_validate(value, context=info.context)
    except ValidationError as exc:
        errors = [(tuple(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        raise NestedConfigError(errors) from None


AuthSpec = Annotated[Literal["none"] | AuthConfig, BeforeValidator(_auth_spec)]


class UserConfig(StrictModel):
    password_hash: str = Field(description="From `wharf hash-password` (scrypt).")
    processes: list[str] = Field(
        description="Processes this user may call (`*`: all listeners with basic auth)."
    )
    ip_allow: list[IPv4Network | IPv6Network] | None = Field(
        None, description="Client addresses allowed for this user, e.g. `10.0.0.0/8`."
    )

    @field_validator("password_hash")
    @classmethod
    def _a_hash(cls, value: str) -> str:
        if not is_password_hash(value):
            raise ValueError("not a password hash: make one with `wharf hash-password`")
        return value


class SecurityDefaults(StrictModel):
    auth: AuthSpec | None = Field(
        None, description="For listeners that declare no `auth:` (e.g. `{api_key: {}}`)."
    )


class AdminAccess(StrictModel):
    jwt: JwtAuth | None = Field(
        None,
        description="JWTs accepted on the admin API (their `admin_claim` must match); admin "
        "API keys (`wharf keys create --admin`) always are.",
    )


class SecurityConfig(StrictModel):
    """`security.yaml`: defaults, basic-auth users and admin access."""

    defaults: SecurityDefaults = Field(default_factory=lambda: SecurityDefaults())
    users: dict[str, UserConfig] = Field(default_factory=dict)
    admin: AdminAccess = Field(default_factory=lambda: AdminAccess())
    metrics: Literal["admin", "open"] = Field(
        "admin", description="`/metrics` needs an admin credential, or is `open`."
    )
