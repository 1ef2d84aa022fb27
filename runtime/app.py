"""The aiohttp application: health endpoints, one route per listener, problem answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from runtime.engine import Process
from runtime.errors import RequestError, WharfError
from runtime.problems import problem_response
from runtime.settings import Settings

log = logging.getLogger("wharf.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RuntimeState:
    """What the health endpoints report on."""

    def __init__(self, processes: list[Process]):
        self.processes = processes
        self.ready = False
        self.stopping = False


STATE = web.AppKey("wharf_state", RuntimeState)


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
    if not state.ready:
        return web.json_response({"status": "starting"}, status=503, headers={"Retry-After": "1"})
    return web.json_response({"status": "ready", "processes": len(state.processes)})


def create_app(processes: list[Process], settings: Settings) -> web.Application:
    # The listeners enforce their own body limits while streaming; this is aiohttp's
    # ceiling for anything that reads bodies whole.
    app = web.Application(middlewares=[problem_middleware], client_max_size=settings.max_body)
    state = RuntimeState(processes)
    app[STATE] = state
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for process in processes:
        process.trigger.mount(app, process, settings)

    async def on_startup(app: web.Application) -> None:
        state.ready = True

    app.on_startup.append(on_startup)
    return app
