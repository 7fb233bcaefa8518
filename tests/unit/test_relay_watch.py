"""Readiness judges a relay running in another process by whether its position moves."""

from services.operations.readiness import RelayWatch


def test_a_relay_is_stuck_only_while_its_position_stays_with_events_waiting():
    watch = RelayWatch()
    assert watch.stuck_for(5, 3) == 0.0  # first sight
    watch.since -= 100  # as if the position had not moved for 100 s
    assert watch.stuck_for(5, 3) >= 100
    assert watch.stuck_for(6, 3) == 0.0  # it moved: catching up is not stuck
    watch.since -= 100
    assert watch.stuck_for(6, 0) == 0.0  # nothing waits: idle is not stuck
    assert watch.stuck_for(6, 2) < 100  # the clock restarted when nothing waited
