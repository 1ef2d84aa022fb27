"""CPU-heavy work on a document (parsing, XSD validation, XSLT) off the event loop, with a
time budget.

Small inputs are handled inline: a thread hop costs more than parsing a few kilobytes,
and they are the fast path. Larger ones (or of unknown size) run in a worker thread;
the caller waits at most the budget and then answers `WorkTooCostly` (a 4xx), so the
loop keeps serving `/healthz` and honours SIGTERM whatever one request sends.

A thread cannot be killed. lxml releases the GIL while parsing, validating and
transforming, and its work is bounded by the body limit; xmlschema is pure Python and
checks the deadline between elements (`deadline_hook`), so an abandoned validation ends
soon after its budget. Worker threads are daemons, so a straggler never delays exit, and
at most `slots` run at once: when all are taken by work over budget, new heavy work
waits for one (within its own budget) instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from runtime.core.errors import RequestError

T = TypeVar("T")

INLINE_BELOW = 64 * 1024  # bytes: smaller inputs are handled on the loop
SLOTS = 4

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "wharf_work_deadline", default=None
)
_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "wharf_work_limit", default=None
)


class Overrun(Exception):
    """Optional work (e.g. explaining an invalid document) ran out of its `time_limit`."""


class WorkTooCostly(RequestError):
    """A document took more than the work budget to parse, validate or transform."""

    def __init__(self, budget: float):
        super().__init__(
            f"the request took more than {budget:g}s to process and was abandoned",
            status=422,
            problem="too-costly",
            title="Request too costly",
        )


class Offload:
    """Where heavy work runs; one per process (`configure` sets the budget)."""

    def __init__(self, budget: float = 10.0, slots: int = SLOTS):
        self.budget = budget
        self.slots = slots
        # Per event loop (tests run several): free worker slots.
        self._free: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._free = weakref.WeakKeyDictionary()
        self._workers = _Workers()

    async def run(self, work: Callable[[], T], size: int | None = None) -> T:
        """`work()` inline when `size` is small, else in a worker thread within the budget;
        `size=None` means unknown (treated as large)."""
        if size is not None and size < INLINE_BELOW:
            return work()
        budget = self.budget
        try:
            async with asyncio.timeout(budget):
                return await self._in_thread(work, time.monotonic() + budget)
        except TimeoutError:
            raise WorkTooCostly(budget) from None

    async def _in_thread(self, work: Callable[[], T], deadline: float) -> T:
        loop = asyncio.get_running_loop()
        free = self._free.get(loop)
        if free is None:
            free = self._free[loop] = asyncio.Semaphore(self.slots)
        await free.acquire()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            free.release()  # when the thread is done, not when its caller gave up
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def target() -> None:
            _deadline.set(deadline)
            result: T | None = None
            error: BaseException | None = None
            try:
                result = work()
            except BaseException as exc:  # handed to the waiting coroutine
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, result, error)

        try:
            self._workers.submit(target)
        except BaseException:
            free.release()
            raise
        return await future


class _Workers:
    """Daemon threads that take jobs from one queue, started as needed and kept (a thread
    start costs more than a small validation). The caller's semaphore bounds the jobs in
    flight, so there are never more threads than slots in use at once, per event loop."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        if start:
            threading.Thread(target=self._serve, name="wharf-offload", daemon=True).start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            self._jobs.get()()
            with self._lock:
                self._idle += 1


OFFLOAD = Offload()


def configure(budget: float) -> None:
    OFFLOAD.budget = budget


async def off_loop(work: Callable[[], T], size: int | None = None) -> T:
    return await OFFLOAD.run(work, size)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Work checking `deadline_hook` inside raises `Overrun` after `seconds`."""
    token = _limit.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _limit.reset(token)


def deadline_hook(*_: Any) -> bool:
    """An xmlschema `validation_hook`: stops a validation whose budget (WorkTooCostly) or
    time limit (Overrun) is spent; it never skips an element itself."""
    now = time.monotonic()
    deadline = _deadline.get()
    if deadline is not None and now > deadline:
        raise WorkTooCostly(OFFLOAD.budget)
    limit = _limit.get()
    if limit is not None and now > limit:
        raise Overrun
    return False
