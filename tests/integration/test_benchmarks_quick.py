"""The benchmark suite in quick mode (small sizes, no targets), so it never rots.

The full run is `python -m benchmarks --write` (see benchmarks/RESULTS.md); figures are
not asserted here: timing on a shared CI machine says nothing about the code.

Every benchmark runs, in two `python -m benchmarks --quick --only ...` processes side by side
(the two longest, about half the total, in one; every other one, new ones included, in the
other): the suite is otherwise one process on one core, and these two halves took ~70 s each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]
LONGEST = ("fleet", "central_ingest")


@pytest.mark.timeout(300)
def test_every_benchmark_runs_in_quick_mode() -> None:
    assert set(LONGEST) <= set(BENCHMARKS)
    halves = [list(LONGEST), [name for name in BENCHMARKS if name not in LONGEST]]
    assert sorted(halves[0] + halves[1]) == sorted(BENCHMARKS)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks", "--quick", "--only", *names],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for names in halves
    ]
    try:
        outputs = [process.communicate(timeout=280) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    stdout = "".join(out for out, _ in outputs)
    for name in BENCHMARKS:
        assert f"[{name}] done in" in stdout, f"{name} did not finish"
        # Every benchmark prints at least one figure with a baseline from the same run.
        assert f"[{name}] " in stdout.replace(f"[{name}] done in", "")
    assert "baseline" in stdout
