"""The aggregate cache hands out independent copies."""

from events.definition import ProcessDefinition
from infra.aggregate_cache import AggregateCache


def test_a_command_on_a_cached_copy_does_not_change_the_cache():
    cache = AggregateCache()
    definition = ProcessDefinition.register("A", {"script": "s"}, "alice")
    definition.collect_events()
    cache.put(definition)
    copy = cache.get(definition.id)
    copy.add_version({"script": "t"}, "bob")
    copy.tag("2", "PROD", "bob")
    again = cache.get(definition.id)
    assert again.version == definition.version
    assert list(again.versions) == [1] and again.tags == {}
    assert copy.collect_events() and not again.collect_events()


def test_the_cache_forgets_the_least_recently_used_aggregate_beyond_its_size():
    cache = AggregateCache(size=2)
    aggregates = [ProcessDefinition.register(k, {"script": "s"}, "alice") for k in "ABC"]
    cache.put(aggregates[0])
    cache.put(aggregates[1])
    cache.get(aggregates[0].id)
    cache.put(aggregates[2])
    assert cache.get(aggregates[1].id) is None
    assert cache.get(aggregates[0].id).key == "A"
