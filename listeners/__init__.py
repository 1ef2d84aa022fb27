"""Inbound triggers: http, soap/, schedule, pollers/. Each trigger module registers
through its own `wharf.components` entry point (pyproject.toml)."""
