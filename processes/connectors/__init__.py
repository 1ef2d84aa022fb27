"""Outbound connectors. Importing this package registers each of them."""

from processes.connectors import (
    file,
    file_steps,
    http,
    http_steps,
    remote,
    remote_steps,
    soap,
    sql,
    sql_steps,
)

__all__ = [
    "file",
    "file_steps",
    "http",
    "http_steps",
    "remote",
    "remote_steps",
    "soap",
    "sql",
    "sql_steps",
]
