"""Outbound connectors. Importing this package registers each of them."""

from processes.connectors import file, ftp, http, sftp, soap, sql

__all__ = ["file", "ftp", "http", "sftp", "soap", "sql"]
