"""The schedule fields every scheduled trigger shares, and the fire times they give.

`schedule`, `sftp.poll`, `sql.poll`... all subclass `TimedTrigger`: its fields say
when to fire (cron or every, time zone, jitter, start and end) and how fires behave
(overlap, catch-up). Fire times are the nominal ones, without jitter: they are the claim
keys that make a slot run once however many runtimes share the store.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from runtime.core.components import TriggerConfig
from runtime.core.durations import Duration, parse_duration
from runtime.schedules.crontab import cron_trigger

if TYPE_CHECKING:
    from runtime.core.connections import Connections
    from runtime.core.engine import Process
    from runtime.schedules.sources import Source

MIN_INTERVAL_ENV = "WHARF_SCHEDULE_MIN_INTERVAL"
# Interval schedules count from this instant, so every runtime computes the same slots.
INTERVAL_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)


def _in_zone(value: datetime, zone: tzinfo) -> datetime:
    """A time without an offset is read in the trigger's time zone."""
    return value if value.tzinfo else value.replace(tzinfo=zone)


def min_interval() -> float:
    """The shortest `every:` allowed: one minute, lowered only for tests and benchmarks."""
    value = os.environ.get(MIN_INTERVAL_ENV)
    return parse_duration(value) if value else 60.0


class TimedTrigger(TriggerConfig):
    """Base of triggers that fire on a schedule (plain schedules and pollers)."""

    execution_trigger: ClassVar[str] = "schedule"  # the trigger name execution records show

    cron: str | None = Field(
        None,
        description="Standard 5-field crontab (`*/5 * * * *`, `0 2 * * 1-5`) or an alias "
        "(`@hourly`, `@daily`, `@weekly`, `@monthly`); weekday 0 and 7 are Sunday.",
    )
    every: Duration | None = Field(
        None,
        description="Fixed interval instead of cron, e.g. `1m`, `15m`, `2h` (at least one "
        "minute). Slots are counted from 2000-01-01T00:00Z, so `every: 1h` fires on the hour.",
    )
    timezone: str = Field(
        "UTC", description="IANA time zone the cron fields and start/end are read in."
    )
    jitter: Duration = Field(
        0.0,
        description="Wait a random time up to this long before each fire, to spread load.",
    )
    start: datetime | None = Field(
        None, description="No fire before this time (ISO 8601; no offset: in `timezone`)."
    )
    end: datetime | None = Field(None, description="No fire after this time.")
    overlap: Literal["skip", "queue", "allow"] = Field(
        "skip",
        description="A fire while the previous run is still going: `skip` it (recorded as "
        "skipped), `queue` it until the previous run ends, or `allow` both to run.",
    )
    catch_up: Literal["none", "once"] = Field(
        "none",
        description="Fires missed while no runtime was up: `none` records them as missed; "
        "`once` runs the latest of them once at start-up.",
    )

    _timing: BaseTrigger | None = PrivateAttr(default=None)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    # Each field checks itself, so one `wharf validate` reports every mistake at its line
    # (a model validator runs only once all fields are valid, and stops at its first).
    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron_trigger(value, UTC)
        return value

    @field_validator("every")
    @classmethod
    def _minute_level(cls, value: float | None) -> float | None:
        if value is not None and value < min_interval():
            raise ValueError(
                f"`every` is at least {min_interval():g}s (minute-level scheduling); "
                f"{MIN_INTERVAL_ENV} lowers it for tests"
            )
        return value

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if value is not None and start is not None:
            zone = ZoneInfo(info.data.get("timezone") or "UTC")
            if _in_zone(value, zone) <= _in_zone(start, zone):
                raise ValueError("`end` must be after `start`")
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> TimedTrigger:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of `cron` and `every`")
        self._timing = self._build()
        return self

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    def _aware(self, value: datetime) -> datetime:
        return _in_zone(value, self.zone)

    def _build(self) -> BaseTrigger:
        start = self._aware(self.start) if self.start else None
        end = self._aware(self.end) if self.end else None
        if self.every is not None:
            anchor = INTERVAL_ANCHOR
            if start is not None:
                anchor = start
            return IntervalTrigger(
                seconds=self.every, start_date=anchor, end_date=end, timezone=self.zone
            )
        trigger = cron_trigger(self.cron or "", self.zone)
        if start is not None or end is not None:
            return _Bounded(trigger, start, end)
        return trigger

    @property
    def timing(self) -> BaseTrigger:
        """The APScheduler trigger, built once at load."""
        if self._timing is None:  # pragma: no cover - set by the validator
            self._timing = self._build()
        return self._timing

    def next_fire(self, after: datetime) -> datetime | None:
        """The first nominal fire time strictly after `after`."""
        after = after.astimezone(UTC) + timedelta(microseconds=1)  # UTC: see crontab.py
        found: datetime | None = self.timing.get_next_fire_time(None, after)
        return None if found is None else found.astimezone(UTC)

    def fire_times(self, after: datetime, before: datetime, limit: int = 10_000) -> list[datetime]:
        """Nominal fire times in (after, before), oldest first, at most `limit` (the newest)."""
        times: list[datetime] = []
        current = self.next_fire(after)
        while current is not None and current < before:
            times.append(current)
            if len(times) > limit:
                del times[0]
            current = self.next_fire(current)
        return times

    def source(self, process: Process, context: ScheduleContext) -> Source:
        """What a fire produces: documents to run the process on."""
        raise NotImplementedError

    def mount(self, process: Process, context: ScheduleContext) -> None:
        context.scheduler.add(process, self, self.source(process, context))


class ScheduleBook(Protocol):
    """The scheduler as a timed trigger sees it."""

    def add(self, process: Process, trigger: TimedTrigger, source: Source) -> None: ...


class ScheduleContext(Protocol):
    """What a timed trigger needs of the running server to mount (the listeners'
    `MountContext` is a superset)."""

    @property
    def scheduler(self) -> ScheduleBook: ...

    @property
    def connections(self) -> Connections: ...


class _Bounded(BaseTrigger):
    """A cron trigger limited to [start, end] (APScheduler's CronTrigger has these, but
    the OR of two crontab day fields does not)."""

    def __init__(self, inner: BaseTrigger, start: datetime | None, end: datetime | None):
        self.inner = inner
        self.start = start
        self.end = end

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if self.start is not None and now < self.start:
            now = self.start
        found: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
        if found is not None and self.end is not None and found > self.end:
            return None
        return found
