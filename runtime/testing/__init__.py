"""Helpers for testing processes and the runtime itself, without waiting on the clock.

* `run_steps(steps, documents, connections=...)`: run a `steps:` list without a server.
* `FakeConnections({"crm": handler})`: `http` connections answered by a test function;
  `FakeServer(handler)`: such a listener on its own.
* `FakeClock`: time that moves on `advance(seconds)`; `create_app(..., clock=)` makes the
  scheduler and the traffic limits go by it.
* `Gate`, `started`, `Latch`, `settled`: signals to await instead of sleeping.
"""

from runtime.core.document import Document
from runtime.testing.clock import FakeClock
from runtime.testing.fakes import (
    FakeConnections,
    FakeRequest,
    FakeResponse,
    FakeServer,
    Handler,
)
from runtime.testing.signals import Gate, Latch, settled, started
from runtime.testing.steps import StepsInvalid, run_steps, steps_process

__all__ = [
    "Document",
    "FakeClock",
    "FakeConnections",
    "FakeRequest",
    "FakeResponse",
    "FakeServer",
    "Gate",
    "Handler",
    "Latch",
    "StepsInvalid",
    "run_steps",
    "settled",
    "started",
    "steps_process",
]
