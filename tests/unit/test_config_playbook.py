"""`[playbook]` and `[alerts]` (issues 14 and 15): values read, every bad one named by its key,
and the central playbook checked by the same reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config.loader import parse_config
from agent.core.customers import MalformedMessage
from agent.core.playbook import default_playbook
from agent.errors import ConfigError
from agent.sync.playbook_inbound import parse_playbook_message

BASE: dict[str, object] = {
    "store": {"id": "s-1", "name": "Shop"},
    "storage": {"path": "agent.db"},
    "http": {"public_url": "http://127.0.0.1:8080"},
}


def with_rules(*rules: dict[str, object], **playbook: object) -> dict[str, object]:
    return BASE | {"playbook": {"rules": list(rules)} | playbook}


def test_defaults_and_values() -> None:
    config = parse_config(BASE, source=Path("c.toml"))
    assert config.playbook.playbook == default_playbook()
    assert (config.alerts.display_s, config.alerts.earlier_max) == (600, 20)
    data = with_rules(
        {"kind": "birthday", "within_days": 3, "campaign": "b-26", "holdout_percent": 10},
        {"kind": "tier", "id": "vip", "tiers": ["gold"], "text": {"fr": "Client {tier}"}},
        max_shown=4,
    ) | {"alerts": {"display_s": 120}}
    config = parse_config(data, source=Path("c.toml"))
    birthday, vip = config.playbook.playbook.rules
    assert (birthday.id, birthday.within_days, birthday.campaign) == ("birthday", 3, "b-26")
    assert birthday.holdout_percent == 10.0
    assert (vip.id, vip.tiers, vip.text_for("fr"), vip.text_for("en")) == (
        "vip",
        ("gold",),
        "Client {tier}",
        None,
    )
    assert config.playbook.playbook.max_shown == 4 and config.alerts.display_s == 120


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (with_rules({"kind": "sparkle"}), "c.toml: playbook.rules[0].kind: must be one of"),
        (with_rules({}), "c.toml: playbook.rules[0].kind: missing required key"),
        (
            with_rules({"kind": "tier"}, {"kind": "tier"}),
            "c.toml: playbook.rules[1].id: 'tier' is used by an earlier rule",
        ),
        (
            with_rules({"kind": "offer", "holdout_percent": 120}),
            "c.toml: playbook.rules[0].holdout_percent: must be at most 100",
        ),
        (
            with_rules({"kind": "birthday", "within_days": 90}),
            "c.toml: playbook.rules[0].within_days: must be at most 60",
        ),
        (
            with_rules({"kind": "tier", "text": {"de": "x"}}),
            "c.toml: playbook.rules[0].text.de: unknown key",
        ),
        (
            with_rules({"kind": "tier", "campaign": "no spaces"}),
            "c.toml: playbook.rules[0].campaign: must match",
        ),
        (
            with_rules({"kind": "tier", "colour": "red"}),
            "c.toml: playbook.rules[0].colour: unknown key",
        ),
        (BASE | {"playbook": {"rules": "all"}}, "c.toml: playbook.rules: must be an array"),
        (
            BASE | {"playbook": {"holdout_key_file": "missing.key"}},
            "c.toml: playbook.holdout_key_file: file not found",
        ),
        (BASE | {"alerts": {"display_s": 1}}, "c.toml: alerts.display_s: must be at least 10"),
    ],
)
def test_bad_values_are_named(data: dict[str, object], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source=Path("c.toml"))
    assert any(problem.startswith(line) for problem in caught.value.problems), caught.value.problems


def test_the_holdout_key_file_is_read_and_must_be_long_enough(tmp_path: Path) -> None:
    (tmp_path / "good.key").write_bytes(b"0123456789abcdef0123\n")
    (tmp_path / "short.key").write_bytes(b"secret\n")
    config = parse_config(
        BASE | {"playbook": {"holdout_key_file": "good.key"}}, source=tmp_path / "c.toml"
    )
    assert config.playbook.holdout_key == b"0123456789abcdef0123"
    assert "0123" not in repr(config.playbook)  # never printed with the config
    with pytest.raises(ConfigError) as caught:
        parse_config(
            BASE | {"playbook": {"holdout_key_file": "short.key"}}, source=tmp_path / "c.toml"
        )
    assert caught.value.problems == [
        f"{tmp_path / 'c.toml'}: playbook.holdout_key_file: must hold at least 16 bytes, got 6"
    ]


def test_the_central_playbook_is_read_like_the_section() -> None:
    message = {"version": 2, "rules": [{"kind": "offer", "max_offers": 1}]}
    command = parse_playbook_message(json.dumps(message).encode())
    assert command.playbook is not None and command.playbook.version == 2
    assert command.playbook.source == "central" and command.playbook.rules[0].max_offers == 1
    assert parse_playbook_message(b"").playbook is None  # cleared
    for bad in (
        b"[]",
        b'{"rules": []}',
        b'{"version": -1}',
        b'{"version": 1, "rules": [{"kind": "tier", "priority": "high"}]}',
        b'{"version": 1, "surprise": 1}',
        b"[" * 100_000,
    ):
        with pytest.raises(MalformedMessage):
            parse_playbook_message(bad)


def test_the_demo_playbook_is_one_central_would_be_allowed_to_send() -> None:
    from simulators.customers import demo_playbook

    command = parse_playbook_message(json.dumps(demo_playbook(3)).encode())
    assert command.playbook is not None and len(command.playbook.rules) == 9
    assert command.playbook.rules[1].holdout_percent == 10.0
