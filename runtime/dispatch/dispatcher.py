"""The dispatcher: runs executions for listeners and the API, durably when asked.

* `run` executes inline (sync listeners, `?wait=` API calls); with a `max_wait` the caller
  is answered when time is up while the execution goes on and is recorded.
* `accept` writes a request to the store's inbox and hands it to the bounded worker pool;
  the caller hears 202 only after the write is committed.

Both count against `max_outstanding`; over it, callers get 503 with `Retry-After`
instead of an unbounded queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.core.engine import Execution, ExecutionResult, ExecutionStatus, Process
from runtime.core.errors import RequestError, WharfError
from runtime.core.ids import new_execution_id
from runtime.core.offload import off_loop
from runtime.dispatch.recording import execution_record, snapshots
from runtime.formats.inputs import documents_from_request
from runtime.store import Accepted, Attempt, ExecutionRecord, Inbox, InboxItem
from runtime.traffic.metrics import Metrics

log = logging.getLogger("wharf.dispatch")


class IdempotencyKeyReused(RequestError):
    status = 422
    problem = "idempotency-key-reused"
    title = "Idempotency key reused"


class Overloaded(RequestError):
    def __init__(self, detail: str, retry_after: int = 1):
        super().__init__(
            detail,
            status=503,
            problem="overloaded",
            title="Service overloaded",
            headers={"Retry-After": str(retry_after)},
        )


Claimed = tuple[InboxItem, Attempt]  # an inbox item a worker claimed, and its attempt


@dataclass(slots=True)
class Pending:
    """An execution still running when the caller's wait ran out."""

    execution_id: str


def parse_max_wait(value: str | None, default: float | None) -> float | None:
    """A wait in milliseconds (`X-Max-Wait`, `?wait=`) as seconds."""
    if value is None:
        return default
    try:
        millis = int(value)
    except ValueError:
        millis = -1
    if millis < 0:
        raise RequestError(
            f"a wait is a number of milliseconds, not {value!r}",
            problem="invalid-max-wait",
        )
    return millis / 1000


