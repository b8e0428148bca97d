"""Presence from noisy sightings, driven by explicit times (a fake clock)."""

from __future__ import annotations

import random

from agent.core.presence import Arrived, Left, Presence, PresenceSettings, Recognised

S = PresenceSettings(door_rssi_dbm=-75, arrive_after_s=2, leave_after_s=60, alert_cooldown_s=600)


def walk_in(
    p: Presence,
    customer: str,
    start: float,
    seconds: float,
    rssi: int = -60,
    reader: str = "r1",
    step: float = 0.5,
) -> list[object]:
    changes: list[object] = []
    t = start
    while t <= start + seconds:
        changes += p.sighting(customer, reader, rssi, t)
        t += step
    return changes


def test_arrival_needs_the_signal_above_the_threshold_for_a_while() -> None:
    p = Presence(S)
    assert p.sighting("c1", "r1", -60, 0.0) == []
    assert p.sighting("c1", "r1", -60, 1.0) == []
    (arrived,) = p.sighting("c1", "r1", -60, 2.0)
    assert isinstance(arrived, Arrived) and arrived.via == "ble" and arrived.alert


def test_a_passer_by_below_the_threshold_never_arrives() -> None:
    p = Presence(S)
    assert walk_in(p, "c1", 0, 30, rssi=-85) == []


def test_one_noisy_spike_is_smoothed_away() -> None:
    p = Presence(S)
    changes = []
    for i in range(20):
        rssi = -50 if i == 10 else -88
        changes += p.sighting("c1", "r1", rssi, i * 0.5)
    assert changes == []


def test_several_readers_at_one_door_make_one_arrival() -> None:
    p = Presence(S)
    changes = []
    for i in range(10):
        for reader in ("bleak:hci0", "proxy:left", "proxy:right"):
            changes += p.sighting("c1", reader, -65, i * 0.5)
    assert len([c for c in changes if isinstance(c, Arrived)]) == 1


def test_departure_after_absence_with_dwell_time() -> None:
    p = Presence(S)
    walk_in(p, "c1", 0, 10)
    # Deeper in the store the signal is weak: still present (hysteresis).
    walk_in(p, "c1", 10.5, 100, rssi=-95)
    assert p.tick(150) == []
    (left,) = p.tick(110.5 + 60)
    assert isinstance(left, Left) and left.dwell_s == 110.5 - 2.0


def test_walking_back_past_the_door_does_not_re_alert_within_the_cooldown() -> None:
    p = Presence(S)
    first = [c for c in walk_in(p, "c1", 0, 5) if isinstance(c, Arrived)]
    p.tick(200)
    second = [c for c in walk_in(p, "c1", 300, 5) if isinstance(c, Arrived)]
    assert first[0].alert and not second[0].alert
    assert first[0].visit_id != second[0].visit_id
    p.tick(1000)
    third = [c for c in walk_in(p, "c1", 1300, 5) if isinstance(c, Arrived)]
    assert third[0].alert


def test_a_tap_is_an_immediate_arrival_then_a_recognition() -> None:
    p = Presence(S)
    (arrived,) = p.identified("c1", "nfc", 10.0)
    assert isinstance(arrived, Arrived) and arrived.via == "nfc"
    (again,) = p.identified("c1", "nfc", 20.0)
    assert isinstance(again, Recognised) and again.visit_id == arrived.visit_id
    assert p.tick(20 + S.untracked_visit_s - 1) == []
    (left,) = p.tick(20 + S.untracked_visit_s)
    assert isinstance(left, Left)


def test_forget_drops_everything() -> None:
    p = Presence(S)
    walk_in(p, "c1", 0, 5)
    assert p.forget("c1") is not None
    assert p.present() == [] and len(p) == 0
    assert p.tick(1000) == []


def test_idle_state_is_forgotten_so_memory_stays_bounded() -> None:
    p = Presence(S)
    for n in range(500):
        p.sighting(f"c{n}", "r1", -90, 0.0)  # customers heard far away
    p.tick(S.reader_stale_s + 1)
    assert len(p) == 0


def test_random_walks_never_leave_a_visit_open_forever() -> None:
    rng = random.Random(5)
    p = Presence(S)
    opened: set[str] = set()
    t = 0.0
    for _ in range(3000):
        t += rng.uniform(0.1, 2.0)
        customer = f"c{rng.randrange(20)}"
        for change in p.sighting(customer, rng.choice(["a", "b"]), rng.randint(-100, -40), t):
            if isinstance(change, Arrived):
                opened.add(change.visit_id)
        for change in p.tick(t):
            opened.discard(change.visit_id)  # type: ignore[union-attr]
    for change in p.tick(t + S.leave_after_s + 1):
        opened.discard(change.visit_id)  # type: ignore[union-attr]
    assert opened == set()
