"""Who may see and act on an instance: one rule for every face."""

from __future__ import annotations

from infra.tokens import Principal


def may_see(who: Principal, initiator: str | None) -> bool:
    """An admin sees every instance; a user those they initiated."""
    return who.is_admin or initiator == who.user
