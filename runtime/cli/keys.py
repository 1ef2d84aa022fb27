"""`wharf keys create|list|revoke` and `wharf hash-password`.

Keys are written to the store directly (a running server sees a new key at once and a
revocation within seconds). A new key is printed once; the store keeps only its hash.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import Any

from runtime.cli.executions import fail, utc_text
from runtime.core.timestamps import iso_times
from runtime.security.api_keys import new_key
from runtime.security.passwords import hash_password
from runtime.server.settings import Settings
from runtime.store import open_store


def add_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="API keys for listeners and the admin API")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key and print it once")
    create.add_argument("name", help="what the key is for, e.g. the caller's name")
    create.add_argument("--admin", action="store_true", help="for the admin API (/api/...)")
    create.add_argument(
        "--process",
        action="append",
        dest="processes",
        help="allow only this process's listeners (repeat for several; default: all)",
    )
    listing = actions.add_parser("list", help="keys (ids and names, never secrets)")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    for parser in (create, listing, revoke):
        parser.add_argument("--store", help="store URL (default: WHARF_STORE or the default)")
    create.set_defaults(func=lambda a: asyncio.run(_create(a)))
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))
    revoke.set_defaults(func=lambda a: asyncio.run(_revoke(a)))
    password = commands.add_parser(
        "hash-password", help="print a password hash for a basic-auth user in security.yaml"
    )
    password.set_defaults(func=_hash_password)


def _store_url(args: argparse.Namespace) -> str:
    return str(args.store or Settings().store)


async def _create(args: argparse.Namespace) -> int:
    if args.admin and args.processes:
        return fail("an admin key is for the admin API; --process applies to listener keys")
    made = new_key(args.name, admin=args.admin, processes=args.processes)
    store = open_store(_store_url(args))
    await store.open()
    try:
        await store.add_api_key(made.record)
    finally:
        await store.close()
    kind = "admin key" if args.admin else "key"
    print(f"{kind} {made.record.id} ({args.name}) created; it is shown only this once:")
    print(made.key)
    return 0


async def _list(args: argparse.Namespace) -> int:
    store = open_store(_store_url(args))
    await store.open()
    try:
        keys = await store.api_keys()
    finally:
        await store.close()
    if args.json:
        print(json.dumps([iso_times(key.as_dict()) for key in keys], indent=2))
        return 0
    print(f"{'ID':12}  {'NAME':24}  {'KIND':6}  {'CREATED':20}  {'REVOKED':20}  PROCESSES")
    for key in keys:
        kind = "admin" if key.admin else "key"
        revoked = utc_text(key.revoked_at) if key.revoked_at else "-"
        processes = ", ".join(key.processes) if key.processes else "*"
        print(
            f"{key.id:12}  {key.name[:24]:24}  {kind:6}  {utc_text(key.created_at):20}  "
            f"{revoked:20}  {processes}"
        )
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    store = open_store(_store_url(args))
    await store.open()
    try:
        revoked = await store.revoke_api_key(args.id)
    finally:
        await store.close()
    if not revoked:
        return fail(f"no active key {args.id!r}")
    print(f"key {args.id} revoked")
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            return fail("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        return fail("an empty password")
    print(hash_password(password))
    return 0
