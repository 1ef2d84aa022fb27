"""Fire times: crontab semantics, intervals, time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from listeners.schedule import ScheduleTrigger
from runtime.schedules.crontab import weekdays


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def times(trigger: ScheduleTrigger, start: datetime, end: datetime) -> list[str]:
    """Fire times in (start, end) as local wall time with offset."""
    zone = ZoneInfo(trigger.timezone)
    return [t.astimezone(zone).strftime("%m-%d %H:%M%z") for t in trigger.fire_times(start, end)]


def test_crontab_weekday_numbers_are_crontabs_not_apschedulers() -> None:
    assert weekdays("0") == weekdays("7") == ["sun"]
    assert weekdays("1-5") == ["mon", "tue", "wed", "thu", "fri"]
    assert weekdays("*/2") == ["sun", "tue", "thu", "sat"]
    assert weekdays("5-7") == ["sun", "fri", "sat"]
    # 2026-12-05 is a Saturday: a weekday job's next fire is Monday 7 December.
    trigger = ScheduleTrigger(cron="0 9 * * 1-5", timezone="America/New_York")
    assert times(trigger, utc(2026, 12, 5), utc(2026, 12, 9)) == [
        "12-07 09:00-0500",
        "12-08 09:00-0500",
    ]


def test_both_day_fields_restricted_match_either_as_in_crontab() -> None:
    # The 1st of the month OR a Monday: December 2026 starts on a Tuesday.
    trigger = ScheduleTrigger(cron="0 0 1 * 1")
    assert times(trigger, utc(2026, 11, 30, 1), utc(2026, 12, 15)) == [
        "12-01 00:00+0000",
        "12-07 00:00+0000",
        "12-14 00:00+0000",
    ]


def test_aliases_and_half_hour_zones() -> None:
    assert times(ScheduleTrigger(cron="@daily"), utc(2026, 1, 1), utc(2026, 1, 3)) == [
        "01-02 00:00+0000"
    ]
    kolkata = ScheduleTrigger(cron="5 * * * *", timezone="Asia/Kolkata")
    assert [
        t.strftime("%H:%M") for t in kolkata.fire_times(utc(2026, 1, 1), utc(2026, 1, 1, 2))
    ] == [
        "00:35",
        "01:35",
    ]


def test_fixed_time_job_runs_once_on_both_dst_days() -> None:
    berlin = ScheduleTrigger(cron="30 2 * * *", timezone="Europe/Berlin")
    # Spring: 02:30 does not exist on 29 March; the job runs an hour later, once.
    assert times(berlin, utc(2026, 3, 27), utc(2026, 3, 31)) == [
        "03-27 02:30+0100",
        "03-28 02:30+0100",
        "03-29 03:30+0200",
        "03-30 02:30+0200",
    ]
    # Autumn: 02:30 happens twice on 25 October; the job runs at the first one only.
    assert times(berlin, utc(2026, 10, 23), utc(2026, 10, 27)) == [
        "10-23 02:30+0200",
        "10-24 02:30+0200",
        "10-25 02:30+0200",
        "10-26 02:30+0100",
    ]


def test_wildcard_job_runs_through_the_repeated_hour_and_skips_the_missing_one() -> None:
    berlin = ScheduleTrigger(cron="*/30 * * * *", timezone="Europe/Berlin")
    assert times(berlin, utc(2026, 10, 24, 23), utc(2026, 10, 25, 2, 1)) == [
        "10-25 01:30+0200",
        "10-25 02:00+0200",
        "10-25 02:30+0200",
        "10-25 02:00+0100",
        "10-25 02:30+0100",
        "10-25 03:00+0100",
    ]
    assert times(berlin, utc(2026, 3, 28, 23), utc(2026, 3, 29, 1, 1)) == [
        "03-29 00:30+0100",
        "03-29 01:00+0100",
        "03-29 01:30+0100",
        "03-29 03:00+0200",
    ]


def test_intervals_count_elapsed_time_across_dst_and_align_across_runtimes() -> None:
    hourly = ScheduleTrigger(every="1h", timezone="Europe/Berlin")
    fires = hourly.fire_times(utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 3))
    assert [t.strftime("%H:%M") for t in fires] == ["00:00", "01:00", "02:00"]  # UTC, 1 h apart
    # Slots count from a fixed anchor, not from start-up: runtimes started apart agree.
    every_7m = ScheduleTrigger(every="7m")
    a = every_7m.next_fire(utc(2026, 12, 2, 10, 0, 13))
    b = every_7m.next_fire(utc(2026, 12, 2, 10, 3, 59))
    assert a == utc(2026, 12, 2, 10, 3) and b == utc(2026, 12, 2, 10, 10)
    assert every_7m.next_fire(utc(2026, 12, 2, 10, 2, 0)) == a


def test_start_and_end_bound_the_fire_times() -> None:
    trigger = ScheduleTrigger(
        cron="0 * * * *", start=datetime(2026, 5, 1, 10), end=datetime(2026, 5, 1, 12)
    )
    assert [t.hour for t in trigger.fire_times(utc(2026, 5, 1), utc(2026, 5, 2))] == [10, 11, 12]
    assert trigger.next_fire(utc(2026, 5, 1, 12)) is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"cron": "* * * *"}, "5 fields"),
        ({"cron": "61 * * * *"}, "61"),
        ({"cron": "0 0 * * 9"}, "not a weekday"),
        ({"every": "30s"}, "at least 60s"),
        ({"cron": "@daily", "every": "1m"}, "exactly one of"),
        ({}, "exactly one of"),
        ({"cron": "@daily", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"every": "1m", "start": "2026-01-02", "end": "2026-01-01"}, "after `start`"),
    ],
)
def test_bad_schedules_are_refused_at_load(
    config: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHARF_SCHEDULE_MIN_INTERVAL", raising=False)
    with pytest.raises(ValidationError, match=message):
        ScheduleTrigger.model_validate(config)
