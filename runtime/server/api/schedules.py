"""The admin API for schedules and pollers: list, inspect, pause, resume, run now.

The models describe the answers in the OpenAPI document; the scheduler writes them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, Field

from runtime.core.errors import RequestError
from runtime.core.timestamps import iso_times
from runtime.dispatch.dispatcher import parse_max_wait
from runtime.schedules.scheduler import ScheduledProcess, Scheduler
from runtime.server.api.declaration import AdminRoute, Reply, optional
from runtime.server.api.models import ProcessName
from runtime.server.state import STATE

MAX_FIRES = 500
FireStatus = Literal[
    "running", "queued", "succeeded", "failed", "idle", "skipped", "missed", "abandoned"
]


class Fire(BaseModel):
    process: str = optional()
    slot: datetime = Field(description="nominal fire time")
    kind: Literal["schedule", "catch_up", "manual"]
    status: FireStatus
    claimed_by: str = optional("the runtime that ran it")
    claimed_at: datetime = optional()
    finished_at: datetime | None = optional()
    execution_id: str | None = optional()
    executions: int = optional()
    error: dict[str, Any] | None = optional()


class Schedule(BaseModel):
    process: str
    trigger: str
    cron: str | None = optional()
    every: float | None = optional()
    timezone: str = optional()
    overlap: Literal["skip", "queue", "allow"] = optional()
    catch_up: Literal["none", "once"] = optional()
    paused: bool
    next_fire_at: datetime | None
    running: int = optional()
    last_fire: Fire | None
    fires: list[Fire] = optional()


class ScheduleList(BaseModel):
    items: list[Schedule] = optional()


class FireStarted(BaseModel):
    process: str
    status: Literal["running"]


class RecentFires(BaseModel):
    fires: int = Field(
        20, ge=1, le=MAX_FIRES, description=f"how many recent fires (1-{MAX_FIRES}, default 20)"
    )


class RunWait(BaseModel):
    wait: int = optional(
        "milliseconds to wait for the fire to finish (default 0: answer 202 at once); "
        "`wharf run-now --wait` takes seconds",
        ge=0,
    )


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


SCHEDULE = Reply("The schedule", Schedule)

ROUTES = (
    AdminRoute(
        "GET",
        "/api/schedules",
        list_schedules,
        summary="Scheduled processes and pollers: next fire time, last result",
        replies={200: Reply("Schedules", ScheduleList)},
    ),
    AdminRoute(
        "GET",
        "/api/schedules/{name}",
        get_schedule,
        summary="One schedule with its recent fires (newest first)",
        path_params=ProcessName,
        query=RecentFires,
        replies={200: SCHEDULE},
        problems=(400, 404),
    ),
    AdminRoute(
        "POST",
        "/api/schedules/{name}/pause",
        pause_schedule,
        summary="Pause: fires do nothing until resumed (kept in the store)",
        path_params=ProcessName,
        replies={200: SCHEDULE},
        problems=(404,),
    ),
    AdminRoute(
        "POST",
        "/api/schedules/{name}/resume",
        resume_schedule,
        summary="Resume a paused schedule",
        path_params=ProcessName,
        replies={200: SCHEDULE},
        problems=(404,),
    ),
    AdminRoute(
        "POST",
        "/api/schedules/{name}/run",
        run_schedule,
        summary="Fire now, even when paused",
        path_params=ProcessName,
        query=RunWait,
        replies={
            200: Reply("The finished fire", Fire),
            202: Reply("Started and still running; see GET /api/schedules/{name}", FireStarted),
        },
        problems=(400, 404),
    ),
)
