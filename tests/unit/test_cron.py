"""Cron expressions: the accepted grammar, our error messages, and fire times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from croniter import CroniterBadDateError, croniter
from hypothesis import example, given, settings
from hypothesis import strategies as st

from events.cron import CronError, CronSchedule, parse_cron


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fires(schedule: CronSchedule, moment: datetime) -> bool:
    """Independent check of one moment against the parsed value sets."""
    day_of_month = moment.day in schedule.days_of_month
    day_of_week = moment.isoweekday() % 7 in schedule.days_of_week
    return (
        moment.microsecond == 0
        and moment.second in schedule.seconds
        and moment.minute in schedule.minutes
        and moment.hour in schedule.hours
        and moment.month in schedule.months
        and moment.year in schedule.years
        and ((day_of_month or day_of_week) if schedule.either_day else (day_of_month and day_of_week))
    )


def a_later_day_fires(schedule: CronSchedule, moment: datetime) -> bool:
    """Whether any day after moment's date would fire (each day has some allowed time)."""
    for year in (y for y in schedule.years if y >= moment.year):
        for month in schedule.months:
            for day in range(1, 32):
                try:
                    candidate = at(year, month, day)
                except ValueError:
                    break  # past the end of the month
                if candidate.date() > moment.date() and fires(
                    schedule, candidate.replace(hour=schedule.hours[0], minute=schedule.minutes[0],
                                                second=schedule.seconds[0])
                ):
                    return True
    return False


# --- grammar --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "12 46 ? * * *",
        "0 0 * * *",
        "*/15 9-17 * * MON-FRI",
        "0 0 12 ? * WED 2030",
        "0 0/5 * * * ?",
        "0 15 10 ? * 2-6",
        "30 4 1,15 * 5",
        "0 0 1 jan,Jul *",
        "0 0 * * sun",
        "0 0 * * 7",
        "0 0 12 * * ? 2025-2030/2",
        "  0   0 * *   *  ",
    ],
)
def test_accepted_expressions_parse(expression: str) -> None:
    assert parse_cron(expression).expression == expression


def test_document_example_fires_at_second_12_of_minute_46_every_hour() -> None:
    schedule = parse_cron("12 46 ? * * *")

    assert (schedule.seconds, schedule.minutes) == ((12,), (46,))
    assert schedule.hours == tuple(range(24))
    assert not schedule.either_day
    assert schedule.fires_between(at(2024, 1, 1), at(2024, 1, 1, 3)) == [
        at(2024, 1, 1, 0, 46, 12),
        at(2024, 1, 1, 1, 46, 12),
        at(2024, 1, 1, 2, 46, 12),
    ]


def test_five_field_form_fires_on_second_zero() -> None:
    assert parse_cron("*/15 9-17 * * MON-FRI").seconds == (0,)


def test_sunday_is_0_or_7_in_five_fields_but_1_in_quartz_form() -> None:
    assert parse_cron("0 0 * * 0").days_of_week == (0,)
    assert parse_cron("0 0 * * 7").days_of_week == (0,)
    assert parse_cron("0 0 * * SUN").days_of_week == (0,)
    assert parse_cron("0 0 0 ? * 1").days_of_week == (0,)
    assert parse_cron("0 0 0 ? * SUN").days_of_week == (0,)
    assert parse_cron("0 0 0 ? * 7").days_of_week == (6,)
    assert parse_cron("0 0 * * MON-FRI").days_of_week == parse_cron("0 0 0 ? * 2-6").days_of_week


