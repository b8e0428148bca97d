"""The import rules hold on this tree and fail on a slip.

The layers contract in pyproject.toml is checked by running the real `lint-imports` console
script, the failing cases on a copy of the packages with one module added so the real tree is
never touched. Ruff's banned imports (mocks everywhere, I/O libraries in agent/core) are checked
by linting a snippet as if it lived at a given path (`--stdin-filename`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
RUFF = Path(sys.executable).parent / "ruff"
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on ``tree`` (which holds agent/, simulators/ and pyproject.toml), importing
    only from that tree so a module added to a copy is what the graph sees."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for package in ("agent", "simulators", "central"):
        shutil.copytree(ROOT / package, tree / package, ignore=COPY_IGNORE)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_contract_is_kept_on_this_tree() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_core_module_importing_the_web_layer_breaks_the_contract(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "agent" / "core" / "back_import.py").write_text(
        '"""A layering slip: the pure core reaching up to HTTP."""\n\nimport agent.web.app\n',
        encoding="utf-8",
    )
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "One-way flow" in result.stdout and "BROKEN" in result.stdout
    assert "agent.core.back_import -> agent.web.app" in result.stdout


def test_the_sync_layer_importing_a_service_breaks_the_contract(tmp_path: Path) -> None:
    # Inbound MQTT turns bytes into commands in agent.sync; a handler calling a service from
    # there would make sync depend on the layer above it.
    tree = copy_tree(tmp_path)
    (tree / "agent" / "sync" / "back_import.py").write_text(
        "import agent.services.hub\n", encoding="utf-8"
    )
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "agent.sync.back_import -> agent.services.hub" in result.stdout


def test_a_simulator_reaching_into_the_store_breaks_its_contract(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "simulators" / "back_import.py").write_text(
        "import agent.store.database\n", encoding="utf-8"
    )
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Simulators stand where adapters stand" in result.stdout
    assert "simulators.back_import -> agent.store.database" in result.stdout


def test_the_central_ingest_reaching_into_the_agents_services_breaks_its_contract(
    tmp_path: Path,
) -> None:
    tree = copy_tree(tmp_path)
    (tree / "central" / "back_import.py").write_text(
        "import agent.services.customers\n", encoding="utf-8"
    )
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "The central ingest stands beside the agent" in result.stdout
    assert "central.back_import -> agent.services.customers" in result.stdout


def test_the_agent_loading_the_central_ingest_breaks_its_contract(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "agent" / "services" / "back_import.py").write_text(
        "import central.ingest\n", encoding="utf-8"
    )
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "The agent never loads the central ingest" in result.stdout


def banned_imports(path: str, source: str) -> list[str]:
    """The TID251 findings ruff reports for ``source`` placed at ``path`` in this project."""
    result = subprocess.run(
        [str(RUFF), "check", "--select", "TID251", "--output-format", "concise", "--no-cache",
         "--stdin-filename", path, "-"],
        cwd=ROOT, input=source, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return [line for line in result.stdout.splitlines() if "TID251" in line]


MOCKS = "from unittest.mock import Mock\nimport mock\nimport pytest_mock\n"


@pytest.mark.parametrize(
    "path",
    ["tests/unit/probe.py", "tests/integration/probe.py", "benchmarks/probe.py",
     "simulators/probe.py", "agent/services/probe.py", "agent/core/probe.py"],
)  # fmt: skip
def test_mocks_are_banned_everywhere(path: str) -> None:
    assert len(banned_imports(path, MOCKS)) == 3


def test_io_libraries_are_banned_in_the_core_only() -> None:
    io = "import sqlite3\nimport paho.mqtt.client\nfrom fastapi import FastAPI\n"
    assert len(banned_imports("agent/core/probe.py", io)) == 3
    assert banned_imports("agent/store/probe.py", io) == []
