"""Inbound security: credentials for listeners and the admin API."""
