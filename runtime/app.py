"""The aiohttp application: health endpoints, admin API, one route per listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from runtime import api
from runtime.components import ConnectionConfig
from runtime.connections import Connections
from runtime.dispatch import Dispatcher
from runtime.engine import Process
from runtime.errors import RequestError, WharfError
from runtime.problems import problem_response
from runtime.settings import Settings
from runtime.state import STATE, RuntimeState
from runtime.store import Store, open_store

log = logging.getLogger("wharf.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PRUNE_INTERVAL = 300.0


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes an RFC 9457 problem; no traceback ever reaches a caller."""
    try:
        return await handler(request)
    except RequestError as exc:
        return problem_response(
            exc.status, exc.detail, slug=exc.problem, title=exc.title, headers=exc.headers
        )
    except WharfError as exc:
        return problem_response(exc.status, exc.detail, slug=exc.problem, title=exc.title)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status, "http-error")
        detail = {
            404: f"no listener at {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
        }.get(exc.status, exc.reason)
        return problem_response(exc.status, detail, slug=slug, headers=headers)
    except Exception:
        log.exception("unhandled error answering %s %s", request.method, request.path)
        return problem_response(500, "an internal error occurred", slug="internal-error")


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


def create_app(
    processes: list[Process],
    settings: Settings,
    store: Store | None = None,
    connections: dict[str, ConnectionConfig] | None = None,
) -> web.Application:
    """The app; `store` defaults to the one `settings.store` names."""
    # The listeners enforce their own body limits while streaming; this is aiohttp's
    # ceiling for anything that reads bodies whole (the admin API).
    app = web.Application(middlewares=[problem_middleware], client_max_size=settings.max_body)
    store = store if store is not None else open_store(settings.store)
    live = Connections(connections or {})
    dispatcher = Dispatcher(
        processes,
        store,
        workers=settings.workers,
        max_outstanding=settings.max_outstanding,
        connections=live,
    )
    state = RuntimeState(processes, settings, store, dispatcher, live)
    app[STATE] = state
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    api.add_routes(app)
    for process in processes:
        process.trigger.mount(app, process, state)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        await dispatcher.start()
        pruner = asyncio.create_task(_prune_forever(state))
        state.ready = True
        yield
        # Runs after in-flight HTTP requests were drained.
        state.stopping = True
        pruner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
        await dispatcher.stop(settings.shutdown_timeout)
        await live.close()
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    return app
