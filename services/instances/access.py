"""Who may see and move a process instance: one rule for every face.

An admin sees and acts on every instance. A user sees and acts on the instances they
initiated, and on those assigned to them: an assignment (Hackney's `{type, value, patch}`)
names a user (`type: user`) or a team (`type: team`); without a `type` its `value` may be
either. The teams are those of the caller's user (kept with the tokens).

Not-yours is answered like an absent instance (404) unless a face documents otherwise
(DSpace: 403), and not-yours instances are left out of every list, search, count and feed.
`visible_sql` is the same rule for queries on `instance_view`.
"""

from __future__ import annotations

from typing import Any

from infra.tokens import Principal


def assigned_to(who: Principal, assignment: dict[str, Any] | None) -> bool:
    """Whether an assignment names the caller or one of their teams."""
    if not isinstance(assignment, dict):
        return False
    value, kind = assignment.get("value"), assignment.get("type")
    if not isinstance(value, str) or not value:
        return False
    if kind in (None, "user") and value == who.user:
        return True
    return kind in (None, "team") and value in who.teams


def may_access(who: Principal, initiator: str | None, assignment: dict[str, Any] | None) -> bool:
    """The rule: admin, or the initiator, or an assignee (the user or one of their teams)."""
    return who.is_admin or (initiator is not None and initiator == who.user) or assigned_to(who, assignment)


def visible_sql(who: Principal, arg: Any, *, initiator: str = "initiator", assignment: str = "assignment") -> str:
    """A SQL condition with the same rule, on an initiator and an assignment (jsonb) column.

    `arg(value)` adds a query parameter and returns its placeholder.
    """
    if who.is_admin:
        return "true"
    user, teams = arg(who.user), arg(list(who.teams))
    return (
        f"({initiator} = {user}"
        f" OR ({assignment} ->> 'value' = {user} AND coalesce({assignment} ->> 'type', 'user') = 'user')"
        f" OR ({assignment} ->> 'value' = ANY({teams}::text[]) AND coalesce({assignment} ->> 'type', 'team') = 'team'))"
    )


def may_see(who: Principal, initiator: str | None, assignment: dict[str, Any] | None = None) -> bool:
    """`may_access` under the name the faces know it by."""
    return may_access(who, initiator, assignment)
