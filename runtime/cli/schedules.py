"""`wharf schedules list|show|pause|resume` and `wharf run-now`.

Against a running server (`--url`, `WHARF_URL`); pause and resume also work on the store
directly (`--store`), since the pause flag lives there and every runtime reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import aiohttp

from runtime.cli.executions import DEFAULT_URL, fail, http_json, server_url, utc_text
from runtime.core.durations import parse_duration
from runtime.store import open_store

FINE = ("succeeded", "idle")


def _wait(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(commands: Any) -> None:
    schedules = commands.add_parser("schedules", help="scheduled processes and pollers")
    actions = schedules.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="next fire time and last result of each")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one schedule with its recent fires (JSON)")
    show.add_argument("name")
    show.add_argument("--fires", type=int, default=20)
    pause = actions.add_parser("pause", help="fires do nothing until resumed")
    resume = actions.add_parser("resume", help="resume a paused schedule")
    run_now = commands.add_parser("run-now", help="fire a scheduled process now")
    run_now.add_argument("name")
    run_now.add_argument(
        "--wait",
        type=_wait,
        default=60.0,
        help="how long to wait for the result: seconds, or with a unit as in 500ms, 2m "
        "(default 60s; the API's ?wait= is milliseconds, this converts)",
    )
    for parser in (listing, show, pause, resume, run_now):
        parser.add_argument("--url", help=f"a running server (default {DEFAULT_URL}, WHARF_URL)")
    for parser in (pause, resume):
        parser.add_argument("name")
        parser.add_argument("--store", help="set the flag in the store directly")
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))
    show.set_defaults(func=lambda a: asyncio.run(_show(a)))
    pause.set_defaults(func=lambda a: asyncio.run(_set_paused(a, True)))
    resume.set_defaults(func=lambda a: asyncio.run(_set_paused(a, False)))
    run_now.set_defaults(func=lambda a: asyncio.run(_run_now(a)))


async def _call(
    args: argparse.Namespace, method: str, path: str, params: dict[str, str] | None = None
) -> tuple[int, Any]:
    try:
        return await http_json(method, f"{server_url(args)}{path}", params)
    except aiohttp.ClientError as exc:
        return 0, {"detail": f"cannot reach {server_url(args)}: {exc}"}


def _when(item: dict[str, Any]) -> str:
    if item.get("cron"):
        return str(item["cron"])
    every = item.get("every")
    return f"every {every:g}s" if isinstance(every, int | float) else "-"


async def _list(args: argparse.Namespace) -> int:
    status, body = await _call(args, "GET", "/api/schedules")
    if status != 200:
        return fail(body.get("detail", f"HTTP {status}"))
    items = body["items"]
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    print(f"{'PROCESS':24}  {'TRIGGER':10}  {'WHEN':16}  {'NEXT FIRE':20}  LAST")
    for item in items:
        last = item.get("last_fire") or {}
        next_fire = "paused" if item["paused"] else utc_text(item["next_fire_at"])
        last_text = f"{last['status']} {utc_text(last['slot'])}" if last else "-"
        print(
            f"{item['process'][:24]:24}  {item['trigger'][:10]:10}  {_when(item)[:16]:16}  "
            f"{next_fire:20}  {last_text}"
        )
    return 0


async def _show(args: argparse.Namespace) -> int:
    status, body = await _call(
        args, "GET", f"/api/schedules/{args.name}", {"fires": str(args.fires)}
    )
    if status != 200:
        return fail(body.get("detail", f"HTTP {status}"))
    print(json.dumps(body, indent=2))
    return 0


async def _set_paused(args: argparse.Namespace, paused: bool) -> int:
    word = "paused" if paused else "resumed"
    if args.store:
        store = open_store(args.store)
        await store.open()
        try:
            await store.set_paused(args.name, paused)
        finally:
            await store.close()
        print(f"{args.name} {word} (running servers see it within seconds)")
        return 0
    action = "pause" if paused else "resume"
    status, body = await _call(args, "POST", f"/api/schedules/{args.name}/{action}")
    if status != 200:
        return fail(body.get("detail", f"HTTP {status}"))
    print(f"{args.name} {word}")
    return 0


async def _run_now(args: argparse.Namespace) -> int:
    wait = {"wait": str(int(args.wait * 1000))}
    status, body = await _call(args, "POST", f"/api/schedules/{args.name}/run", wait)
    if status == 202:
        print(f"{args.name} fired; still running after {args.wait:g}s")
        return 0
    if status != 200:
        return fail(body.get("detail", f"HTTP {status}"))
    execution = body.get("execution_id") or "-"
    print(f"{args.name}: {body['status']} ({body['executions']} execution(s), last {execution})")
    if body.get("error"):
        print(f"error: {body['error'].get('message')}")
    return 0 if body["status"] in FINE else 1
