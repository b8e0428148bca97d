"""`[priorities.<name>]` and `[appointments]` (issue 14): defaults, values, and a problem line
naming the key for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.loader import parse_config
from agent.errors import ConfigError
from tests.unit.test_config_queues import BASE


def test_defaults_and_values() -> None:
    config = parse_config(BASE, source=Path("c.toml"))
    assert config.priorities == ()
    assert (config.appointments.early_s, config.appointments.late_s) == (900, 600)
    data = BASE | {
        "priorities": {
            "vip": {"label_en": "VIP", "rank": 2, "tiers": ["gold"], "ahead_s": 300},
            "mobility": {"label_en": "Reduced mobility", "label_fr": "Mobilité réduite"},
        },
        "appointments": {"early_s": 60, "late_s": 120, "no_show_after_s": 600},
    }
    config = parse_config(data, source=Path("c.toml"))
    assert [p.name for p in config.priorities] == ["mobility", "vip"]  # by rank
    mobility, vip = config.priorities
    assert (mobility.rank, mobility.ahead_s, mobility.label("fr")) == (1, 600, "Mobilité réduite")
    assert (vip.tiers, vip.ahead_s, vip.label("fr")) == (("gold",), 300, "VIP")
    assert config.appointments.no_show_after_s == 600


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ({"priorities": {"VIP": {}}}, "c.toml: priorities.VIP: priority class name must match"),
        ({"priorities": {"vip": {"rank": 0}}}, "c.toml: priorities.vip.rank: must be at least 1"),
        ({"priorities": {"vip": {"ahead_s": -5}}}, "c.toml: priorities.vip.ahead_s: must be at"),
        ({"priorities": {"vip": {"tiers": "gold"}}}, "c.toml: priorities.vip.tiers: must be an"),
        ({"priorities": {"vip": {"colour": "red"}}}, "c.toml: priorities.vip.colour: unknown"),
        (
            {"priorities": {"a": {"tiers": ["gold"]}, "b": {"tiers": ["gold"]}}},
            "c.toml: priorities.b.tiers: tier 'gold' is already mapped to priority class 'a'",
        ),
        ({"appointments": {"late_s": "10"}}, "c.toml: appointments.late_s: must be an integer"),
        (
            {"appointments": {"late_s": 900, "no_show_after_s": 600}},
            "c.toml: appointments.no_show_after_s: must be at least late_s (900)",
        ),
    ],
)
def test_bad_values_are_named(section: dict[str, object], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE | section, source=Path("c.toml"))
    assert any(problem.startswith(line) for problem in caught.value.problems), caught.value.problems
