"""Routes whose handlers answer every error as an RFC 9457 problem.

Wharf installs no aiohttp middleware: a middleware layer costs every request a wrapper
call and a context switch of the current app, about a tenth of the throughput of a
small process. Instead each handler is wrapped once, when its route is added, and a
catch-all route last in the table answers unknown paths (404) and wrong methods (405,
with `Allow`) as problems too.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from runtime.core.errors import ClientGone, RequestError, WharfError
from runtime.web.problems import problem_response

log = logging.getLogger("wharf.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answers_problems(handler: Handler) -> Handler:
    """Every error becomes a problem response; no traceback ever reaches a caller."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ClientGone as exc:
            log.info("%s %s: %s", request.method, request.path, exc.detail)
            return problem_response(400, exc.detail, slug=exc.problem, title=exc.title)
        except RequestError as exc:
            return problem_response(
                exc.status, exc.detail, slug=exc.problem, title=exc.title, headers=exc.headers
            )
        except WharfError as exc:
            return problem_response(exc.status, exc.detail, slug=exc.problem, title=exc.title)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {
                k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")
            }
            return problem_response(exc.status, exc.reason, slug="http-error", headers=headers)
        except Exception:
            log.exception("unhandled error answering %s %s", request.method, request.path)
            return problem_response(500, "an internal error occurred", slug="internal-error")

    return wrapped


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    app.router.add_route(method, path, answers_problems(handler))


async def _not_routed(request: web.Request) -> web.Response:
    """Last route: was the path known under other methods (405) or not at all (404)?"""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical == CATCH_ALL:
            continue
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
    if allowed:
        return problem_response(
            405,
            f"{request.method} is not allowed on {request.path}",
            slug="method-not-allowed",
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    return problem_response(404, f"no listener at {request.path}", slug="not-found")


CATCH_ALL = "/{wharf_not_routed:.*}"


def add_catch_all(app: web.Application) -> None:
    """Call after every other route (on startup, when all listeners are mounted)."""
    app.router.add_route("*", CATCH_ALL, answers_problems(_not_routed))
