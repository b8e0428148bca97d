"""The deploy path: the systemd unit, the dependency bounds and lock files, apt's lock wait.

The whole path on a fresh Debian (debootstrap, ./dev demo, install.sh, the unit's command line)
is deploy/prove-fresh-debian.sh: it needs root, the Debian mirror and ten minutes, so it is a
script, run by hand, with its results in docs/install.md.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "retail-edge.service"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SYSTEM_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None
)


def unit_values(key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", UNIT.read_text(), flags=re.MULTILINE)


@pytest.fixture
def unit_root(tmp_path: Path) -> Path:
    """A root holding what `systemd-analyze verify --root` looks at: the unit, systemd's own
    units (sysinit.target, ...) and a stub at the ExecStart path, which must be executable."""
    if shutil.which("systemd-analyze") is None or SYSTEM_UNITS is None:
        pytest.skip("systemd-analyze is not installed (./dev test installs Debian's systemd)")
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/retail-edge.service")
    executable = Path(unit_values("ExecStart")[0].split()[0])
    stub = root / executable.relative_to("/")
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    return root


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_systemd_analyze_verify_passes_on_the_unit(unit_root: Path) -> None:
    result = analyze("verify", "--man=no", f"--root={unit_root}", "retail-edge.service")
    # Unknown or misspelt directives are only warnings: any output at all is a failure here.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_catches_a_slip_in_the_unit(unit_root: Path) -> None:
    unit = unit_root / "etc/systemd/system/retail-edge.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=", "ProtectSytem="))
    result = analyze("verify", "--man=no", f"--root={unit_root}", "retail-edge.service")
    assert "ProtectSytem" in result.stderr


def test_the_unit_stays_hardened(unit_root: Path) -> None:
    result = analyze("security", "--offline=true", f"--root={unit_root}", "retail-edge.service")
    level = re.search(r"Overall exposure level for retail-edge.service: ([0-9.]+)", result.stdout)
    assert level is not None, result.stdout + result.stderr
    # 2.1 when written; systemd rates below 4 "OK". A dropped protection shows here.
    assert float(level.group(1)) <= 2.5, result.stdout


def test_the_unit_has_what_the_store_device_needs() -> None:
    assert unit_values("User") == ["retail-edge"]
    assert unit_values("Type") == ["notify"]
    assert unit_values("StateDirectory") == ["retail-edge"]
    assert unit_values("ConfigurationDirectory") == ["retail-edge"]
    assert set(unit_values("SupplementaryGroups")[0].split()) >= {"bluetooth", "video", "gpio"}
    # BLE goes through BlueZ on the system D-Bus: a unix socket.
    assert "AF_UNIX" in unit_values("RestrictAddressFamilies")[0].split()
    assert int(unit_values("WatchdogSec")[0]) > 0
    # The example config writes its database where the unit lets the agent write.
    example = tomllib.loads((ROOT / "deploy" / "agent.example.toml").read_text())
    assert example["storage"]["path"].startswith("/var/lib/retail-edge/")


# -- dependencies -------------------------------------------------------------------------


def runtime_requirements() -> list[Requirement]:
    return [Requirement(line) for line in PYPROJECT["project"]["dependencies"]]


def store_requirements() -> list[Requirement]:
    extras = PYPROJECT["project"]["optional-dependencies"]
    return runtime_requirements() + [
        Requirement(line) for name in ("demo", "pyzbar", "nfc", "gpio") for line in extras[name]
    ]


def test_every_runtime_dependency_has_an_upper_bound() -> None:
    unbounded = [
        str(r) for r in runtime_requirements() if not any(s.operator == "<" for s in r.specifier)
    ]
    assert unbounded == []


def test_every_extra_has_upper_bounds_too() -> None:
    # The test tools as well: a new major of pytest or mypy must not arrive unannounced.
    extras = PYPROJECT["project"]["optional-dependencies"]
    unbounded = [
        line
        for lines in extras.values()
        for line in lines
        if not line.startswith("retail-edge[")
        and not any(s.operator == "<" for s in Requirement(line).specifier)
    ]
    assert unbounded == []


TEST_TOOLS = frozenset(
    {"pytest", "pytest-asyncio", "pytest-timeout", "hypothesis", "schemathesis", "ruff", "mypy",
     "import-linter", "playwright", "pillow", "atheris"}
)  # fmt: skip


def test_the_store_lock_installs_no_test_tool() -> None:
    # What deploy/install.sh installs on a store device: runtime.lock (the runtime package and
    # its store extras), none of the tools the tests need, which dev.lock does hold.
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    assert set(dev) >= TEST_TOOLS, TEST_TOOLS - set(dev)
    assert set(runtime).isdisjoint(TEST_TOOLS), set(runtime) & TEST_TOOLS


def test_optional_decoders_and_test_tools_are_not_runtime_dependencies() -> None:
    # httpx is one: the Web Push sender (agent/adapters/webpush.py) sends with it.
    names = {r.name for r in runtime_requirements()}
    assert names.isdisjoint({"pyzbar", "pytest", "mypy", "playwright", "hypothesis"})


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, flags=re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


def test_the_lock_pins_every_dependency_within_its_bounds() -> None:
    # Fails when pyproject.toml changed and requirements/lock.sh was not run.
    runtime = pins("runtime.lock")
    problems = []
    for requirement in store_requirements():
        version = runtime.get(re.sub(r"[-_.]+", "-", requirement.name).lower())
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement} locked at {version}")
    assert problems == [], "run requirements/lock.sh"


def test_the_tests_run_the_versions_the_stores_run() -> None:
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    differ = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert differ == {}


def test_the_agent_imports_without_the_optional_and_test_extras() -> None:
    """What a store venv holds: the daemon, the CLI, the demo and the decoders import without
    pyzbar or any test tool (a finder refuses them, as if they were not installed)."""
    script = """