def test_steps_ranges_lists_and_names_expand_to_value_sets() -> None:
    schedule = parse_cron("0 5/20 8-12/2 1,15 FEB-apr *")

    assert schedule.minutes == (5, 25, 45)
    assert schedule.hours == (8, 10, 12)
    assert schedule.days_of_month == (1, 15)
    assert schedule.months == (2, 3, 4)
    assert parse_cron("5-5 * * * *").minutes == (5,)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("12 46 ? * *", "hour field '46' out of range 0-23"),
        ("0 0 24 * * *", "hour field '24' out of range 0-23"),
        ("60 * * * *", "minute field '60' out of range 0-59"),
        ("* * 0 * *", "day-of-month field '0' out of range 1-31"),
        ("* * * 13 *", "month field '13' out of range 1-12"),
        ("* * * * 8", "day-of-week field '8' out of range 0-7"),
        ("0 * * * * 0", "day-of-week field '0' out of range 1-7"),
        ("0 0 0 * * ? 1969", "year field '1969' out of range 1970-2199"),
        ("0 0 0 * * ? 2200", "year field '2200' out of range 1970-2199"),
        ("", "cron expression is empty"),
        ("   ", "cron expression is empty"),
        ("* * * *", "cron expression must have 5, 6 or 7 fields, got 4"),
        ("* * * * * * * *", "cron expression must have 5, 6 or 7 fields, got 8"),
        ("@daily", "cron expression must have 5, 6 or 7 fields, got 1"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
        ("5, * * * *", "minute field '5,' has an empty list item"),
        ("5-1 * * * *", "minute field range '5-1' runs backwards"),
        ("*/0 * * * *", "minute field step '0' out of range 1-60"),
        ("*/x * * * *", "minute field '*/x' is not a value, range, list or step"),
        ("1-2-3 * * * *", "minute field '1-2-3' is not a value, range, list or step"),
        ("* * * FOO *", "month field 'FOO' is not a number or a month name"),
        ("* MON * * *", "hour field 'MON' is not a number"),
        ("* * * * JAN", "day-of-week field 'JAN' is not a number or a day-of-week name"),
        ("0 0 12 L * ?", "day-of-month field 'L' is not a number"),
        ("0 0 12 ? * MON#2", "day-of-week field 'MON#2' is not a value, range, list or step"),
        ("-1 * * * *", "minute field '-1' is not a value, range, list or step"),
    ],
)
def test_rejected_expressions_name_the_wrong_field(expression: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse_cron(expression)

    assert str(info.value) == message
    assert info.value.expression == expression
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, 5, ["* * * * *"]])
def test_non_text_is_refused(value: object) -> None:
    with pytest.raises(CronError, match="must be a string"):
        parse_cron(value)  # type: ignore[arg-type]


def test_error_carries_the_field_name() -> None:
    with pytest.raises(CronError) as info:
        parse_cron("0 46 * * *")

    assert info.value.field == "hour"


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_cron_error(expression: str) -> None:
    try:
        parse_cron(expression)
    except CronError as error:
        assert error.message


# --- fire times -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 0 * * *", at(2024, 3, 10, 15), at(2024, 3, 11)),
        ("0 0 * * *", at(2024, 3, 11), at(2024, 3, 12)),  # strictly after
        ("*/15 9-17 * * MON-FRI", at(2024, 1, 5, 17, 50), at(2024, 1, 8, 9)),  # Fri -> Mon
        ("*/15 9-17 * * MON-FRI", at(2024, 1, 8, 9, 0, 1), at(2024, 1, 8, 9, 15)),
        ("0 0 12 ? * WED 2030", at(2024, 1, 1), at(2030, 1, 2, 12)),
        ("0 0 0 ? * 1", at(2024, 1, 1), at(2024, 1, 7)),  # Quartz 1 = Sunday
        ("0 0 * * 1", at(2024, 1, 1), at(2024, 1, 8)),  # standard 1 = Monday
        ("0 0 29 2 *", at(2024, 3, 1), at(2028, 2, 29)),
        ("59 59 23 31 12 ?", at(2024, 6, 1), at(2024, 12, 31, 23, 59, 59)),
        ("* * * * * *", at(2024, 1, 1, 12).replace(microsecond=500_000), at(2024, 1, 1, 12, 0, 1)),
        ("0 30 * * * ?", at(2024, 12, 31, 23, 45), at(2025, 1, 1, 0, 30)),
    ],
)
def test_next_after_hand_computed(expression: str, after: datetime, expected: datetime) -> None:
    assert parse_cron(expression).next_after(after) == expected


def test_both_day_fields_restricted_fire_on_either_day() -> None:
    schedule = parse_cron("0 0 13 * FRI")

    assert schedule.fires_between(at(2024, 1, 1), at(2024, 1, 14)) == [
        at(2024, 1, 5), at(2024, 1, 12), at(2024, 1, 13),
    ]


