"""Pollers: schedules that produce documents (files, rows, HTTP responses)."""

from listeners.pollers import files, http, sql

__all__ = ["files", "http", "sql"]
