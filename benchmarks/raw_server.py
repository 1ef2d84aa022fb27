"""Baseline (a): a minimal aiohttp handler doing the same JSON work as the Wharf process."""

from __future__ import annotations

import sys

import orjson
from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    doc = orjson.loads(await request.read())
    out = {
        "order_id": doc["id"],
        "amount": doc["amount"] * 1.2,
        "customer": doc["customer"]["name"],
    }
    return web.Response(body=orjson.dumps(out), content_type="application/json")


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/orders", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
