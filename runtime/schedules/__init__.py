"""Schedules: when scheduled processes and pollers fire, and how each fire runs once."""
