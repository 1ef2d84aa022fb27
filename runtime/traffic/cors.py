"""CORS for listeners: answering preflights and marking actual responses.

Browsers enforce CORS, not servers: a refused preflight just needs to lack the
`Access-Control-Allow-*` headers. Wharf still answers it with a 403 problem so whoever
debugs it sees why. Answers that depend on `Origin` say so in `Vary`, so a shared cache
never hands one origin's answer to another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from runtime.web.problems import problem_response

if TYPE_CHECKING:
    from runtime.traffic.config import Cors

_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def cors_preflight(
    config: Cors, request: web.Request, *, listener_method: str
) -> web.Response | None:
    """Answer an OPTIONS preflight: 204 with the allowances, or a 403 problem.

    None when the request is not a preflight (not OPTIONS, or no `Origin` or
    `Access-Control-Request-Method`), so the caller handles it as it would without CORS.
    `listener_method` fills in the default `methods`.
    """
    origin = request.headers.get("Origin")
    wanted = request.headers.get("Access-Control-Request-Method")
    if request.method != "OPTIONS" or origin is None or wanted is None:
        return None
    if not config.allows_origin(origin):
        return _refuse(f"origin {origin} may not call this listener")
    methods = config.allowed_methods(listener_method)
    if wanted not in methods:
        return _refuse(f"method {wanted} is not allowed (allowed: {', '.join(methods)})")
    requested = request.headers.get("Access-Control-Request-Headers", "")
    refused = [
        name
        for name in (part.strip() for part in requested.split(","))
        if name and not config.allows_header(name)
    ]
    if refused:
        return _refuse(f"request header(s) not allowed: {', '.join(refused)}")
    headers = {
        "Access-Control-Allow-Origin": "*" if config.any_origin else origin,
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Max-Age": str(int(config.max_age)),
        "Vary": _PREFLIGHT_VARY,
    }
    if config.headers:
        headers["Access-Control-Allow-Headers"] = ", ".join(config.headers)
    if config.credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    return web.Response(status=204, headers=headers)


def cors_headers(config: Cors, origin: str | None) -> dict[str, str]:
    """Headers for an actual (non-preflight) response to a request from `origin`.

    With `origins: ["*"]` the answer is the same for everyone; otherwise the allowed
    origin is echoed and `Vary: Origin` is always set, even for refused or absent origins.
    """
    if config.any_origin:
        headers = {"Access-Control-Allow-Origin": "*"}
    elif origin is not None and config.allows_origin(origin):
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if config.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
    else:
        return {"Vary": "Origin"}
    if config.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(config.expose_headers)
    return headers


def _refuse(detail: str) -> web.Response:
    return problem_response(
        403,
        detail,
        slug="cors-refused",
        title="Cross-origin request refused",
        headers={"Vary": _PREFLIGHT_VARY},
    )