import importlib.abc, sys
BLOCKED = {"pyzbar", "pytest", "hypothesis", "playwright", "schemathesis"}
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Absent())
import numpy
import agent.cli, agent.bootstrap, agent.daemon, agent.demo, agent.systemd_notify
import agent.adapters.qr_decoders as decoders
agent.cli._parser()
decoders.zxing(numpy.zeros((8, 8), dtype=numpy.uint8))
try:
    decoders.pyzbar(numpy.zeros((8, 8), dtype=numpy.uint8))
except ModuleNotFoundError as exc:
    print("the pyzbar decoder needs", exc.name)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # The finder works: the decoder that does need pyzbar is refused it.
    assert result.stdout.strip() == "the pyzbar decoder needs pyzbar"


# -- waiting for apt's lock (deploy/apt.sh, used by ./dev and deploy/install.sh) ----------


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    path = tmp_path / "lock-frontend"
    path.touch()
    return path


def wait_for_locks(lock: Path, timeout_s: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f". {ROOT / 'deploy' / 'apt.sh'} && apt_wait_for_locks"],
        env={
            **os.environ,
            "APT_LOCK_FILES": f"{lock} /nonexistent/lock",
            "APT_LOCK_TIMEOUT": str(timeout_s),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_free_lock_is_not_waited_for(lock_file: Path) -> None:
    result = wait_for_locks(lock_file, 5)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_held_lock_is_waited_for_once_with_a_message(lock_file: Path) -> None:
    with lock_file.open("w") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)  # what apt and dpkg take
        release = threading.Timer(2.0, fcntl.lockf, (held, fcntl.LOCK_UN))
        release.start()
        try:
            result = wait_for_locks(lock_file, 30)
        finally:
            release.join()
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"dev: waiting for {lock_file}, held by process {os.getpid()} (")
    assert lines[0].endswith("(another apt or dpkg; up to 30 s)")
    assert re.fullmatch(r"dev: the lock is free after [0-9]+ s", lines[1])


def test_the_wait_is_bounded(lock_file: Path) -> None:
    with lock_file.open("w") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)
        result = wait_for_locks(lock_file, 2)
    assert result.returncode == 1
    assert result.stderr.count("waiting for") == 1
    assert f"gave up after 2 s: {lock_file} is still held" in result.stderr
