"""Inbound triggers. Importing this package registers each of them."""

from listeners import http, pollers, schedule
from listeners.soap import trigger as soap

__all__ = ["http", "pollers", "schedule", "soap"]
