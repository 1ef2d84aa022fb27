"""The `sql` connector: SQLAlchemy Core (async) over SQLite, PostgreSQL and MySQL/MariaDB.

`connection.py` holds the connection config, its client (a pooled engine) and `SqlError`;
`steps.py` the `sql.*` actions; `watermarks.py` what the `sql.poll` trigger shares with
them: typed watermarks and the poll query.
"""

from processes.connectors.sql.connection import SqlClient, SqlConnection, SqlError, resolved_url
from processes.connectors.sql.steps import (
    SqlExecuteStep,
    SqlInsertStep,
    SqlQueryStep,
    SqlUpsertStep,
)

__all__ = [
    "SqlClient",
    "SqlConnection",
    "SqlError",
    "SqlExecuteStep",
    "SqlInsertStep",
    "SqlQueryStep",
    "SqlUpsertStep",
    "resolved_url",
]
