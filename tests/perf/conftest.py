"""Helpers shared by the benchmarks (the database fixtures come from tests/conftest.py).

The benchmarks are run on demand only (`pyproject.toml` keeps tests/perf out of testpaths):

    .venv/bin/pytest tests/perf -s -p no:cacheprovider

They print figures; they never assert timings, only that the work was done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/perf/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.perf)


class Report:
    """What the `report` fixture hands a benchmark: printing helpers, nothing stateful."""

    @staticmethod
    def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        print_table(title, header, rows)

    @staticmethod
    def ratio(name: str, value: float, target: float | None = None) -> None:
        print(ratio_line(name, value, target))
        RATIOS.append((name, value, target))

    @staticmethod
    async def server_settings(url: str) -> str:
        return await server_settings(url)


RATIOS: list[tuple[str, float, float | None]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every ratio of the run again, in one table at the end (what docs/performance.md records)."""
    if not RATIOS:
        return
    terminalreporter.write_line("")
    terminalreporter.write_line("Targets (a ratio >= its target meets it)")
    width = max(len(name) for name, _, _ in RATIOS)
    for name, value, target in RATIOS:
        verdict = "" if target is None else f"target >= {target:g}: {'met' if value >= target else 'NOT met'}"
        terminalreporter.write_line(f"  {name.ljust(width)}  {value:8.2f}x  {verdict}")


@pytest.fixture
def report() -> Report:
    return Report()


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table on stdout (run pytest with -s to see it)."""
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio_line(name: str, value: float, target: float | None = None) -> str:
    """`name = 1.23x (target >= 5: met)`."""
    text = f"  {name} = {value:.2f}x"
    if target is not None:
        text += f"  (target >= {target:g}: {'met' if value >= target else 'NOT met'})"
    return text


async def server_settings(url: str) -> str:
    """The PostgreSQL settings that decide commit cost, for the record."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name IN"
            " ('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay', 'max_connections')"
            " ORDER BY name"
        )
    finally:
        await conn.close()
    return ", ".join(f"{r['name']}={r['setting']}" for r in rows)
