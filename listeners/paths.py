"""The URL paths listeners may claim: shared by the HTTP and SOAP triggers' checks."""

from __future__ import annotations

import re

# Segments of URL-safe characters or `{name}` parameters, starting with "/".
LISTENER_PATH = re.compile(r"^/([A-Za-z0-9._~!$&'()*+,;=:@%-]+|\{[A-Za-z_][A-Za-z0-9_]*\}|/)*$")
# Wharf's own paths: no listener may claim them or anything under them.
RESERVED_PATHS = ("/api", "/healthz", "/readyz", "/metrics")


def check_not_reserved(path: str) -> None:
    if any(path == r or path.startswith(r + "/") for r in RESERVED_PATHS):
        raise ValueError(f"paths under {', '.join(RESERVED_PATHS)} are reserved for Wharf itself")
