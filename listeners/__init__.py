"""Inbound triggers. Importing this package registers each of them."""

from listeners import http, schedule
from listeners.soap import trigger as soap

__all__ = ["http", "schedule", "soap"]
