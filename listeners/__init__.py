"""Inbound triggers. Importing this package registers each of them."""

from listeners import http

__all__ = ["http"]