# cron(5): "If both fields are restricted (ie, aren't *), the command will be run when either field
# matches" (cronie's page: "do not contain the '*' character"). Neither wording settles `*/2` or
# `21,*/14`; the crons the page documents do: Vixie cron and cronie look at the field's first
# character (entry.c: `if (ch == '*') e->flags |= DOM_STAR;`), and so do we. croniter ORs `*/2`
# unless asked for that rule (which it calls the cron bug), and reads `*` anywhere as unrestricted
# once the other field takes every day (see croniter_ands).
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # cron(5)'s own example: 04:30 on the 1st and the 15th, and every Friday
        ("30 4 1,15 * 5", at(2024, 1, 1, 5),
         [at(2024, 1, 5, 4, 30), at(2024, 1, 12, 4, 30), at(2024, 1, 15, 4, 30), at(2024, 1, 19, 4, 30)]),
        # `*/2` starts with `*`: it does not restrict, it narrows the Mondays to odd-dated ones
        # (croniter by default: 3, 5, 7, 8 January, as for the next one)
        ("0 0 */2 * MON", at(2024, 1, 1), [at(2024, 1, 15), at(2024, 1, 29), at(2024, 2, 5), at(2024, 2, 19)]),
        # the same days written from a digit do restrict: odd days, and Mondays
        ("0 0 1-31/2 * MON", at(2024, 1, 1), [at(2024, 1, 3), at(2024, 1, 5), at(2024, 1, 7), at(2024, 1, 8)]),
        # the other way round: the 13th, when it is a Sunday, Tuesday, Thursday or Saturday
        ("0 0 13 * */2", at(2024, 1, 1), [at(2024, 1, 13), at(2024, 2, 13), at(2024, 4, 13), at(2024, 6, 13)]),
        # 7 and SUN are Sunday: the 13th, and Sundays
        ("0 0 13 * 7", at(2024, 1, 1), [at(2024, 1, 7), at(2024, 1, 13), at(2024, 1, 14), at(2024, 1, 21)]),
        ("0 0 13 * sun", at(2024, 1, 1), [at(2024, 1, 7), at(2024, 1, 13), at(2024, 1, 14), at(2024, 1, 21)]),
        # Quartz form, same rule: `?` does not restrict
        ("0 0 0 13 * ?", at(2024, 1, 1), [at(2024, 1, 13), at(2024, 2, 13), at(2024, 3, 13), at(2024, 4, 13)]),
        # both start with a digit, so both restrict, and one takes every day: every day fires
        # (croniter 7 reads `*` anywhere in the other field as unrestricted: 15, 21, 29 November)
        ("0 2 21,*/14 * 0-6", at(2043, 11, 7, 15, 16), [at(2043, 11, 8, 2), at(2043, 11, 9, 2), at(2043, 11, 10, 2)]),
        ("0 0 1-31 * 1,*/2", at(2024, 1, 1), [at(2024, 1, 2), at(2024, 1, 3), at(2024, 1, 4)]),  # croniter: 2, 4, 6
    ],
)
def test_the_two_day_fields_follow_cron_5(expression: str, after: datetime, expected: list[datetime]) -> None:
    assert parse_cron(expression).fires_between(after, expected[-1]) == expected


def test_next_after_converts_other_offsets_to_utc() -> None:
    oslo_summer = timezone(timedelta(hours=2))

    fire = parse_cron("0 0 * * *").next_after(datetime(2024, 1, 1, 1, 0, tzinfo=oslo_summer))

    assert fire == at(2024, 1, 1)
    assert fire is not None and fire.tzinfo is UTC


