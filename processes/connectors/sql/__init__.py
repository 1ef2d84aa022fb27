"""The `sql` connector: SQLAlchemy Core (async) over SQLite, PostgreSQL and MySQL/MariaDB.

`connection.py` holds the connection config and its client (a pooled engine); `errors.py`
`SqlError`; `steps.py` the `sql.*` actions; `watermarks.py` what the `sql.poll` trigger shares with
them: typed watermarks and the poll query.
"""

from processes.connectors.sql.connection import SqlClient, SqlConnection, resolved_url
from processes.connectors.sql.errors import SqlError
from processes.connectors.sql.steps import (
    SqlExecuteStep,
    SqlInsertStep,
    SqlQueryStep,
    SqlUpsertStep,
)
from processes.connectors.sql.watermarks import (
    WatermarkType,
    before,
    binds_last,
    decode_watermark,
    encode_watermark,
    initial_value,
    json_value,
    newest,
    poll_rows,
)

__all__ = [
    "SqlClient",
    "SqlConnection",
    "SqlError",
    "SqlExecuteStep",
    "SqlInsertStep",
    "SqlQueryStep",
    "SqlUpsertStep",
    "WatermarkType",
    "before",
    "binds_last",
    "decode_watermark",
    "encode_watermark",
    "initial_value",
    "json_value",
    "newest",
    "poll_rows",
    "resolved_url",
]
