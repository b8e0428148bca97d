"""The ESPHome files as ESPHome itself reads them: `esphome config` on each, with the example
secrets. ESPHome is not a dependency of the agent (it is the workstation's flashing tool), so
this runs only where an `esphome` executable is found: `ESPHOME=/path/to/esphome` or on PATH.
`esphome config` validates without compiling, so no toolchain download is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_configs"
ESPHOME_FILES = ("door-node.yaml", "ble-door-scanner.yaml", "store-beacon.yaml")


def esphome_executable() -> str | None:
    return os.environ.get("ESPHOME") or shutil.which("esphome")


pytestmark = pytest.mark.skipif(
    esphome_executable() is None,
    reason="no esphome executable (set ESPHOME=/path/to/esphome or put esphome on PATH; "
    "for example python3 -m venv /tmp/esphome-venv && /tmp/esphome-venv/bin/pip install esphome)",
)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", ESPHOME_FILES)
def test_esphome_accepts_the_config(name: str, tmp_path: Path) -> None:
    esphome = esphome_executable()
    assert esphome is not None
    shutil.copy(FIRMWARE / name, tmp_path / name)
    shutil.copy(FIRMWARE / "secrets.yaml.example", tmp_path / "secrets.yaml")
    result = subprocess.run(
        [esphome, "config", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
        # Anything ESPHome might write under the user's home stays in the test's folder.
        env={**os.environ, "HOME": str(tmp_path)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration is valid!" in output


@pytest.mark.timeout(180)
def test_esphome_rejects_a_broken_door_node(tmp_path: Path) -> None:
    """The same check catches what the agent's own validator catches, so the test is real."""
    esphome = esphome_executable()
    assert esphome is not None
    text = (
        (FIRMWARE / "door-node.yaml")
        .read_text()
        .replace("  discovery: false\n", "  discovery: maybe\n")
    )
    (tmp_path / "door-node.yaml").write_text(text)
    shutil.copy(FIRMWARE / "secrets.yaml.example", tmp_path / "secrets.yaml")
    result = subprocess.run(
        [esphome, "config", "door-node.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "discovery" in result.stdout + result.stderr
