"""Standard five-field crontab expressions, with crontab's weekday numbers and DST rules.

APScheduler 3's cron trigger differs from crontab in three ways this module corrects:
it numbers weekdays from Monday = 0 (crontab: Sunday = 0 and 7); it ANDs the two day
fields (crontab ORs them when both are restricted); and across a DST change it skips a
fixed-time job in the hour that does not exist, and at the end of summer time it runs it
twice, then keeps returning the same instant (a scheduler asking for the next fire spins).

So the expression is matched against wall-clock time, and each matching wall time is
mapped to an instant the way cron does (Vixie cron's rules): a fixed-time job (minute and
hour both fixed) runs once on a DST day — in the skipped hour, it runs one hour later;
in the repeated hour, at the first pass only — while a job with a wildcard minute or hour
runs through the repeated hour twice and not at all in the skipped one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

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
# Wall-clock offsets change by at most this around a transition (2 h at Troll station).
_DST_MARGIN = timedelta(hours=3)
_TICK = timedelta(microseconds=1)


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


def _wall_trigger(fields: list[str]) -> BaseTrigger:
    """A cron trigger over naive wall-clock times (computed as if they were UTC)."""
    minute, hour, day, month, weekday = fields
    days = ",".join(weekdays(weekday))

    def trigger(day_field: str, weekday_field: str) -> CronTrigger:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day_field,
            month=month,
            day_of_week=weekday_field,
            timezone=UTC,
        )

    if day != "*" and weekday != "*":  # crontab: either day field may match
        return OrTrigger([trigger(day, "*"), trigger("*", days)])
    return trigger(day, days if weekday != "*" else "*")


class CrontabTrigger(BaseTrigger):
    """A crontab expression in a time zone, as an APScheduler trigger."""

    def __init__(self, expression: str, timezone: tzinfo):
        expression = ALIASES.get(expression.strip().lower(), expression)
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(
                f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}"
            )
        self.zone = timezone
        self.walls = _wall_trigger(fields)
        self.fixed_time = not fields[0].startswith("*") and not fields[1].startswith("*")

    def _next_wall(self, wall: datetime, inclusive: bool) -> datetime | None:
        """The first matching wall time at (or after) `wall`, naive."""
        start = wall.replace(tzinfo=UTC) + (timedelta(0) if inclusive else _TICK)
        found: datetime | None = self.walls.get_next_fire_time(None, start)
        return None if found is None else found.replace(tzinfo=None)

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _near_transition(self, instant: datetime) -> bool:
        return self.zone.utcoffset(instant - _DST_MARGIN) != self.zone.utcoffset(
            instant + _DST_MARGIN
        )

    def _instants(self, wall: datetime) -> list[datetime]:
        """Where a matching wall time happens: once, twice (repeated hour) or not at all."""
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        if first == second:
            return [first]
        if self._wall(first) != wall:  # in the skipped hour: fold=0 maps past the gap
            return [first] if self.fixed_time else []
        return [first] if self.fixed_time else [first, second]

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # APScheduler asks for the fire after `previous_fire_time`, or the first at/after now.
        # Answers are in UTC: arithmetic on an aware local time is wall-clock arithmetic and
        # loses the fold, which sends a time in the repeated hour back an hour.
        if previous_fire_time is not None:
            after, inclusive = previous_fire_time.astimezone(UTC), False
        else:
            after, inclusive = now.astimezone(UTC), True
        wall = self._next_wall(self._wall(after), inclusive)
        if wall is None:
            return None
        candidate = self._instants(wall)
        if (
            candidate
            and not self._near_transition(after)
            and not self._near_transition(candidate[0])
        ):
            return candidate[0]
        return self._careful_next(after, inclusive)

    def _careful_next(self, after: datetime, inclusive: bool) -> datetime | None:
        """Near a DST change wall times and instants are not in the same order: look at
        every matching wall time around `after` and keep the earliest instant after it."""
        best: datetime | None = None
        wall = self._next_wall(self._wall(after) - _DST_MARGIN, True)
        while wall is not None:
            if best is not None and wall > self._wall(best) + _DST_MARGIN:
                break
            for instant in self._instants(wall):
                later = instant >= after if inclusive else instant > after
                if later and (best is None or instant < best):
                    best = instant
            wall = self._next_wall(wall, False)
        return best


def cron_trigger(expression: str, timezone: tzinfo) -> BaseTrigger:
    """A trigger for a crontab expression (five fields, or an alias like `@daily`)."""
    return CrontabTrigger(expression, timezone)
