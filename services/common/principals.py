"""The principals the service acts as on its own (seeding, schedules, workers)."""

from __future__ import annotations

from infra.tokens import Principal

SYSTEM = Principal("system", "admin")
"""The service itself: seeds examples, fires schedules, finishes what its workers ran."""
