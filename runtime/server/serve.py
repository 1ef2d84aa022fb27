"""Serving: start the app, and on SIGTERM/SIGINT drain in-flight requests, then exit 0."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import ssl

from aiohttp import web

from runtime.core.components import ConnectionConfig
from runtime.core.engine import Process
from runtime.security.config import SecurityConfig
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.slow_clients import ConnectionLimits, LimitedRunner
from runtime.server.state import STATE

log = logging.getLogger("wharf.server")


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """HTTPS when a certificate is configured; with a client CA, clients may present a
    certificate (listeners with `mtls` auth require one; the others do not ask)."""
    if settings.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca is not None:
        context.load_verify_locations(settings.tls_client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


async def serve(
    processes: list[Process],
    settings: Settings,
    connections: dict[str, ConnectionConfig] | None = None,
    security: SecurityConfig | None = None,
) -> None:
    app = create_app(processes, settings, connections=connections, security=security)
    limits = ConnectionLimits(
        settings.max_header_size, settings.header_timeout, settings.body_timeout
    )
    runner = LimitedRunner(
        app,
        limits,
        handle_signals=False,
        # Each header line is bounded by aiohttp; their total by `max_header_size`.
        max_line_size=min(8190, settings.max_header_size),
        max_field_size=min(8190, settings.max_header_size),
        access_log=logging.getLogger("wharf.access") if settings.access_log else None,
        shutdown_timeout=settings.shutdown_timeout,
    )
    await runner.setup()
    # Everything loaded so far (models, compiled expressions, schemas) lives as long as
    # the server: keep it out of the garbage collector's scans of young objects.
    gc.collect()
    gc.freeze()
    tls = tls_context(settings)
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024, ssl_context=tls)
    await site.start()
    scheme = "https" if tls is not None else "http"
    for address in runner.addresses:
        host, port = address[0], address[1]
        log.info(
            "wharf listening on %s://%s:%s with %d process(es)", scheme, host, port, len(processes)
        )
        # A machine-readable line, so tests and supervisors can find an ephemeral port.
        print(f"WHARF_LISTENING {host} {port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("shutting down: no new connections, draining in-flight requests")
    app[STATE].stopping = True
    # AppRunner.cleanup stops the listening sockets, waits up to shutdown_timeout for
    # running handlers, then closes idle connections and runs cleanup hooks.
    await runner.cleanup()
    log.info("stopped")


def run(
    processes: list[Process],
    settings: Settings,
    connections: dict[str, ConnectionConfig] | None = None,
    security: SecurityConfig | None = None,
) -> None:
    asyncio.run(serve(processes, settings, connections, security))
