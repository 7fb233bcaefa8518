"""Cron expressions: validation with our own messages, and the next fire times.

Grammar (a product decision; all times are UTC):
- 5 fields, standard cron: ``minute hour day-of-month month day-of-week``;
  day-of-week is 0-7 with 0 and 7 both Sunday.
- 6 or 7 fields, Quartz style: ``second minute hour day-of-month month day-of-week [year]``;
  day-of-week is 1-7 with 1 = Sunday (Quartz numbering, NOT the 5-field one),
  year is 1970-2199.
- In every field ``*`` and ``?`` mean "any"; also numbers, ranges ``a-b``, lists
  ``a,b``, steps ``*/n``, ``a-b/n`` and ``a/n`` (from a to the top of the field);
  names JAN-DEC and SUN-SAT in any case.
- The two day fields (cron(5)): when both are restricted, a day matching either one
  fires (``30 4 1,15 * 5``: the 1st, the 15th and every Friday); when one is not, a day
  must match both. A field that *starts with* ``*`` or ``?`` is not restricted, whatever
  follows: ``*/2`` is unrestricted, ``1-31/2`` is restricted, though both name the odd
  days. That is how Vixie cron and cronie decide it (``entry.c`` looks at the field's first
  character), so ``0 0 */2 * MON`` fires on odd-dated Mondays and ``0 0 1-31/2 * MON`` on odd
  days and on Mondays.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["MAX_FIRES", "CronError", "CronSchedule", "parse_cron"]

MAX_FIRES = 1000


class CronError(ValueError):
    """A cron expression that does not follow the grammar; `field` names the culprit."""

    def __init__(self, message: str, *, expression: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.field = field


@dataclass(frozen=True)
class _Spec:
    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)


_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_SECOND, _MINUTE, _HOUR = _Spec("second", 0, 59), _Spec("minute", 0, 59), _Spec("hour", 0, 23)
_DOM, _MONTH = _Spec("day-of-month", 1, 31), _Spec("month", 1, 12, _MONTHS)
_DOW_STANDARD = _Spec("day-of-week", 0, 7, _DAYS)
_DOW_QUARTZ = _Spec("day-of-week", 1, 7, {d: i + 1 for d, i in _DAYS.items()})
_YEAR = _Spec("year", 1970, 2199)
_ANY = "*?"  # "any": the whole field, and a day field that does not restrict
_VALUE = r"[0-9]+|[A-Za-z]+"
_ITEM = re.compile(
    rf"(?:(?P<any>[*?])|(?P<lo>{_VALUE})(?:-(?P<hi>{_VALUE}))?)(?:/(?P<step>[0-9]+))?"
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression: the allowed values of each field, sorted.

    `days_of_week` uses 0 = Sunday whatever the source notation.
    """

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]
    years: tuple[int, ...]
    either_day: bool  # both day fields restricted: a day matching either fires (else both must match)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire strictly after `moment` (aware, UTC result), or None if none is left."""
        t = _utc(moment)
        if t.year > self.years[-1]:
            return None
        t = t.replace(microsecond=0) + timedelta(seconds=1)
        # Each step moves t forward to the next candidate, so the loop ends by the last year.
        while (year := _next(self.years, t.year)) is not None:
            if year != t.year:
                t = datetime(year, 1, 1, tzinfo=UTC)
            elif not _has(self.months, t.month):
                month = _next(self.months, t.month)
                t = (datetime(t.year, month, 1, tzinfo=UTC) if month is not None
                     else datetime(t.year + 1, 1, 1, tzinfo=UTC))
            elif not self._day_matches(t):
                t = datetime(t.year, t.month, t.day, tzinfo=UTC) + timedelta(days=1)
            elif not _has(self.hours, t.hour):
                hour = _next(self.hours, t.hour)
                t = (t.replace(hour=hour, minute=0, second=0) if hour is not None
                     else datetime(t.year, t.month, t.day, tzinfo=UTC) + timedelta(days=1))
            elif not _has(self.minutes, t.minute):
                minute = _next(self.minutes, t.minute)
                t = (t.replace(minute=minute, second=0) if minute is not None
                     else t.replace(minute=0, second=0) + timedelta(hours=1))
            elif not _has(self.seconds, t.second):
                second = _next(self.seconds, t.second)
                t = (t.replace(second=second) if second is not None
                     else t.replace(second=0) + timedelta(minutes=1))
            else:
                return t
        return None

    def fires_between(
        self, start: datetime, end: datetime, limit: int = MAX_FIRES
    ) -> list[datetime]:
        """Fires in the half-open window (start, end], at most `limit` of them.

        Half-open so that consecutive windows never count a fire twice.
        """
        fires: list[datetime] = []
        t = self.next_after(start)
        while t is not None and t <= end and len(fires) < limit:
            fires.append(t)
            t = self.next_after(t)
        return fires

    def _day_matches(self, t: datetime) -> bool:
        dom = _has(self.days_of_month, t.day)
        dow = _has(self.days_of_week, t.isoweekday() % 7)
        return (dom or dow) if self.either_day else (dom and dow)


