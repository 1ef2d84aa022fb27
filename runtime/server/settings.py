"""Server settings: command-line flags override `WHARF_*` environment variables."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.core.durations import Duration


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WHARF_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on (0: any free port).")
    max_body: int = Field(
        10 * 1024 * 1024, ge=0, description="Default request body limit in bytes (413 above it)."
    )
    max_header_size: int = Field(
        64 * 1024,
        ge=1024,
        description="Total size of a request's line and headers in bytes (431 above it).",
    )
    header_timeout: Duration = Field(
        10.0, description="A request's line and headers must arrive within this time."
    )
    body_timeout: Duration = Field(
        30.0, description="A request body that sends nothing for this long is dropped."
    )
    max_documents: int = Field(
        10_000,
        ge=1,
        description="Most documents one `json_multiple` request may carry (413 above it).",
    )
    work_budget: Duration = Field(
        10.0,
        description="Longest a request's parsing, XSD validation or XSLT may take (422 or a "
        "Client Fault above it); large documents are worked on off the event loop.",
    )
    shutdown_timeout: Duration = Field(
        30.0, description="On SIGTERM, how long in-flight requests may take to finish."
    )
    store: str = Field(
        "sqlite:///.wharf/wharf.db",
        description="Store URL: sqlite:///relative.db, sqlite:////absolute.db, sqlite:// (memory).",
    )
    workers: int = Field(8, ge=1, le=1024, description="Workers running accepted requests.")
    max_outstanding: int = Field(
        10_000,
        ge=1,
        description="Executions waiting or running at once; beyond it listeners answer 503.",
    )
    retention_age: Duration | None = Field(
        7 * 86400.0, description="Finished execution records older than this are deleted."
    )
    retention_count: int | None = Field(
        100_000, ge=1, description="At most this many execution records are kept."
    )
    admin_key: str | None = Field(
        None,
        repr=False,
        description="An admin API key given by the operator (compared by hash, never stored); "
        "without it and without admin keys in the store, the first start makes one.",
    )
    tls_cert: str | None = Field(None, description="PEM certificate: serve HTTPS.")
    tls_key: str | None = Field(None, description="PEM private key of `tls_cert`.")
    tls_client_ca: str | None = Field(
        None,
        description="PEM CA bundle client certificates are verified against (for `mtls` "
        "listeners; others do not ask for one).",
    )

    @model_validator(mode="after")
    def _tls_pairs(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca needs tls_cert and tls_key (HTTPS)")
        return self

    trusted_proxies: list[IPv4Network | IPv6Network] = Field(
        default_factory=list,
        description="Reverse proxies whose X-Forwarded-For is believed, as a JSON list of "
        'networks, e.g. ["10.0.0.0/8"] (client addresses feed IP allow lists and limits).',
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    access_log: bool = Field(False, description="Log one line per HTTP request.")
