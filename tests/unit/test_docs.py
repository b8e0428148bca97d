"""Docs are part of the product: every config key and CLI command must be documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from agent.cli import _parser
from agent.config.loader import DEVICE_KEYS, WEEKDAYS

ROOT = Path(__file__).resolve().parents[2]
LOADER = ROOT / "agent" / "config" / "loader.py"
TABLE_LOADERS = (
    LOADER,
    ROOT / "agent" / "config" / "push.py",
    ROOT / "agent" / "config" / "printer.py",
    ROOT / "agent" / "config" / "queues.py",
    ROOT / "agent" / "config" / "home_assistant.py",
    ROOT / "agent" / "config" / "playbook.py",
)


def config_keys() -> set[str]:
    """Every key name the loader reads (t.string("x"), t.integer("x"), ...)."""
    source = "\n".join(path.read_text() for path in TABLE_LOADERS)
    readers = r"(?:string|optional_string|choice|integer|optional_integer|number|boolean|file_path|table|raw)"
    keys = set(re.findall(rf"\.{readers}\(\s*\"([a-z_]+)\"", source))
    keys |= {
        key for adapters in DEVICE_KEYS.values() for names in adapters.values() for key in names
    }
    keys |= set(WEEKDAYS) | {"kind", "adapter"}
    return keys


def test_the_key_scan_finds_the_contract_keys() -> None:
    keys = config_keys()
    for key in (
        "id",
        "timezone",
        "public_url",
        "topic_prefix",
        "window_token",
        "door_rssi_dbm",
        "pass_public_key",
        "capacity",
        "in_topic",
        "password_file",
        "client_cert",
    ):
        assert key in keys


def test_every_config_key_is_in_the_configuration_reference() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    forms = ("`{}`", "[{}]", "[[{}]]", "[{}.")
    missing = sorted(key for key in config_keys() if not any(f.format(key) in text for f in forms))
    assert missing == [], f"document these keys in docs/configuration.md: {missing}"


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, sub in commands.choices.items():
        if f"`{name}`" not in text and f"retail-edge {name}" not in text:
            missing.append(name)
        for action in sub._actions:
            missing += [
                f"{name} {o}" for o in action.option_strings if o.startswith("--") and o not in text
            ]
    assert missing == [], f"document in docs/cli.md: {missing}"
