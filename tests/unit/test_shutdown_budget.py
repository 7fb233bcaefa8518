"""The shutdown budget: its parts are derived from it, or refused when they overrun it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import Settings

PLATFORM_KILL_DEADLINE_SECONDS = 30  # before SIGKILL: Kubernetes' default, compose.yaml's stop_grace_period


def test_the_defaults_fit_the_platforms_30_seconds_with_a_margin():
    settings = Settings()
    parts = settings.shutdown_grace + settings.script_stop_grace_seconds + settings.shutdown_reserve_seconds
    assert parts == settings.shutdown_timeout_seconds <= PLATFORM_KILL_DEADLINE_SECONDS - 5
    assert settings.shutdown_grace > 0


def test_an_unset_grace_is_what_the_budget_leaves():
    settings = Settings(shutdown_timeout_seconds=8, script_stop_grace_seconds=1, shutdown_reserve_seconds=3)
    assert settings.shutdown_grace == 4


def test_a_grace_within_the_budget_is_kept():
    assert Settings(shutdown_grace_seconds=3).shutdown_grace == 3


@pytest.mark.parametrize("parts", [
    {"shutdown_grace_seconds": 25},  # the old default grace alone: 25 + 5 + 5 > 20
    {"shutdown_timeout_seconds": 8},  # the stop grace and the reserve leave no room
    {"shutdown_timeout_seconds": 10, "script_stop_grace_seconds": 4, "shutdown_grace_seconds": 2},
])
def test_parts_that_overrun_the_budget_are_refused_naming_each_setting(parts):
    with pytest.raises(ValidationError) as refused:
        Settings(**parts)
    message = str(refused.value)
    assert "overrun its budget" in message
    assert "PROCESSION_SHUTDOWN_TIMEOUT_SECONDS" in message and "PROCESSION_SCRIPT_STOP_GRACE_SECONDS" in message
    assert ("PROCESSION_SHUTDOWN_GRACE_SECONDS" in message) == ("shutdown_grace_seconds" in parts)


def test_the_environment_sets_the_budget(monkeypatch):
    monkeypatch.setenv("PROCESSION_SHUTDOWN_TIMEOUT_SECONDS", "8")
    monkeypatch.setenv("PROCESSION_SCRIPT_STOP_GRACE_SECONDS", "2")
    monkeypatch.setenv("PROCESSION_SHUTDOWN_RESERVE_SECONDS", "3")
    assert Settings().shutdown_grace == 3

