"""The benchmark suite in quick mode (small sizes, no targets), so it never rots.

The full run is `python -m benchmarks --write` (see benchmarks/RESULTS.md); figures are
not asserted here: timing on a shared CI machine says nothing about the code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_every_benchmark_runs_in_quick_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in BENCHMARKS:
        assert f"[{name}] done in" in result.stdout, f"{name} did not finish"
        # Every benchmark prints at least one figure with a baseline from the same run.
        assert f"[{name}] " in result.stdout.replace(f"[{name}] done in", "")
    assert "baseline" in result.stdout