def parse_cron(expression: str) -> CronSchedule:
    """Validate `expression` against the grammar above; raise CronError naming the wrong field."""
    if not isinstance(expression, str):  # JSON callers can pass numbers or null
        raise CronError("cron expression must be a string", expression=repr(expression))
    if not expression.strip():
        raise CronError("cron expression is empty", expression=expression)
    parts = expression.split()
    standard = len(parts) == 5
    if standard:
        parts = ["0", *parts]  # standard cron fires on second 0
        specs = (_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW_STANDARD)
    elif len(parts) in (6, 7):
        specs = (_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW_QUARTZ, _YEAR)
    else:
        raise CronError(
            f"cron expression must have 5, 6 or 7 fields, got {len(parts)}", expression=expression
        )
    sets = [_parse_field(text, spec, expression) for text, spec in zip(parts, specs)]
    seconds, minutes, hours, doms, months, dows = sets[:6]
    years = sets[6] if len(sets) == 7 else set(range(_YEAR.low, _YEAR.high + 1))
    # Normalise to 0 = Sunday: in 5-field form 7 is Sunday again; Quartz counts 1 = Sunday.
    dows = {d % 7 for d in dows} if standard else {d - 1 for d in dows}
    return CronSchedule(
        expression=expression,
        seconds=tuple(sorted(seconds)),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days_of_month=tuple(sorted(doms)),
        months=tuple(sorted(months)),
        days_of_week=tuple(sorted(dows)),
        years=tuple(sorted(years)),
        # The first character decides, as in Vixie cron and cronie (see the module docstring).
        either_day=parts[3][0] not in _ANY and parts[5][0] not in _ANY,
    )


def _parse_field(text: str, spec: _Spec, expression: str) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _error(spec, expression, f"'{text}' has an empty list item")
        match = _ITEM.fullmatch(item)
        if match is None:
            raise _error(spec, expression, f"'{item}' is not a value, range, list or step")
        low, high = spec.low, spec.high
        if not match["any"]:
            low = _value(match["lo"], spec, expression)
            # A bare "a/n" (Quartz) runs from a to the top of the field.
            high = _value(match["hi"], spec, expression) if match["hi"] else (
                spec.high if match["step"] else low)
        if low > high:
            raise _error(spec, expression, f"range '{item}' runs backwards")
        step, widest = _int(match["step"] or "1"), spec.high - spec.low + 1
        if not 1 <= step <= widest:
            raise _error(spec, expression, f"step '{match['step']}' out of range 1-{widest}")
        values.update(range(low, high + 1, step))
    return values


def _value(token: str, spec: _Spec, expression: str) -> int:
    if token.isdigit():
        if spec.low <= _int(token) <= spec.high:
            return int(token)
        raise _error(spec, expression, f"'{token}' out of range {spec.low}-{spec.high}")
    if token.upper() in spec.names:
        return spec.names[token.upper()]
    expected = f"a number or a {spec.name} name" if spec.names else "a number"
    raise _error(spec, expression, f"'{token}' is not {expected}")


def _int(digits: str) -> int:
    # Python refuses to convert very long digit strings; anything that long is out of range.
    return int(digits) if len(digits) <= 18 else 10**18


def _error(spec: _Spec, expression: str, detail: str) -> CronError:
    return CronError(f"{spec.name} field {detail}", expression=expression, field=spec.name)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("cron moments must be timezone-aware")
    return moment.astimezone(UTC)


def _has(values: tuple[int, ...], x: int) -> bool:
    return _next(values, x) == x


def _next(values: tuple[int, ...], x: int) -> int | None:
    """The smallest allowed value >= x, or None."""
    i = bisect_left(values, x)
    return values[i] if i < len(values) else None

