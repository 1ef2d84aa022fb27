"""The admin API for schedules and pollers: list, inspect, pause, resume, run now."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from runtime.core.errors import RequestError
from runtime.core.timestamps import iso_times
from runtime.dispatch.dispatcher import parse_max_wait
from runtime.schedules.scheduler import ScheduledProcess, Scheduler
from runtime.security.admin import add_admin_route
from runtime.server.state import STATE

MAX_FIRES = 500


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _scheduler(request: web.Request) -> Scheduler:
    return request.app[STATE].scheduler


def _entry(request: web.Request) -> tuple[Scheduler, ScheduledProcess]:
    scheduler = _scheduler(request)
    name = request.match_info["name"]
    entry = scheduler.entry(name)
    if entry is None:
        raise RequestError(
            f"no scheduled process named {name!r}",
            status=404,
            problem="not-found",
            title="Not found",
        )
    return scheduler, entry


async def list_schedules(request: web.Request) -> web.Response:
    scheduler = _scheduler(request)
    items = [iso_times(await scheduler.describe(name)) for name in sorted(scheduler.entries)]
    return _json({"items": items})


async def get_schedule(request: web.Request) -> web.Response:
    scheduler, entry = _entry(request)
    text = request.query.get("fires", "20")
    if not text.isdigit() or not 1 <= int(text) <= MAX_FIRES:
        raise RequestError(
            f"fires is a number from 1 to {MAX_FIRES}, not {text!r}", problem="invalid-query"
        )
    return _json(iso_times(await scheduler.describe(entry.process.name, fires=int(text))))


async def pause_schedule(request: web.Request) -> web.Response:
    scheduler, entry = _entry(request)
    await scheduler.set_paused(entry.process.name, True)
    return _json(iso_times(await scheduler.describe(entry.process.name)))


async def resume_schedule(request: web.Request) -> web.Response:
    scheduler, entry = _entry(request)
    await scheduler.set_paused(entry.process.name, False)
    return _json(iso_times(await scheduler.describe(entry.process.name)))


async def run_schedule(request: web.Request) -> web.Response:
    """Fire now, paused or not. With `?wait=<ms>` the answer is the finished fire."""
    scheduler, entry = _entry(request)
    wait = parse_max_wait(request.query.get("wait"), 0.0) or 0.0
    task = await scheduler.run_now(entry.process.name)
    if wait > 0:
        done, _ = await asyncio.wait({task}, timeout=wait)
        if done:
            fire = task.result()
            if fire is not None:
                return _json(iso_times({"process": entry.process.name, **fire.as_dict()}))
    return _json({"process": entry.process.name, "status": "running"}, status=202)


def add_routes(app: web.Application) -> None:
    add_admin_route(app, "GET", "/api/schedules", list_schedules)
    add_admin_route(app, "GET", "/api/schedules/{name}", get_schedule)
    add_admin_route(app, "POST", "/api/schedules/{name}/pause", pause_schedule)
    add_admin_route(app, "POST", "/api/schedules/{name}/resume", resume_schedule)
    add_admin_route(app, "POST", "/api/schedules/{name}/run", run_schedule)