@pytest.mark.parametrize(
    ("expression", "after"),
    [
        ("0 0 12 ? * WED 2030", at(2030, 12, 25, 12)),  # the last Wednesday of 2030
        ("0 0 12 1 1 ? 2020", at(2024, 1, 1)),  # a past year
        ("0 0 30 2 *", at(2024, 1, 1)),  # 30 February never comes
        ("59 59 23 31 12 ? 2199", at(2199, 12, 31, 23, 59, 59)),
        ("* * * * *", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_next_after_is_none_when_no_fire_is_left(expression: str, after: datetime) -> None:
    assert parse_cron(expression).next_after(after) is None


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("0 0 * * *").next_after(datetime(2024, 1, 1))


def test_fires_between_is_half_open_and_bounded() -> None:
    hourly = parse_cron("0 * * * *")

    two_hours = hourly.fires_between(at(2024, 1, 1), at(2024, 1, 1, 2))

    assert two_hours == [at(2024, 1, 1, 1), at(2024, 1, 1, 2)]
    assert len(parse_cron("* * * * * *").fires_between(at(2024, 1, 1), at(2024, 1, 2))) == 1000
    assert len(hourly.fires_between(at(2024, 1, 1), at(2024, 2, 1), limit=5)) == 5
    assert hourly.fires_between(at(2024, 1, 2), at(2024, 1, 1)) == []


# --- properties -----------------------------------------------------------------------------


def field_text(low: int, high: int) -> st.SearchStrategy[str]:
    """Valid text for one field: any, a value, a range, a step, or a list of those."""
    value = st.integers(low, high)
    # Single-value ranges ("5-5") are left out: croniter 7 misreads them as "*".
    ranged = st.tuples(value, value).filter(lambda p: p[0] != p[1]).map(
        lambda p: f"{min(p)}-{max(p)}")
    item = st.one_of(
        value.map(str),
        ranged,
        st.tuples(ranged, st.integers(1, high - low + 1)).map(lambda p: f"{p[0]}/{p[1]}"),
        st.integers(1, high - low + 1).map(lambda n: f"*/{n}"),
    )
    return st.one_of(st.just("*"), st.lists(item, min_size=1, max_size=3).map(",".join))


@st.composite
def standard_expressions(draw: st.DrawFn) -> str:
    """5-field expressions, both day fields restricted or not (`*/n` among them)."""
    return " ".join([draw(field_text(0, 59)), draw(field_text(0, 23)), draw(field_text(1, 31)),
                     draw(field_text(1, 12)), draw(field_text(0, 7))])


@st.composite
def quartz_expressions(draw: st.DrawFn) -> str:
    fields = [draw(field_text(0, 59)), draw(field_text(0, 59)), draw(field_text(0, 23)),
              draw(field_text(1, 31)), draw(field_text(1, 12)), draw(field_text(1, 7))]
    if draw(st.booleans()):
        fields.append(draw(field_text(2000, 2060)))
    return " ".join(fields)


def croniter_ands(schedule: CronSchedule, expression: str) -> bool:
    """Whether croniter 7 ANDs two day fields that cron(5) ORs.

    croniter turns a day field that takes every day into `*` when the other day field holds a
    `*` anywhere, even after its first character (`0-6` beside `21,*/14`), and then ANDs them;
    cron(5), as Vixie cron and cronie run it, looks at the first character only: both fields
    restrict, and a day matching either fires, which is every day here.
    """
    _, _, day_of_month, _, day_of_week = expression.split()
    every_date = schedule.days_of_month == tuple(range(1, 32))
    every_weekday = schedule.days_of_week == tuple(range(7))
    return schedule.either_day and ((every_date and "*" in day_of_week) or (every_weekday and "*" in day_of_month))


moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(standard_expressions(), moments)
# cron(5) and croniter's default part here (see test_the_two_day_fields_follow_cron_5)
@example("0 0 */2 * 1", at(2024, 1, 1))
@example("0 0 13 * */2", at(2024, 1, 1))
# croniter ANDs these two restricted day fields (see croniter_ands), found by this property
@example("* 2,2-4,6-7/21 21,20,*/14 11,*/7,2-7 1-4/1,0-6,1-3/5", at(2043, 11, 7, 15, 16, 5, 23260))
@example("* * 17-23,*/8 * 1-6/7,0,*/1", at(2000, 3, 15, 17, 15, 53, 2912))
# no fire, ever: croniter says so by raising
@example("0 0 31 2 *", at(2024, 1, 1))
@example("0 0 31 4-6/2,11 *", at(2024, 1, 1))
def test_five_field_next_after_agrees_with_croniter(expression: str, moment: datetime) -> None:
    schedule = parse_cron(expression)
    ours = schedule.next_after(moment)
    oracle = expression
    if croniter_ands(schedule, expression):
        # every day matches the days (one field takes them all): the fires of `* *` days
        fields = expression.split()
        fields[2] = fields[4] = "*"
        oracle = " ".join(fields)
    try:
        # croniter's "cron bug" is cron(5)'s rule for `*`-led day fields, as Vixie cron and cronie run it.
        theirs = croniter(oracle, moment, implement_cron_bug=True).get_next(datetime)
    except CroniterBadDateError:  # croniter looks 50 years ahead; a 5-field fire is never that far
        theirs = None

    assert ours == theirs
    assert ours is None or (ours > moment and fires(schedule, ours))


@settings(max_examples=300, deadline=None)
@given(quartz_expressions(), moments)
def test_next_after_is_later_fires_and_skips_nothing(expression: str, moment: datetime) -> None:
    schedule = parse_cron(expression)
    fire = schedule.next_after(moment)

    if fire is None:
        assert not a_later_day_fires(schedule, moment)
        return
    assert fire > moment
    assert fires(schedule, fire)
    # Nothing in between fires: check the seconds just before it (cheap, catches off-by-ones).
    probe = max(moment.replace(microsecond=0) + timedelta(seconds=1), fire - timedelta(minutes=2))
    while probe < fire:
        assert not fires(schedule, probe), probe
        probe += timedelta(seconds=1)
