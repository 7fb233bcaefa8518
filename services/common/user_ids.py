"""A user's UUID: DSpace names people by UUID, we by user name; the UUID is derived, stable per user."""

from __future__ import annotations

from uuid import UUID, uuid5

# Fixed forever: changing it would change every user's id.
_USERS = UUID("5b7f1f4e-2c1d-4e8a-9a51-3f0e6d7c2b94")


def user_uuid(user: str) -> str:
    """The user's stable UUID (uuid5 of a fixed namespace and the user name)."""
    return str(uuid5(_USERS, user))


def as_uuid(text: str) -> UUID | None:
    """`text` as a UUID, or None when it is not one (then it is a user name)."""
    try:
        return UUID(text)
    except ValueError:
        return None
