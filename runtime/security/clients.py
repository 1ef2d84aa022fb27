"""Who is calling: the client address, seen through trusted reverse proxies.

Behind a proxy every request comes from the proxy's address, which would make IP allow
lists and per-address limits meaningless. With `WHARF_TRUSTED_PROXIES` set, a request
from one of those networks is attributed to the last address in `X-Forwarded-For` that is
not itself a trusted proxy; `X-Forwarded-For` from anyone else is ignored (it is only a
header, and a caller could write anything in it).
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from aiohttp import web

CLIENT_ADDRESS = web.RequestKey("wharf_client_address", str)

Network = IPv4Network | IPv6Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def resolve_client(request: web.Request, proxies: Sequence[Network]) -> str:
    """The client's address for this request (remembered on the request)."""
    address = request.remote or "unknown"
    if not proxies:
        return address  # client_ip falls back to the peer: nothing to remember
    if _trusted(address, proxies):
        hops = [
            hop.strip()
            for header in request.headers.getall("X-Forwarded-For", [])
            for hop in header.split(",")
            if hop.strip()
        ]
        for hop in reversed(hops):
            address = hop
            if not _trusted(hop, proxies):
                break
    request[CLIENT_ADDRESS] = address
    return address


def client_ip(request: web.Request) -> str:
    """The address `resolve_client` found, or the socket peer's."""
    return request.get(CLIENT_ADDRESS) or request.remote or "unknown"
