"""Break-beam direction logic with explicit times."""

from __future__ import annotations

from agent.core.beams import BeamPair, BeamSettings


def run(events: list[tuple[float, str, bool]], debounce: float = 0.05) -> list[str]:
    pair = BeamPair(BeamSettings(debounce_s=debounce))
    out: list[str] = []
    for at, beam, broken in events:
        if (r := pair.change(beam, broken, at)) is not None:
            out.append(r)
    if (r := pair.flush(events[-1][0] + 1)) is not None:
        out.append(r)
    return out


def walk(start: float, first: str, second: str) -> list[tuple[float, str, bool]]:
    return [(start, first, True), (start + 0.2, second, True),
            (start + 0.4, first, False), (start + 0.6, second, False)]  # fmt: skip


def test_walking_in_and_out() -> None:
    assert run(walk(0, "a", "b")) == ["in"]
    assert run(walk(0, "b", "a")) == ["out"]
    assert run(walk(0, "a", "b") + walk(2, "b", "a") + walk(4, "a", "b")) == ["in", "out", "in"]


def test_backing_out_counts_nothing() -> None:
    assert run([(0, "a", True), (0.5, "a", False)]) == []


def test_standing_in_the_door_counts_once() -> None:
    events = [(0, "a", True), (0.3, "b", True)]
    events += [(0.3 + i, "b", i % 2 == 0) for i in range(1, 9)]  # shuffling about, b flickers
    events += [(10, "a", False), (10.5, "b", False)]
    assert run(events) == ["in"]


def test_flicker_shorter_than_the_debounce_is_ignored() -> None:
    events = [(0, "a", True), (0.01, "a", False), (1, "b", True), (1.01, "b", False)]
    assert run(events) == []
    noisy_walk = [
        *walk(5, "a", "b")[:2],
        (5.25, "a", False),
        (5.26, "a", True),
        *walk(5, "a", "b")[2:],
    ]
    assert run(noisy_walk) == ["in"]
