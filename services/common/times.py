"""Moments on the wire: ISO-8601 in UTC with a `Z`, read back with or without an offset."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(moment: datetime | None) -> str | None:
    """`2026-11-29T19:04:10.123456Z` (UTC), or None for no moment."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_moment(raw: str, *, naive_is_utc: bool = True) -> datetime:
    """An ISO-8601 moment (a `Z` suffix allowed) in UTC; ValueError when unreadable or, unless
    `naive_is_utc`, when it carries no offset. OverflowError counts as unreadable too."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except OverflowError:
        raise ValueError(f"{raw[:40]!r} is out of range") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise ValueError(f"{raw[:40]!r} carries no time zone offset")
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{raw[:40]!r} is out of range") from None
