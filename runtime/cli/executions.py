"""`wharf executions list|show` and `wharf retry`: against a running server or a store.

With `--store URL` the store file is read directly (the server may be down); a retry made
that way is queued in the inbox and runs when a server next starts on that store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from runtime.core.ids import new_execution_id
from runtime.core.timestamps import iso_times, iso_utc
from runtime.store import ExecutionQuery, InboxItem, open_store

DEFAULT_URL = "http://127.0.0.1:8080"


def add_commands(commands: Any) -> None:
    executions = commands.add_parser("executions", help="list or show execution records")
    actions = executions.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="newest first")
    listing.add_argument("--process")
    listing.add_argument("--status", choices=["queued", "running", "succeeded", "failed"])
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one record with its trace (JSON)")
    show.add_argument("id")
    retry = commands.add_parser("retry", help="retry a failed execution")
    retry.add_argument("id")
    for parser in (listing, show, retry):
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--url", help=f"a running server (default {DEFAULT_URL}, WHARF_URL)")
        where.add_argument(
            "--store", help="read the store directly, e.g. sqlite:///.wharf/wharf.db"
        )
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))
    show.set_defaults(func=lambda a: asyncio.run(_show(a)))
    retry.set_defaults(func=lambda a: asyncio.run(_retry(a)))


def server_url(args: argparse.Namespace) -> str:
    import os

    return str(args.url or os.environ.get("WHARF_URL") or DEFAULT_URL).rstrip("/")


async def http_json(method: str, url: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
    """Call the admin API with the key in WHARF_ADMIN_KEY (the admin API needs one)."""
    import os

    timeout = aiohttp.ClientTimeout(total=30)
    key = os.environ.get("WHARF_ADMIN_KEY")
    headers = {"X-API-Key": key} if key else None
    async with (
        aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
        session.request(method, url, params=params) as response,
    ):
        return response.status, await response.json(content_type=None)


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def utc_text(moment: float | str | None) -> str:
    """A time for a table column: ISO 8601 UTC to the second (`2026-12-02T15:04:05Z`),
    from epoch seconds (a store read directly) or the API's ISO text."""
    if moment is None:
        return "-"
    text = iso_utc(moment) if isinstance(moment, int | float) else moment
    return text[:19] + "Z"


def _print_table(items: list[dict[str, Any]]) -> None:
    print(f"{'ID':36}  {'PROCESS':24}  {'STATUS':9}  {'TRIGGER':8}  {'CREATED':20}  MS")
    for item in items:
        duration = item.get("duration_ms")
        ms = f"{duration:.1f}" if isinstance(duration, int | float) else "-"
        print(
            f"{item['id']:36}  {item['process'][:24]:24}  {item['status']:9}  "
            f"{item['trigger']:8}  {utc_text(item.get('created_at')):20}  {ms}"
        )


async def _list(args: argparse.Namespace) -> int:
    if args.store:
        store = open_store(args.store)
        await store.open()
        try:
            query = ExecutionQuery(process=args.process, status=args.status, limit=args.limit)
            records = await store.list_executions(query)
            items = [iso_times(r.as_dict(with_trace=False)) for r in records]
        finally:
            await store.close()
    else:
        params = {"limit": str(args.limit)}
        params.update({k: v for k, v in (("process", args.process), ("status", args.status)) if v})
        try:
            status, body = await http_json("GET", f"{server_url(args)}/api/executions", params)
        except aiohttp.ClientError as exc:
            return fail(f"cannot reach {server_url(args)}: {exc}")
        if status != 200:
            return fail(body.get("detail", f"HTTP {status}"))
        items = body["items"]
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        _print_table(items)
    return 0


async def _show(args: argparse.Namespace) -> int:
    if args.store:
        store = open_store(args.store)
        await store.open()
        try:
            record = await store.get_execution(args.id)
        finally:
            await store.close()
        if record is None:
            return fail(f"execution {args.id!r} not found")
        data = iso_times(record.as_dict())
    else:
        try:
            status, data = await http_json("GET", f"{server_url(args)}/api/executions/{args.id}")
        except aiohttp.ClientError as exc:
            return fail(f"cannot reach {server_url(args)}: {exc}")
        if status != 200:
            return fail(data.get("detail", f"HTTP {status}"))
    print(json.dumps(data, indent=2))
    return 0


async def _retry(args: argparse.Namespace) -> int:
    if not args.store:
        try:
            status, data = await http_json(
                "POST", f"{server_url(args)}/api/executions/{args.id}/retry"
            )
        except aiohttp.ClientError as exc:
            return fail(f"cannot reach {server_url(args)}: {exc}")
        if status != 202:
            return fail(data.get("detail", f"HTTP {status}"))
        print(f"retrying as {data['execution_id']}")
        return 0
    store = open_store(args.store)
    await store.open()
    try:
        record = await store.get_execution(args.id)
        if record is None:
            return fail(f"execution {args.id!r} not found")
        if record.status != "failed":
            return fail(f"only failed executions can be retried; this one is {record.status}")
        request = await store.inbox_request(args.id)
        if request is None:
            return fail("the input of this execution was not kept")
        item = InboxItem(
            new_execution_id(), record.process, "retry", time.time(), request, parent_id=args.id
        )
        item.attempt, item.attempts, item.token_root = record.next_attempt()
        accepted = await store.accept(item)
    finally:
        await store.close()
    print(f"queued as {accepted.execution_id}; it runs when a server starts on this store")
    return 0
