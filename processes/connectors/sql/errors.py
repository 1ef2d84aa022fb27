"""The error of the `sql` connector's steps and of its poller."""

from runtime.core.errors import WharfError


class SqlError(WharfError):
    """What a failed statement, query or poll answers (the reason redacted)."""

    problem = "sql-error"
    title = "Database error"
