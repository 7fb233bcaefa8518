"""The ProcessDefinition and ProcessKey aggregates, without a database."""

from __future__ import annotations

import pytest

from events.definition import LATEST, ProcessDefinition
from events.errors import Conflict, InvalidInput, NotFound
from events.process_key import ProcessKey, key_id
from tests.factories import a_claim, a_configuration, a_definition, fold, state


def test_each_new_configuration_becomes_the_next_version() -> None:
    definition = a_definition(versions=3)

    assert sorted(definition.versions) == [1, 2, 3]
    assert definition.current.number == 3
    assert definition.current.configuration == a_configuration(3)
    assert definition.versions[1].configuration == a_configuration(1)


def test_an_unchanged_configuration_makes_no_version() -> None:
    definition = a_definition(versions=2)
    definition.collect_events()

    changed = definition.add_version(a_configuration(2), "bob")

    assert changed is False
    assert sorted(definition.versions) == [1, 2]
    assert definition.collect_events() == []


def test_a_configuration_equal_to_an_older_version_still_makes_a_new_version() -> None:
    definition = a_definition(versions=2)

    assert definition.add_version(a_configuration(1), "bob") is True
    assert definition.current.number == 3


def test_version_numbers_are_never_reused_after_a_rollback() -> None:
    definition = a_definition(versions=2)
    definition.rollback("alice")

    definition.add_version(a_configuration(9), "alice")

    assert sorted(definition.versions) == [1, 3]


def test_a_tag_moves_when_applied_to_another_version() -> None:
    definition = a_definition(versions=2, tags={"prod": 1})

    definition.tag("2", "prod", "alice")

    assert definition.tags == {"prod": 2}
    assert definition.tags_of(1) == []
    assert definition.tags_of(2) == ["prod"]


def test_reapplying_a_tag_to_the_same_version_records_nothing() -> None:
    definition = a_definition(versions=2, tags={"prod": 1})
    definition.collect_events()

    assert definition.tag("1", "prod", "alice") is False
    assert definition.collect_events() == []


def test_a_version_can_carry_several_tags_and_latest_resolves_to_the_current_version() -> None:
    definition = a_definition(versions=2, tags={"prod": 1, "stable": 1})

    assert definition.tags_of(1) == ["prod", "stable"]
    assert definition.resolve("stable").number == 1
    assert definition.resolve(LATEST).number == 2


def test_tagging_a_missing_version_is_not_found() -> None:
    definition = a_definition(versions=2)

    with pytest.raises(NotFound):
        definition.tag("7", "prod", "alice")
    assert definition.tags == {}


@pytest.mark.parametrize("tag", [LATEST, "*", "42", "", "has space", "x" * 65])
def test_reserved_or_malformed_tags_are_refused(tag: str) -> None:
    definition = a_definition()

    with pytest.raises(InvalidInput):
        definition.tag("1", tag, "alice")
    assert definition.tags == {}


def test_removing_a_tag_keeps_its_version() -> None:
    definition = a_definition(versions=2, tags={"prod": 1})

    definition.untag("prod", "alice")

    assert definition.tags == {}
    assert sorted(definition.versions) == [1, 2]


def test_removing_an_unknown_tag_is_not_found() -> None:
    definition = a_definition()

    with pytest.raises(NotFound):
        definition.untag("prod", "alice")


def test_rollback_makes_the_previous_version_current_and_drops_its_tags() -> None:
    definition = a_definition(versions=3, tags={"prod": 3, "old": 1})

    definition.rollback("alice")

    assert definition.current.number == 2
    assert definition.tags == {"old": 1}


def test_removing_a_middle_version_keeps_the_others() -> None:
    definition = a_definition(versions=3, tags={"prod": 2})

    definition.remove_version("prod", "alice")

    assert sorted(definition.versions) == [1, 3]
    assert definition.current.number == 3
    assert definition.tags == {}


def test_removing_the_last_version_deletes_the_definition() -> None:
    definition = a_definition(versions=1)

    definition.remove_version(LATEST, "alice")

    assert definition.deleted is True
    assert isinstance(definition.collect_events()[-1], ProcessDefinition.Deleted)


def test_a_deleted_definition_refuses_every_command() -> None:
    definition = a_definition(versions=2, tags={"prod": 1})
    definition.delete("alice")
    definition.collect_events()

    commands = [
        lambda: definition.add_version(a_configuration(5), "alice"),
        lambda: definition.tag("1", "again", "alice"),
        lambda: definition.untag("prod", "alice"),
        lambda: definition.rename("other", "alice"),
        lambda: definition.rollback("alice"),
        lambda: definition.delete("alice"),
    ]
    for command in commands:
        with pytest.raises(NotFound):
            command()
    assert definition.collect_events() == []


def test_rename_changes_the_key_and_records_both_names() -> None:
    definition = a_definition("invoice")
    definition.collect_events()

    definition.rename("bill", "alice")

    assert definition.key == "bill"
    (event,) = definition.collect_events()
    assert (event.old_key, event.new_key) == ("invoice", "bill")


def test_renaming_to_the_same_key_is_a_conflict() -> None:
    definition = a_definition("invoice")

    with pytest.raises(Conflict):
        definition.rename("invoice", "alice")


def test_a_key_claim_has_an_id_derived_from_the_key() -> None:
    assert ProcessKey(key="invoice").id == key_id("invoice")
    assert key_id("invoice") != key_id("bill")


def test_a_claimed_key_cannot_be_claimed_by_another_definition() -> None:
    claim = a_claim(a_definition("invoice"))

    with pytest.raises(Conflict):
        claim.claim(a_definition("invoice").id)


def test_a_released_key_can_be_claimed_again() -> None:
    first = a_definition("invoice")
    claim = a_claim(first)
    claim.release(first.id)
    second = a_definition("invoice")

    claim.claim(second.id)

    assert claim.holder == str(second.id)


def test_only_the_holder_can_release_a_key() -> None:
    holder = a_definition("invoice")
    claim = a_claim(holder)

    claim.release(a_definition("invoice").id)

    assert claim.holder == str(holder.id)


def test_replaying_collected_events_gives_the_same_definition() -> None:
    definition = a_definition(versions=4, tags={"prod": 2, "beta": 4})
    definition.tag("3", "prod", "bob")
    definition.untag("beta", "bob")
    definition.rename("bill", "bob")
    definition.rollback("bob")

    replayed = fold(definition.collect_events())

    assert state(replayed) == state(definition)
    assert replayed == definition


def test_replaying_collected_events_gives_the_same_key_claim() -> None:
    first, second = a_definition("invoice"), a_definition("invoice")
    claim = a_claim(first)
    claim.release(first.id)
    claim.claim(second.id)

    replayed = fold(claim.collect_events())

    assert replayed == claim
    assert replayed.holder == str(second.id)
