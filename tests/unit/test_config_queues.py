"""`[queues.<id>]` keys of contract 8.7: counters, walkout_grace_s, entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.loader import parse_config
from agent.errors import ConfigError

BASE: dict[str, object] = {
    "store": {"id": "s-1", "name": "Shop"},
    "storage": {"path": "agent.db"},
    "http": {"public_url": "http://127.0.0.1:8080"},
}


def queues(**advice: object) -> dict[str, object]:
    return BASE | {"queues": {"advice": {"label": "Advice"} | advice}}


def test_defaults_and_values() -> None:
    (q,) = parse_config(queues(), source=Path("c.toml")).queues
    assert (q.counters, q.walkout_grace_s, q.entry) == ((), 120, False)
    data = queues(counters=["1", "Desk B"], walkout_grace_s=30, entry=True)
    (q,) = parse_config(data, source=Path("c.toml")).queues
    assert (q.counters, q.walkout_grace_s, q.entry) == (("1", "Desk B"), 30, True)


@pytest.mark.parametrize(
    ("keys", "line"),
    [
        ({"counters": "1"}, "c.toml: queues.advice.counters: must be an array of counter names"),
        ({"counters": ["1", "1"]}, "c.toml: queues.advice.counters: entry 2: '1' is listed twice"),
        ({"counters": [2]}, "c.toml: queues.advice.counters: entry 1: must be a string matching"),
        ({"counters": ["x" * 17]}, "c.toml: queues.advice.counters: entry 1: must be a string"),
        ({"walkout_grace_s": -1}, "c.toml: queues.advice.walkout_grace_s: must be at least 0"),
        ({"entry": 1}, "c.toml: queues.advice.entry: must be true or false"),
    ],
)
def test_bad_values_are_named(keys: dict[str, object], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(queues(**keys), source=Path("c.toml"))
    assert any(problem.startswith(line) for problem in caught.value.problems), caught.value.problems
