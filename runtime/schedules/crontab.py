"""Standard five-field crontab expressions on top of APScheduler 3 cron triggers.

APScheduler 3 numbers weekdays from Monday = 0, while crontab uses Sunday = 0 (and 7),
and it ANDs the two day fields where crontab ORs them when both are restricted. This
module translates, so `0 9 * * 1-5` means weekdays at 09:00 as in every crontab.
"""

from __future__ import annotations

from datetime import tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_CRON_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]  # crontab numbering: sun = 0


def _weekday(token: str) -> int:
    token = token.strip().lower()
    if token[:3] in _CRON_DAYS and not token.isdigit():
        return _CRON_DAYS.index(token[:3])
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise ValueError(f"{token!r} is not a weekday (0-7 or sun-sat)")


def weekdays(field: str) -> list[str]:
    """The weekdays a crontab day-of-week field selects, as APScheduler names."""
    selected: set[int] = set()
    for item in field.split(","):
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"step {step_text!r} must be at least 1")
        if part == "*":
            first, last = 0, 6
        elif "-" in part:
            low, high = part.split("-", 1)
            first, last = _weekday(low), _weekday(high)
            if high.strip() == "7":
                last = 7  # 5-7 means fri..sun
        else:
            first = _weekday(part)
            last = 6 if step_text else first
        if last < first:
            raise ValueError(f"weekday range {part!r} runs backwards")
        selected.update(day % 7 for day in range(first, last + 1, step))
    return [_CRON_DAYS[day] for day in sorted(selected)]


def cron_trigger(expression: str, timezone: tzinfo) -> BaseTrigger:
    """A trigger for a crontab expression (five fields, or an alias like `@daily`)."""
    expression = ALIASES.get(expression.strip().lower(), expression)
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}"
        )
    minute, hour, day, month, weekday = fields
    days = ",".join(weekdays(weekday))

    def trigger(day_field: str, weekday_field: str) -> CronTrigger:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day_field,
            month=month,
            day_of_week=weekday_field,
            timezone=timezone,
        )

    if day != "*" and weekday != "*":  # crontab: either day field may match
        return OrTrigger([trigger(day, "*"), trigger("*", days)])
    return trigger(day, days if weekday != "*" else "*")
