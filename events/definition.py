"""A process definition: its key, its stack of immutable configuration versions, and its tags.

Invariant: every tag names a live version, a version's configuration never changes once
recorded, and a deleted definition accepts no further command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from events.errors import Conflict, InvalidInput, NotFound

LATEST = "~LATEST"
_TAG = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
_NUMBER = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class Version:
    """One immutable configuration version."""

    number: int
    configuration: dict[str, Any]
    user: str
    timestamp: datetime

    def __deepcopy__(self, _memo: dict[int, Any]) -> Version:
        # A version never changes once recorded, so copies of a definition can share it.
        return self


def is_version_number(selector: str) -> bool:
    """Whether a selector names a version by number (anything else is a tag)."""
    return _NUMBER.fullmatch(selector) is not None


def check_tag(tag: str) -> None:
    """Refuse tags that could be read as a version number or a reserved selector."""
    if tag == LATEST or tag == "*":
        raise InvalidInput(f"tag {tag!r} is reserved", [f"tag: {tag!r} is reserved"])
    if not _TAG.fullmatch(tag) or tag.isdigit():
        raise InvalidInput(
            f"invalid tag {tag!r}",
            [f"tag: {tag!r} must be 1-64 letters, digits, '_', '.' or '-', and not a number"],
        )


class ProcessDefinition(Aggregate):
    """The definition aggregate; commands check, then record one past-tense event."""

    class Registered(Aggregate.Created):
        key: str
        user: str

    class VersionCreated(Aggregate.Event):
        version: int
        configuration: dict[str, Any]
        user: str

        def apply(self, aggregate: ProcessDefinition) -> None:
            aggregate.versions[self.version] = Version(
                self.version, self.configuration, self.user, self.timestamp
            )
            aggregate.next_version = self.version + 1

    class Tagged(Aggregate.Event):
        tag: str
        version: int
        user: str

        def apply(self, aggregate: ProcessDefinition) -> None:
            aggregate.tags[self.tag] = self.version

    class TagRemoved(Aggregate.Event):
        tag: str
        user: str

        def apply(self, aggregate: ProcessDefinition) -> None:
            aggregate.tags.pop(self.tag, None)

    class Renamed(Aggregate.Event):
        old_key: str
        new_key: str
        user: str

        def apply(self, aggregate: ProcessDefinition) -> None:
            aggregate.key = self.new_key

    class VersionRemoved(Aggregate.Event):
        version: int
        user: str

        def apply(self, aggregate: ProcessDefinition) -> None:
            aggregate.versions.pop(self.version, None)
            aggregate.tags = {t: v for t, v in aggregate.tags.items() if v != self.version}

    class Deleted(Aggregate.Event):
        user: str

        def apply(self, aggregate: ProcessDefinition) -> None:
            aggregate.deleted = True
            aggregate.versions.clear()
            aggregate.tags.clear()

    def __init__(self, key: str, user: str) -> None:
        self.key = key
        self.created_by = user
        self.versions: dict[int, Version] = {}
        self.tags: dict[str, int] = {}
        # Version numbers are never reused, so a number always means one configuration.
        self.next_version = 1
        self.deleted = False

    @classmethod
    def register(cls, key: str, configuration: dict[str, Any], user: str) -> ProcessDefinition:
        """A new definition with its first version."""
        definition = cls(key=key, user=user)
        definition.add_version(configuration, user)
        return definition

    @property
    def current(self) -> Version:
        """The newest live version."""
        self._require_live()
        return self.versions[max(self.versions)]

    def tags_of(self, number: int) -> list[str]:
        """The tags on one version, sorted."""
        return sorted(t for t, v in self.tags.items() if v == number)

    def resolve(self, selector: str) -> Version:
        """A version by number, tag or `~LATEST`."""
        self._require_live()
        if selector == LATEST:
            return self.current
        number = int(selector) if is_version_number(selector) else self.tags.get(selector)
        if number is None or number not in self.versions:
            raise NotFound(f"process {self.key!r} has no version or tag {selector!r}")
        return self.versions[number]

    def add_version(self, configuration: dict[str, Any], user: str) -> bool:
        """Record a new version unless it equals the current one; True when one was made."""
        if self.versions and self.current.configuration == configuration:
            return False
        self._require_live()
        self.trigger_event(
            self.VersionCreated, version=self.next_version, configuration=configuration, user=user
        )
        return True

    def tag(self, selector: str, tag: str, user: str) -> bool:
        """Put a tag on a version, moving it from any other; True when anything changed."""
        check_tag(tag)
        version = self.resolve(selector)
        if self.tags.get(tag) == version.number:
            return False
        self.trigger_event(self.Tagged, tag=tag, version=version.number, user=user)
        return True

    def untag(self, tag: str, user: str) -> None:
        """Remove a tag; the version it named stays."""
        self._require_live()
        if tag not in self.tags:
            raise NotFound(f"process {self.key!r} has no tag {tag!r}")
        self.trigger_event(self.TagRemoved, tag=tag, user=user)

    def rename(self, new_key: str, user: str) -> None:
        """Give the definition a new key (the key claim is the caller's other aggregate)."""
        self._require_live()
        if new_key == self.key:
            raise Conflict(f"process is already called {new_key!r}")
        self.trigger_event(self.Renamed, old_key=self.key, new_key=new_key, user=user)

    def remove_version(self, selector: str, user: str) -> None:
        """Remove one version; removing the last one deletes the definition."""
        version = self.resolve(selector)
        if len(self.versions) == 1:
            self.delete(user)
            return
        self.trigger_event(self.VersionRemoved, version=version.number, user=user)

    def rollback(self, user: str) -> None:
        """Remove the current version, so the one before becomes current."""
        self.remove_version(LATEST, user)

    def delete(self, user: str) -> None:
        """Delete the definition with all its versions; its history stays in the log."""
        self._require_live()
        self.trigger_event(self.Deleted, user=user)

    def _require_live(self) -> None:
        if self.deleted:
            raise NotFound(f"process {self.key!r} was deleted")
