"""The scheduler: the triggers decide when; the store decides who runs each fire.

A timer on the scheduler's clock (`timer.py`) sleeps until the next nominal fire time,
computed by the trigger's APScheduler timing, and hands every slot then due to
`_on_fire`. Each fire is then claimed in the store under (process, slot) before anything
runs, so a runtime that shares the store and fires the same slot finds the claim and
does nothing. Overlap is checked in the same transaction, against fires whose runtime is
still alive (a heartbeat every 15 s; a crashed runtime's fire goes stale after a minute
and stops blocking the schedule). Time is read and waited for only through the clock, so
tests drive it (`runtime.testing.FakeClock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from runtime.core.clock import SYSTEM_CLOCK, Clock, utc_now
from runtime.core.engine import ExecutionResult, ExecutionStatus, Process
from runtime.core.errors import WharfError
from runtime.core.secrets import redact_text, redact_value
from runtime.core.timestamps import iso_utc
from runtime.schedules.sources import Fire, Source
from runtime.schedules.timer import ScheduleTimer
from runtime.schedules.timing import TimedTrigger
from runtime.store import FireRecord, SchedulerStore
from runtime.traffic.metrics import Metrics

if TYPE_CHECKING:
    from runtime.dispatch.dispatcher import Dispatcher

log = logging.getLogger("wharf.scheduler")

HEARTBEAT_EVERY = 15.0
STALE_AFTER = 60.0  # a running fire without a heartbeat for this long no longer blocks
QUEUE_POLL = 0.5  # how often a queued fire checks whether the previous run ended
PAUSE_REFRESH = 2.0  # pause flags set by another runtime are seen within this time
MISSED_KEPT = 100  # at most this many missed slots are recorded per schedule at start-up
MISSED_LOOKBACK = timedelta(days=7)


def new_runtime_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def _dead_here(runtime_id: str) -> bool:
    """A runtime id of this host whose process no longer exists."""
    host, _, rest = runtime_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _error(exc: BaseException) -> dict[str, Any]:
    message = exc.detail if isinstance(exc, WharfError) else str(exc)
    return {"type": type(exc).__name__, "message": redact_text(message)}


@dataclass
class ScheduledProcess:
    process: Process
    trigger: TimedTrigger
    source: Source
    running: set[float] = field(default_factory=set)  # slots running in this runtime


class Scheduler:
    def __init__(
        self,
        store: SchedulerStore,
        dispatcher: Dispatcher,
        runtime_id: str | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.store = store
        self.dispatcher = dispatcher
        self.runtime_id = runtime_id or new_runtime_id()
        self.clock = clock
        self.entries: dict[str, ScheduledProcess] = {}
        self._timer = ScheduleTimer(clock, self._on_fire)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._paused: set[str] = set()
        self._paused_read = 0.0
        self._pause_read: asyncio.Future[None] | None = None
        self._stopping = False
        self.metrics: Metrics | None = None  # set by the app: fires by status

    def add(self, process: Process, trigger: TimedTrigger, source: Source) -> None:
        self.entries[process.name] = ScheduledProcess(process, trigger, source)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.entries:
            return
        self._paused = await self.store.paused_processes()
        self._paused_read = self.clock.monotonic()
        await self._abandon_dead_fires()
        for entry in self.entries.values():
            await self._check_missed(entry)
        self._timer.start({name: entry.trigger for name, entry in self.entries.items()})
        self._heartbeat = asyncio.create_task(self._beat(), name="wharf-schedule-heartbeat")
        log.info("scheduler: %d schedule(s) started as %s", len(self.entries), self.runtime_id)

    async def stop(self, grace: float) -> None:
        """No new fires; running ones get `grace` seconds to finish."""
        self._stopping = True
        await self._timer.stop()
        if self._tasks:
            _, still = await asyncio.wait(self._tasks, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for entry in self.entries.values():
            await entry.source.close()

    async def settled(self) -> None:
        """Wait until every fire started so far has finished (tests await this)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _beat(self) -> None:
        while True:
            await self.clock.sleep(HEARTBEAT_EVERY)
            keys = [(name, slot) for name, e in self.entries.items() for slot in e.running]
            if keys:
                try:
                    await self.store.heartbeat_fires(keys, self.clock.now())
                except Exception:
                    log.exception("scheduler: heartbeat failed")

    async def _abandon_dead_fires(self) -> None:
        """Close the fires of runtimes that died mid-run, so they neither block an overlap
        check (until their heartbeat goes stale) nor show as running forever: a runtime on
        this host whose process is gone, or any runtime silent for STALE_AFTER."""
        now = self.clock.now()
        for fire in await self.store.unfinished_fires():
            if fire.heartbeat_at >= now - STALE_AFTER and not _dead_here(fire.claimed_by):
                continue
            slot = datetime.fromtimestamp(fire.slot, UTC).isoformat()
            log.warning("schedule %s: fire %s abandoned by %s", fire.process, slot, fire.claimed_by)
            fire.status = "abandoned"
            fire.finished_at = now
            fire.error = {"type": "Abandoned", "message": "the runtime running it stopped"}
            await self.store.finish_fire(fire)

    async def _check_missed(self, entry: ScheduledProcess) -> None:
        """Record slots that passed while no runtime ran this schedule; catch up once."""
        name = entry.process.name
        last = await self.store.last_fire_slot(name)
        if last is None or name in self._paused:
            return  # never fired: nothing was missed
        now = utc_now(self.clock)
        since = max(datetime.fromtimestamp(last, UTC), now - MISSED_LOOKBACK)
        missed = entry.trigger.fire_times(since, now, limit=MISSED_KEPT)
        if not missed:
            return
        caught_up = None
        if entry.trigger.catch_up == "once":
            caught_up = missed.pop()
        if missed:
            log.warning("schedule %s: %d fire(s) missed while down", name, len(missed))
            await self.store.record_missed_fires(self._missed(name, missed))
        if caught_up is not None:
            log.info("schedule %s: catching up the fire of %s", name, caught_up.isoformat())
            self._spawn(entry, caught_up, "catch_up")

    def _count(self, name: str, status: str, times: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.observe_fire(name, status, times)

    def _missed(self, name: str, slots: list[datetime]) -> list[FireRecord]:
        self._count(name, "missed", len(slots))
        stamp = self.clock.now()
        return [
            FireRecord(
                name,
                slot.timestamp(),
                "schedule",
                "missed",
                self.runtime_id,
                stamp,
                stamp,
                finished_at=stamp,
            )
            for slot in slots
        ]

    # --- fires -------------------------------------------------------------------------------

    def _on_fire(self, name: str, run_times: list[datetime]) -> None:
        entry = self.entries.get(name)
        if entry is None or self._stopping:
            return
        *late, latest = run_times
        if late:  # the loop was held up past whole intervals: run the newest, record the rest
            missed = self._missed(name, late)
            self._track(asyncio.ensure_future(self.store.record_missed_fires(missed)))
        self._spawn(entry, latest, "schedule")

    def _spawn(self, entry: ScheduledProcess, slot: datetime, kind: str) -> asyncio.Task[Any]:
        return self._track(asyncio.ensure_future(self.fire(entry, slot, kind)))

    def _track(self, task: asyncio.Future[Any]) -> asyncio.Task[Any]:
        assert isinstance(task, asyncio.Task)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _is_paused(self, name: str) -> bool:
        if self.clock.monotonic() - self._paused_read > PAUSE_REFRESH:
            # One read for every fire due at once (500 at the top of a minute), not one each.
            if self._pause_read is None or self._pause_read.done():
                self._pause_read = asyncio.ensure_future(self._read_paused())
            await asyncio.shield(self._pause_read)
        return name in self._paused

    async def _read_paused(self) -> None:
        self._paused = await self.store.paused_processes()
        self._paused_read = self.clock.monotonic()

    async def fire(self, entry: ScheduledProcess, slot: datetime, kind: str) -> FireRecord | None:
        """Claim and run one fire; None when it did not run here (claimed elsewhere, paused)."""
        name = entry.process.name
        trigger = entry.trigger
        try:
            if trigger.jitter and kind == "schedule":
                spread = random.uniform(0, trigger.jitter)  # noqa: S311 - not secrecy
                await self.clock.sleep(spread)
            if kind != "manual" and await self._is_paused(name):
                return None
            now = self.clock.now()
            record = FireRecord(name, slot.timestamp(), kind, "running", self.runtime_id, now, now)
            overlap = "allow" if kind == "manual" else trigger.overlap
            claimed = await self.store.claim_fire(
                record, overlap=overlap, stale_before=now - STALE_AFTER
            )
            if claimed == "taken":
                return None
            if claimed == "skipped":
                log.info("schedule %s: fire %s skipped, the previous run is still going",
                         name, slot.isoformat())  # fmt: skip
                record.status = "skipped"
                self._count(name, "skipped")
                return record
            entry.running.add(record.slot)
            try:
                if claimed == "queued":
                    await self._wait_for_previous(name, record.slot)
                await self._run(entry, Fire(name, slot, kind, self.runtime_id, self.store), record)
            finally:
                entry.running.discard(record.slot)
            return record
        except Exception:
            log.exception("schedule %s: fire %s failed", name, slot.isoformat())
            return None

    async def _wait_for_previous(self, name: str, slot: float) -> None:
        """A queued fire starts when the previous run ends; it may be another runtime's."""
        while True:
            if await self.store.start_queued_fire(name, slot, self.clock.now() - STALE_AFTER):
                return
            await self.clock.sleep(QUEUE_POLL)

    async def _run(self, entry: ScheduledProcess, fire: Fire, record: FireRecord) -> None:
        source = entry.source
        failed = False
        try:
            async for batch in source.batches(fire):
                record.executions += 1
                try:
                    result = await self.dispatcher.run(
                        entry.process, batch.documents, started_by=entry.trigger.execution_trigger
                    )
                except Exception as exc:  # Overloaded, stopping...
                    failed = True
                    record.error = _error(exc)
                    await source.failed(fire, batch, None)
                    continue
                assert isinstance(result, ExecutionResult)  # no max_wait: always a result
                execution = result.execution
                record.execution_id = execution.id
                if execution.status == ExecutionStatus.SUCCEEDED:
                    await source.succeeded(fire, batch, execution.id)
                else:
                    failed = True
                    record.error = redact_value(execution.error_summary())
                    await source.failed(fire, batch, execution.id)
        except Exception as exc:
            failed = True
            record.error = _error(exc)
            log.warning("schedule %s: %s", fire.process, record.error["message"])
        if failed:
            record.status = "failed"
        else:
            record.status = "succeeded" if record.executions else "idle"
        record.finished_at = record.heartbeat_at = self.clock.now()
        await self.store.finish_fire(record)
        self._count(name=fire.process, status=record.status)

    # --- control -----------------------------------------------------------------------------

    def entry(self, name: str) -> ScheduledProcess | None:
        return self.entries.get(name)

    async def run_now(self, name: str) -> asyncio.Task[FireRecord | None]:
        """Fire a scheduled process at once (even when paused); the task gives its record."""
        entry = self.entries[name]
        slot = datetime.fromtimestamp(round(self.clock.now(), 3), UTC)
        return self._spawn(entry, slot, "manual")

    async def set_paused(self, name: str, paused: bool) -> None:
        await self.store.set_paused(name, paused)
        (self._paused.add if paused else self._paused.discard)(name)

    async def describe(self, name: str, fires: int = 1) -> dict[str, Any]:
        entry = self.entries[name]
        trigger = entry.trigger
        paused = await self._is_paused(name)
        next_fire = None
        due = self._timer.next_fire(name)
        if not paused and due is not None:
            next_fire = iso_utc(due.timestamp())
        recent = await self.store.list_fires(name, fires)
        return {
            "process": name,
            "trigger": entry.process.trigger_kind,
            "cron": trigger.cron,
            "every": trigger.every,
            "timezone": trigger.timezone,
            "overlap": trigger.overlap,
            "catch_up": trigger.catch_up,
            "paused": paused,
            "next_fire_at": next_fire,
            "running": len(entry.running),
            "last_fire": recent[0].as_dict() if recent else None,
            **({"fires": [f.as_dict() for f in recent]} if fires > 1 else {}),
        }
