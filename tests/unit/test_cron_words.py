"""Cron in words: the common shapes read naturally; the rest fall back to the expression."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.cron import parse_cron
from services.scheduling.cron_words import describe, next_fires


@pytest.mark.parametrize(("expression", "words"), [
    ("* * * * *", "every minute (UTC)"),
    ("*/15 * * * *", "every 15 minutes (UTC)"),
    ("5 * * * *", "every hour at minute 5 (UTC)"),
    ("30 6 * * *", "every day at 06:30 (UTC)"),
    ("0 30 6 * * ?", "every day at 06:30 (UTC)"),
    ("0 9 * * 1-5", "on weekdays at 09:00 (UTC)"),
    ("0 9 * * MON,FRI", "on Monday and Friday at 09:00 (UTC)"),
    ("0 0 9 ? * 2", "on Monday at 09:00 (UTC)"),  # Quartz: 2 = Monday
    ("0 0 1 * *", "on the 1st of the month at 00:00 (UTC)"),
    ("0 0 */6 * * ?", "every 6 hours (UTC)"),
    ("0 12 * 1,7 *", "every day at 12:00 in January and July (UTC)"),
    ("0 0 12 * * ? 2030", "0 0 12 * * ? 2030"),
    ("1-5 * * * *", "1-5 * * * *"),
    ("15 * * * * ?", "15 * * * * ?"),
])
def test_describe(expression: str, words: str):
    assert describe(parse_cron(expression)) == words


def test_next_five_fires_and_a_schedule_that_runs_out():
    start = datetime(2025, 1, 31, 23, 0, tzinfo=UTC)
    assert next_fires(parse_cron("30 6 * * *"), start) == [datetime(2025, 2, d, 6, 30, tzinfo=UTC) for d in range(1, 6)]
    assert next_fires(parse_cron("0 0 0 1 1 ? 2026-2027"), start) == [
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)]
