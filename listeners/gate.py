"""What stands between a caller and a listener's process, and what is counted on the way.

`ListenerGate.admit` runs, in order, the listener's auth, rate limit, quota and
concurrency cap; each refusal is a problem (401/403, 429, 429, 503) and is marked on the
request for the analytics. `add_listener_route` wraps a listener's handler so every
answer, refusals included, is observed once: Prometheus metrics and per-caller usage.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from runtime.core.errors import ConfigError, RequestError
from runtime.security.clients import resolve_client
from runtime.security.config import AuthSpec
from runtime.security.guard import ListenerGuard, Principal
from runtime.traffic.config import LimitsConfig, TrafficConfig
from runtime.traffic.cors import cors_headers, cors_preflight
from runtime.traffic.limits import (
    ConcurrencyLimiter,
    QuotaCounter,
    RateLimiter,
    listener_busy,
    quota_exceeded,
    rate_limit_headers,
    rate_limited,
)
from runtime.web.routes import Handler, answers_problems

if TYPE_CHECKING:
    from listeners.context import MountContext
    from runtime.core.engine import Process

CALLER = web.RequestKey("wharf_caller", str)
REJECTED = web.RequestKey("wharf_rejected", str)  # auth | rate | quota | busy
BYTES_IN = web.RequestKey("wharf_bytes_in", int)
EXTRA_HEADERS = web.RequestKey("wharf_headers", dict[str, str])
SLOT = web.RequestKey("wharf_slot", bool)  # the request holds a concurrency slot


def idempotency_scope(principal: Principal) -> str:
    """Whose idempotency keys these are: the authenticated caller (`api_key:key:<id>`,
    `basic:user:<name>`, `jwt:<sub>`, `mtls:<subject>`), one scope for every holder of a
    webhook signature secret, and one shared scope (empty) for anonymous callers."""
    if principal.kind == "none":
        return ""
    if principal.kind == "signature":
        return "signature"
    return f"{principal.kind}:{principal.caller}"


def _refused(request: web.Request, reason: str, error: RequestError) -> RequestError:
    request[REJECTED] = reason
    return error


class ListenerGate:
    def __init__(
        self, name: str, guard: ListenerGuard, traffic: LimitsConfig, context: MountContext
    ):
        self.name = name
        self.guard = guard
        self.needs_body = guard.needs_body
        rate, quota, clock = traffic.rate_limit, traffic.quota, context.clock
        self.rate = RateLimiter(rate, clock=clock) if rate else None
        self.quota = QuotaCounter(quota, context.store, clock=clock) if quota else None
        self.busy = ConcurrencyLimiter(traffic.max_concurrent) if traffic.max_concurrent else None
        limited = self.rate is not None or self.quota is not None or self.busy is not None
        # `auth: none` and no limits: every request is admitted as the same anonymous caller
        # (analytics then count it by client address), without a check per request.
        self.open_principal = Principal("none", "") if guard.open and not limited else None

    async def admit(self, request: web.Request, body: bytes | None = None) -> Principal:
        """The caller, once every check passed; call `release` after the work."""
        try:
            principal = await self.guard.check(request, body)
        except RequestError as exc:
            raise _refused(request, "auth", exc) from None
        request[CALLER] = principal.caller
        if self.rate is not None:
            decision = self.rate.check(principal.caller)
            request[EXTRA_HEADERS] = rate_limit_headers(decision)
            if not decision.allowed:
                raise _refused(request, "rate", rate_limited(decision))
        if self.quota is not None:
            quota = await self.quota.consume(self.name, principal.caller)
            if not quota.allowed:
                raise _refused(request, "quota", quota_exceeded(quota))
        if self.busy is not None:
            if not self.busy.try_acquire():
                raise _refused(request, "busy", listener_busy())
            request[SLOT] = True
        return principal

    def release(self, request: web.Request) -> None:
        """After the work: give back the request's concurrency slot, if it took one."""
        if self.busy is not None and request.pop(SLOT, False):
            self.busy.release()


def gate_for(
    auth: AuthSpec | None, limits: LimitsConfig, process: Process, context: MountContext
) -> ListenerGate:
    """The gate of one listener (HTTP route or SOAP operation): its declared `auth`, or
    security.yaml's default, and its limits."""
    spec = auth if auth is not None else context.security.defaults.auth
    if spec is None:  # the loader refuses this; a hand-built app must say it too
        raise ConfigError(f"process {process.name!r}: its listener declares no `auth:`")
    if spec != "none" and spec.mtls is not None and context.settings.tls_client_ca is None:
        raise ConfigError(
            f"process {process.name!r} uses mtls: set WHARF_TLS_CERT, WHARF_TLS_KEY and "
            "WHARF_TLS_CLIENT_CA"
        )
    guard = ListenerGuard(spec, process.name, context.security, context.api_keys)
    return ListenerGate(process.name, guard, limits, context)


def add_listener_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    name: str,
    context: MountContext,
    traffic: TrafficConfig | None = None,
) -> None:
    """Route a listener: its answers become problems, and each one is counted."""
    inner = answers_problems(handler)
    cors = traffic.cors if traffic is not None else None
    metrics, usage = context.metrics, context.usage
    proxies = context.settings.trusted_proxies

    async def observed(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        address = resolve_client(request, proxies)
        response = await inner(request)
        extra: dict[str, str] | None = request.get(EXTRA_HEADERS)
        if extra:
            response.headers.update(extra)
        if cors is not None:
            response.headers.update(cors_headers(cors, request.headers.get("Origin")))
        seconds = time.perf_counter() - started
        body = getattr(response, "body", None)
        bytes_out = len(body) if isinstance(body, bytes | bytearray) else 0
        bytes_in: int = request.get(BYTES_IN, 0)
        rejected: str | None = request.get(REJECTED)
        if rejected is None and response.status == 503:
            rejected = "busy"
        caller: str = request.get(CALLER) or address
        metrics.observe_request(name, response.status, bytes_in, bytes_out, seconds, rejected)
        usage.record(name, caller, response.status, bytes_in, bytes_out, seconds, rejected)
        return response

    app.router.add_route(method, path, observed)
    if cors is not None:

        async def preflight(request: web.Request) -> web.StreamResponse:
            answer = cors_preflight(cors, request, listener_method=method)
            if answer is None:
                raise web.HTTPMethodNotAllowed(request.method, [method])
            return answer

        app.router.add_route("OPTIONS", path, answers_problems(preflight))
