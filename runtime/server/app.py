"""The aiohttp application: health endpoints, admin API, one route per listener."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from listeners.context import Mountable
from runtime.core.clock import SYSTEM_CLOCK, Clock
from runtime.core.components import ConnectionConfig
from runtime.core.connections import Connections
from runtime.core.engine import Process
from runtime.core.offload import configure as configure_offload
from runtime.dispatch.dispatcher import Dispatcher
from runtime.schedules.scheduler import Scheduler
from runtime.security.admin import ADMIN_GUARD, AdminGuard, add_admin_route
from runtime.security.api_keys import ApiKeyBook
from runtime.security.config import SecurityConfig
from runtime.server.api import routes as admin_api
from runtime.server.api import usage as api_usage
from runtime.server.settings import Settings
from runtime.server.state import STATE, RuntimeState
from runtime.store import Store, open_store
from runtime.traffic.metrics import Metrics
from runtime.traffic.usage import UsageRecorder
from runtime.web.routes import add_catch_all, add_route

log = logging.getLogger("wharf.app")

PRUNE_INTERVAL = 300.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.stopping:
        return web.json_response({"status": "stopping"}, status=503, headers={"Retry-After": "5"})
    if not state.ready or not await state.store.ping():
        return web.json_response({"status": "starting"}, status=503, headers={"Retry-After": "1"})
    return web.json_response({"status": "ready", "processes": len(state.processes)})


async def _prune_forever(state: RuntimeState) -> None:
    settings = state.settings
    while True:
        try:
            older = time.time() - settings.retention_age if settings.retention_age else None
            deleted = await state.store.prune(older_than=older, keep=settings.retention_count)
            if deleted:
                log.info("retention: deleted %d execution record(s)", deleted)
        except Exception:
            log.exception("retention: pruning failed")
        await asyncio.sleep(PRUNE_INTERVAL)


def _build_state(
    app: web.Application,
    processes: list[Process],
    settings: Settings,
    store: Store,
    connections: dict[str, ConnectionConfig] | None,
    security: SecurityConfig | None,
    clock: Clock,
) -> RuntimeState:
    """Every service of a running server, wired once, here and nowhere else."""
    live = Connections(connections or {})
    dispatcher = Dispatcher(
        processes,
        store,
        workers=settings.workers,
        max_outstanding=settings.max_outstanding,
        connections=live,
    )
    scheduler = Scheduler(store, dispatcher, clock=clock)
    metrics = Metrics(
        inbox_depth=lambda: dispatcher.queued, outstanding=lambda: dispatcher.outstanding
    )
    dispatcher.metrics = scheduler.metrics = metrics
    return RuntimeState(
        app=app,
        processes=processes,
        settings=settings,
        store=store,
        dispatcher=dispatcher,
        connections=live,
        security=security or SecurityConfig(),
        scheduler=scheduler,
        api_keys=ApiKeyBook(store, settings.admin_key),
        usage=UsageRecorder(),
        metrics=metrics,
        clock=clock,
    )


async def _lifecycle(
    state: RuntimeState, admin: AdminGuard, app: web.Application
) -> AsyncIterator[None]:
    settings, store = state.settings, state.store
    await store.open()
    await admin.ensure_admin_credential(f"http://{settings.host}:{settings.port}")
    await state.dispatcher.start()
    await state.scheduler.start()
    pruner = asyncio.create_task(_prune_forever(state))
    state.ready = True
    yield
    # Runs after in-flight HTTP requests were drained.
    state.stopping = True
    pruner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pruner
    await state.scheduler.stop(settings.shutdown_timeout)
    await state.dispatcher.stop(settings.shutdown_timeout)
    await state.connections.close()
    await store.close()


def create_app(
    processes: list[Process],
    settings: Settings,
    store: Store | None = None,
    connections: dict[str, ConnectionConfig] | None = None,
    security: SecurityConfig | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> web.Application:
    """The app; `store` defaults to the one `settings.store` names; `clock` is the time
    schedules and traffic limits go by (tests pass `runtime.testing.FakeClock`)."""
    # The listeners enforce their own body limits while streaming; this is aiohttp's
    # ceiling for anything that reads bodies whole (the admin API).
    app = web.Application(client_max_size=settings.max_body)
    configure_offload(settings.work_budget)
    store = store if store is not None else open_store(settings.store)
    state = _build_state(app, processes, settings, store, connections, security, clock)
    app[STATE] = state
    admin = AdminGuard(state.api_keys, state.security)
    app[ADMIN_GUARD] = admin
    app[api_usage.USAGE] = state.usage
    app[api_usage.METRICS] = state.metrics
    add_route(app, "GET", "/healthz", healthz)
    add_route(app, "GET", "/readyz", readyz)
    admin_api.add_routes(app)
    if state.security.metrics == "open":
        add_route(app, "GET", "/metrics", api_usage.get_metrics)
    else:
        add_admin_route(app, "GET", "/metrics", api_usage.get_metrics)
    for process in processes:
        trigger = process.trigger
        if not isinstance(trigger, Mountable):  # pragma: no cover - every kind mounts
            raise TypeError(f"trigger {process.trigger_kind!r} cannot mount")
        trigger.mount(process, state)
    add_catch_all(app)  # last: unknown paths and wrong methods answer problems
    app.cleanup_ctx.append(functools.partial(_lifecycle, state, admin))
    return app
