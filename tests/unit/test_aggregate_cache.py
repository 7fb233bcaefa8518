"""The aggregate cache hands out independent copies and only ever moves forward."""

import pytest

from events.definition import ProcessDefinition
from infra.aggregate_cache import AggregateCache, Gap


def history(key: str = "A") -> tuple[ProcessDefinition, list]:
    definition = ProcessDefinition.register(key, {"script": "s"}, "alice")
    return definition, list(definition.collect_events())


def test_a_command_on_a_cached_copy_does_not_change_the_cache():
    cache = AggregateCache()
    definition, events = history()
    copy = cache.advance(definition.id, events)
    copy.add_version({"script": "t"}, "bob")
    copy.tag("2", "PROD", "bob")
    again = cache.advance(definition.id, [])
    assert again.version == definition.version == cache.version_of(definition.id)
    assert list(again.versions) == [1] and again.tags == {}
    assert copy.collect_events() and not again.collect_events()


def test_events_the_cache_already_holds_are_skipped_and_a_gap_is_refused():
    cache = AggregateCache()
    definition, events = history()
    cache.advance(definition.id, events)
    definition.add_version({"script": "t"}, "bob")
    definition.add_version({"script": "u"}, "bob")
    newer = list(definition.collect_events())
    assert cache.advance(definition.id, [*events, *newer]).version == 4
    with pytest.raises(Gap):
        AggregateCache().advance(definition.id, newer)


def test_the_cache_forgets_the_least_recently_used_aggregate_beyond_its_size():
    cache = AggregateCache(size=2)
    (a, ea), (b, eb), (c, ec) = history("A"), history("B"), history("C")
    cache.advance(a.id, ea)
    cache.advance(b.id, eb)
    cache.advance(a.id, [])
    cache.advance(c.id, ec)
    assert cache.version_of(b.id) == 0
    assert cache.version_of(a.id) == a.version


def test_the_cache_also_forgets_beyond_its_event_budget_and_keeps_its_tally():
    cache = AggregateCache(size=100, max_events=5)
    (a, ea), (b, eb), (c, ec) = history("A"), history("B"), history("C")  # two events each
    cache.advance(a.id, ea)
    cache.advance(b.id, eb)
    assert cache.events == 4
    cache.advance(c.id, ec)  # six events: the oldest goes
    assert cache.version_of(a.id) == 0 and cache.version_of(b.id) == 2 and cache.events == 4
    b.add_version({"script": "t"}, "bob")
    cache.advance(b.id, list(b.collect_events()))  # B grows to three: C stays, nothing else fits
    assert cache.version_of(b.id) == 3 and cache.version_of(c.id) == 2 and cache.events == 5
