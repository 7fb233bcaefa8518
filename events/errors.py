"""Errors the domain raises. The HTTP edge maps each to one status code."""

from __future__ import annotations

from dataclasses import dataclass, field


class DomainError(Exception):
    """A command was refused; nothing was recorded."""

    title = "The request was refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The thing named does not exist (or was deleted)."""

    title = "Not found"


class Conflict(DomainError):
    """The command does not fit the current state of the aggregate."""

    title = "Conflict"


@dataclass
class InvalidInput(DomainError):
    """The command's data break a rule; `problems` lists each broken rule."""

    detail: str
    problems: list[str] = field(default_factory=list)
    title = "Invalid input"

    def __post_init__(self) -> None:
        Exception.__init__(self, self.detail)


class MalformedInput(InvalidInput):
    """A value cannot be read at all (a bad cron expression, a bad selector)."""

    title = "Malformed input"


class StaleVersion(Conflict):
    """The caller's `If-Match` names a version that is no longer current."""

    title = "Precondition failed"
