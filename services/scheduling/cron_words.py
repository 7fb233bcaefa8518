"""Cron schedules in words for people ("every day at 06:30 UTC"), and their next fire times.

Only the common shapes get words; anything else is shown as its expression, which is never wrong.
"""

from __future__ import annotations

from datetime import datetime

from events.cron import CronSchedule

_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def _full(values: tuple[int, ...], low: int, high: int) -> bool:
    return values == tuple(range(low, high + 1))


def _step(values: tuple[int, ...], low: int, high: int) -> int | None:
    """n when the values are low, low+n, low+2n, ... up to the top of the field (`*/n`)."""
    if len(values) < 2 or values[0] != low:
        return None
    n = values[1] - values[0]
    return n if values == tuple(range(low, high + 1, n)) else None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _time_of_day(s: CronSchedule) -> str | None:
    """'every minute', 'every 15 minutes', 'every hour at minute 5', 'at 06:30', or None."""
    if s.seconds != (0,):
        return None
    all_hours = _full(s.hours, 0, 23)
    if all_hours and _full(s.minutes, 0, 59):
        return "every minute"
    if all_hours and (n := _step(s.minutes, 0, 59)):
        return f"every {n} minutes"
    if len(s.minutes) == 1:
        if all_hours:
            return f"every hour at minute {s.minutes[0]}"
        if (n := _step(s.hours, 0, 23)) and s.minutes == (0,):
            return f"every {n} hours"
        if len(s.hours) <= 4:
            return "at " + _and([f"{h:02d}:{s.minutes[0]:02d}" for h in s.hours])
    return None


def _days(s: CronSchedule) -> str | None:
    """'every day', 'on Monday and Friday', 'on the 1st of the month', or None."""
    every_date, every_weekday = _full(s.days_of_month, 1, 31), _full(s.days_of_week, 0, 6)
    if s.either_day:  # a day matching either field: words only when one of them takes every day
        return "every day" if every_date or every_weekday else None
    if every_date and every_weekday:
        return "every day"
    if every_date:
        if s.days_of_week == (1, 2, 3, 4, 5):
            return "on weekdays"
        return "on " + _and([_DAYS[d] for d in s.days_of_week])
    if every_weekday and len(s.days_of_month) <= 3:
        return "on the " + _and([_ordinal(d) for d in s.days_of_month]) + " of the month"
    return None


def describe(schedule: CronSchedule) -> str:
    """The schedule in words (UTC), or the expression itself when it is not one of the common shapes."""
    if not _full(schedule.years, 1970, 2199):
        return schedule.expression
    time, days = _time_of_day(schedule), _days(schedule)
    if time is None or days is None:
        return schedule.expression
    if time.startswith("every"):
        words = time if days == "every day" else f"{time}, {days}"
    else:
        words = f"{days} {time}"
    if not _full(schedule.months, 1, 12):
        words += " in " + _and([_MONTHS[m - 1] for m in schedule.months])
    return words + " (UTC)"


def next_fires(schedule: CronSchedule, after: datetime, count: int = 5) -> list[datetime]:
    """The next `count` fire times strictly after `after` (fewer if the schedule runs out)."""
    fires: list[datetime] = []
    moment: datetime | None = after
    while len(fires) < count and moment is not None and (moment := schedule.next_after(moment)) is not None:
        fires.append(moment)
    return fires
