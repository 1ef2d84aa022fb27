"""What a running step knows of its execution, for expressions: its idempotency token,
the execution id and the attempt number.

An execution may run more than once (a worker died mid-run and the inbox item ran again,
or it was retried): at-least-once. A step makes its effect exactly-once by keying it on
its token, `<execution id>:<step path>`, which is the same in every attempt (a retry
keeps the first execution's id in it): an upsert keyed on it, an `Idempotency-Key`
header, a file named by it. The engine sets the running step in a context variable, so
expressions reach it without every step passing it along.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

from runtime.core.errors import DocumentError


class RunningExecution(Protocol):
    """What expressions see of the running execution (the engine's `Execution`); a
    protocol, so that expressions, below the engine, need not import it."""

    @property
    def id(self) -> str: ...

    @property
    def token_root(self) -> str | None: ...

    @property
    def attempt(self) -> int: ...


# The execution and the path of the step running in this task (nested steps set their own).
RUNNING_STEP: ContextVar[tuple[RunningExecution, str] | None] = ContextVar(
    "wharf_step", default=None
)


def _running() -> tuple[RunningExecution, str]:
    running = RUNNING_STEP.get()
    if running is None:
        raise DocumentError(
            "step_token(), execution_id() and attempt() are known only in a process's steps"
        )
    return running


def step_token(part: Any = None) -> str:
    """The running step's idempotency token; `part` tells apart the documents of one step
    (e.g. `step_token(doc.id)`, `step_token(props.split_index)`)."""
    execution, path = _running()
    token = f"{execution.token_root or execution.id}:{path}"
    return token if part is None else f"{token}:{part}"


def execution_id() -> str:
    return _running()[0].id


def attempt() -> int:
    """1 for the first run of an execution; 2 and up for re-runs after a crash or retries."""
    return _running()[0].attempt
