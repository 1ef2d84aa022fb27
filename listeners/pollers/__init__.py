"""Pollers: schedules that produce documents (files, rows, HTTP responses)."""
