"""Pollers: schedules that produce documents (files, rows, HTTP responses). Each uses its
connector only through the connector package's public API."""
