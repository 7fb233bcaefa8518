"""Read models of one row per aggregate, written a batch at a time.

Instead of one UPDATE per event, a batch's events are folded in memory over the rows they
touch: one SELECT of those rows, pure fold functions per event type, then one DELETE and one
pipelined upsert of the rows that changed. Three round trips per batch whatever its size,
which is what makes a rebuild or a catch-up fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Fold = Callable[[dict[str, Any] | None, Any, int], dict[str, Any] | None]
"""`fold(row, event, position)`: the row after the event (a new dict), or None for no row.

`row` is None when the aggregate has no row (never created, or deleted); a fold that does
not create rows returns None then, and nothing is written.
"""


@dataclass(frozen=True)
class Rows:
    """A table keyed by the aggregate id, and how each event type changes its row."""

    table: str
    key: str
    columns: tuple[str, ...]
    folds: Mapping[type, Fold]

    async def apply(self, conn: Any, events: list[tuple[Any, int]]) -> None:
        """Fold a batch of (event, position) into the rows and write the ones that changed."""
        if not events:
            return
        ids = list(dict.fromkeys(e.originator_id for e, _ in events))
        before = {
            r[self.key]: dict(r)
            for r in await conn.fetch(f"SELECT * FROM {self.table} WHERE {self.key} = ANY($1::uuid[])", ids)
        }
        after: dict[Any, dict[str, Any] | None] = dict(before)
        for event, position in events:
            fold = self.folds.get(type(event))
            if fold is not None:
                after[event.originator_id] = fold(after.get(event.originator_id), event, position)
        gone = [i for i in ids if after.get(i) is None and i in before]
        changed = [row for i in ids if (row := after.get(i)) is not None and row != before.get(i)]
        if gone:
            await conn.execute(f"DELETE FROM {self.table} WHERE {self.key} = ANY($1::uuid[])", gone)
        if changed:
            await conn.executemany(self._upsert, [tuple(row[c] for c in self.columns) for row in changed])

    @property
    def _upsert(self) -> str:
        names = ", ".join(self.columns)
        values = ", ".join(f"${n}" for n in range(1, len(self.columns) + 1))
        sets = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c != self.key)
        return f"INSERT INTO {self.table} ({names}) VALUES ({values}) ON CONFLICT ({self.key}) DO UPDATE SET {sets}"
