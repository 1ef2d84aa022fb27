"""Outbound connectors. Importing this package registers each of them."""

from processes.connectors import sql, sql_steps

__all__ = ["sql", "sql_steps"]