class Dispatcher:
    def __init__(
        self,
        processes: list[Process],
        store: Inbox,
        *,
        workers: int = 8,
        max_outstanding: int = 10_000,
        max_pending_writes: int = 2_000,
        connections: Connections | None = None,
    ):
        self.processes = {process.name: process for process in processes}
        self.store = store
        self.workers = workers
        self.max_outstanding = max_outstanding
        self.max_pending_writes = max_pending_writes
        self.connections = connections
        self.outstanding = 0  # accepted or running, not yet recorded
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._queue: asyncio.Queue[InboxItem] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()  # sync runs past their max_wait
        self._running: set[asyncio.Task[Any]] = set()  # inbox items being worked on
        self._stopping = False
        self.metrics: Metrics | None = None  # set by the app: executions by status

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume what was accepted but not finished before the last stop, then serve."""
        unfinished = await self.store.unfinished()
        if unfinished:
            log.info("resuming %d accepted execution(s) from the inbox", len(unfinished))
        for item in unfinished:
            self.outstanding += 1
            self._queue.put_nowait(item)
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"wharf-worker-{n}")
            for n in range(self.workers)
        ]

    async def stop(self, grace: float) -> None:
        """Stop taking inbox items; let running ones finish for up to `grace` seconds.

        Items still queued stay in the store's inbox and resume on the next start."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()  # idle workers stop; items already taken run on (see _worker)
        pending = [*self._running, *self._background]
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def idle(self) -> None:
        """Wait until no execution is accepted or running: each one so far is recorded (a
        sync run's record may still sit in the store's write buffer). Tests await this."""
        while self.outstanding:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    def _done_one(self) -> None:
        self.outstanding -= 1
        if not self.outstanding and self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _reserve(self) -> None:
        if self._stopping:
            raise Overloaded("the server is stopping", retry_after=5)
        if self.outstanding >= self.max_outstanding:
            raise Overloaded(
                f"{self.outstanding} executions are waiting or running (limit "
                f"{self.max_outstanding}); retry later"
            )
        self.outstanding += 1

    # --- async: durable accept ---------------------------------------------------------------

    async def accept(
        self,
        process: Process,
        request: dict[str, Any],
        *,
        started_by: str = "listener",
        idempotency_key: str | None = None,
        parent_id: str | None = None,
        idempotency_scope: str = "",
        request_hash: str | None = None,
        retry_of: ExecutionRecord | None = None,
    ) -> Accepted:
        """Keep a request durably and queue it. An idempotency key belongs to the caller
        (`idempotency_scope`); with a `request_hash`, reusing it for another request is
        refused with 422."""
        self._reserve()
        item = InboxItem(
            id=new_execution_id(),
            process=process.name,
            trigger=started_by,
            received_at=time.time(),
            request=request,
            idempotency_key=idempotency_key,
            parent_id=parent_id,
            idempotency_scope=idempotency_scope,
            request_hash=request_hash,
        )
        if retry_of is not None:  # a retry is the next attempt, with the same step tokens
            item.attempt, item.attempts, item.token_root = retry_of.next_attempt()
        try:
            accepted = await self.store.accept(item)
        except BaseException:
            self._done_one()
            raise
        if accepted.duplicate:
            self._done_one()
            if accepted.conflict:
                raise IdempotencyKeyReused(
                    f"idempotency key {idempotency_key!r} was already used for another request "
                    f"(execution {accepted.execution_id}); a new request needs a new key"
                )
        else:
            self._queue.put_nowait(item)
        return accepted

    async def _worker(self) -> None:
        claimed: Claimed | None = None
        while True:
            if claimed is None:
                item, attempt = await self._queue.get(), None
            else:
                (item, attempt), claimed = claimed, None
            # The item runs in its own task, shielded from stop()'s cancel of the worker:
            # it finishes, or stop() gives up on it after the grace period.
            task = asyncio.create_task(self._run_item(item, attempt))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            claimed = await asyncio.shield(task)

    async def _run_item(self, item: InboxItem, attempt: Attempt | None) -> Claimed | None:
        """Run an inbox item and record it; return the next item when this worker claimed
        it in the same commit as this one's record."""
        try:
            if attempt is None:
                # Durable before any step runs: a crash from here on shows as an attempt.
                attempt = await self.store.start_attempt(item.id)
            _log_rerun(item, attempt)
            process = self.processes.get(item.process)
            if process is None:
                log.error("inbox item %s names unknown process %s", item.id, item.process)
                await self._save_unrunnable(item, f"process {item.process!r} is not loaded")
                return None
            try:
                size = len(item.request.get("body") or "")
                documents = await off_loop(lambda: documents_from_request(item.request), size)
            except WharfError as exc:
                await self._save_unrunnable(item, exc.detail)
                return None
            _, record = await self._run_process(
                process, documents, item.trigger, item.id, item, attempt=attempt
            )
            return await self._finish_item(record)
        except Exception:
            log.exception("worker failed on inbox item %s; it stays in the inbox", item.id)
            return None
        finally:
            self._done_one()

    async def _finish_item(self, record: ExecutionRecord) -> Claimed | None:
        """Record a finished item. A busy worker claims its next item in the same commit,
        so an item costs one commit wait, not two (one to claim, one to finish)."""
        following = None if self._stopping or self._queue.empty() else self._queue.get_nowait()
        if following is None:
            await self.store.save_execution(record, finish_inbox=True)
            return None
        try:
            attempt = await self.store.finish_and_start(record, following.id)
        except BaseException:
            self._queue.put_nowait(following)  # nothing was written: it waits its turn again
            raise
        return following, attempt

    async def _save_unrunnable(self, item: InboxItem, message: str) -> None:
        now = time.time()
        record = ExecutionRecord(
            id=item.id,
            process=item.process,
            trigger=item.trigger,
            status=str(ExecutionStatus.FAILED),
            created_at=item.received_at,
            started_at=now,
            finished_at=now,
            duration_ms=0.0,
            error={"type": "RequestError", "message": message, "step": None},
            parent_id=item.parent_id,
            idempotency_key=item.idempotency_key,
        )
        await self.store.save_execution(record, finish_inbox=True)

    # --- sync: inline with an optional wait limit -------------------------------------------------

    async def run(
        self,
        process: Process,
        documents: list[Document],
        *,
        started_by: str = "listener",
        max_wait: float | None = None,
    ) -> ExecutionResult | Pending:
        self._reserve()
        created = time.time()
        execution_id = new_execution_id()
        work = self._execute(process, documents, started_by, execution_id, created_at=created)
        if max_wait is None:
            try:
                return await work
            finally:
                self._done_one()
        task = asyncio.create_task(work)
        task.add_done_callback(self._release)
        done, _ = await asyncio.wait({task}, timeout=max_wait)
        if done:
            return task.result()
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        # Record it as running now, so the status link answers at once.
        running = Execution(process.name, started_by, id=execution_id)
        running.status = ExecutionStatus.RUNNING
        await self.store.save_execution(execution_record(running, "summary", created_at=created))
        return Pending(execution_id)

    def _release(self, task: asyncio.Task[Any]) -> None:
        self._done_one()
        if not task.cancelled() and task.exception() is not None:
            log.error("execution task failed", exc_info=task.exception())

    async def _execute(
        self,
        process: Process,
        documents: list[Document],
        started_by: str,
        execution_id: str,
        *,
        created_at: float | None = None,
    ) -> ExecutionResult:
        """Run inline and queue the record, waiting only when the store falls behind."""
        result, record = await self._run_process(
            process, documents, started_by, execution_id, None, created_at=created_at
        )
        self.store.save_execution_soon(record)
        if self.store.pending_writes > self.max_pending_writes:
            await self.store.flush()
        return result

    async def _run_process(
        self,
        process: Process,
        documents: list[Document],
        started_by: str,
        execution_id: str,
        item: InboxItem | None,
        *,
        created_at: float | None = None,
        attempt: Attempt | None = None,
    ) -> tuple[ExecutionResult, ExecutionRecord]:
        """Run the steps; the outcome and its record, at the process's `record:` level."""
        definition = process.definition
        level = definition.record
        inputs = snapshots(documents, definition.redact) if level != "summary" else None
        attempt = attempt or Attempt(1, [])
        result = await process.execute(
            documents,
            started_by=started_by,
            execution_id=execution_id,
            connections=self.connections,
            attempt=attempt.number,
            token_root=attempt.token_root,
        )
        if self.metrics is not None:
            self.metrics.observe_execution(process.name, started_by, str(result.execution.status))
        record = execution_record(
            result.execution,
            level,
            redact_names=definition.redact,
            inputs=inputs,
            outputs=result.documents,
            created_at=item.received_at if item else created_at,
            parent_id=item.parent_id if item else None,
            idempotency_key=item.idempotency_key if item else None,
            attempts=attempt.earlier,
        )
        return result, record


def _log_rerun(item: InboxItem, attempt: Attempt) -> None:
    if attempt.earlier and attempt.earlier[-1]["status"] == "interrupted":
        log.warning(
            "execution %s of %s runs again as attempt %d: the runtime stopped during attempt %d",
            item.id,
            item.process,
            attempt.number,
            attempt.number - 1,
        )
