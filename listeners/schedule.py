"""The schedule trigger: run a process at cron or interval fire times."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.core import registry
from runtime.schedules.sources import ScheduleSource, Source
from runtime.schedules.timing import ScheduleContext, TimedTrigger

if TYPE_CHECKING:
    from runtime.core.engine import Process


@registry.trigger("schedule")
class ScheduleTrigger(TimedTrigger):
    """Run the process on a schedule, once per fire across every runtime sharing the
    store. Each fire gets one document, an empty JSON object with the properties
    `schedule_slot` (the nominal fire time, ISO 8601 UTC) and `schedule_kind`
    (`schedule`, `catch_up` or `manual`)."""

    def source(self, process: Process, context: ScheduleContext) -> Source:
        return ScheduleSource()
