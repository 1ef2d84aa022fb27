"""The `http` connector: an HTTP API behind a base URL, with credentials.

`connection.py`: the connection config and its client (one pooled aiohttp session,
credentials applied per request, redirects as configured); `paths.py`: request paths
kept under the base URL and header values that cannot start headers of their own;
`request.py`: the `http.request` step; `polling.py`: the GET the `http.poll` trigger
makes through it.
"""

from processes.connectors.http.connection import HttpClient, HttpConnection, join
from processes.connectors.http.polling import HttpPollError, Polled, PollGetter, shown
from processes.connectors.http.request import HttpRequestStep, HttpRetry, UpstreamError

__all__ = [
    "HttpClient",
    "HttpConnection",
    "HttpPollError",
    "HttpRequestStep",
    "HttpRetry",
    "PollGetter",
    "Polled",
    "UpstreamError",
    "join",
    "shown",
]
