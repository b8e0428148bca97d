"""`retail-edge central ...` on bad input: one line naming the problem, no traceback."""

from __future__ import annotations

import subprocess
import sys

from tests.central.support import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "central", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_bad_input_is_one_line_and_a_non_zero_exit(pg: str) -> None:
    result = run(
        "status", "--db", "host=127.0.0.1 port=1 user=postgres dbname=nowhere connect_timeout=2"
    )
    assert result.returncode == 1
    assert (
        result.stderr.startswith("retail-edge: error: database: ")
        and result.stderr.count("\n") == 1
    )
    result = run("ingest", "--broker", "amqp://127.0.0.1", "--db", pg)
    assert (result.returncode, result.stderr) == (
        1,
        "retail-edge: error: --broker must be mqtt://, mqtts://, nats:// or tls:// (NATS), got 'amqp://127.0.0.1'\n",
    )
    result = run("ingest", "--broker", "mqtt://x", "--db", pg, "--batch-max", "0")
    assert (
        result.returncode == 2
        and "--batch-max" in result.stderr
        and "Traceback" not in result.stderr
    )
    result = run("status", "--db", pg)  # an empty central database: no stores, no lines
    assert (result.returncode, result.stdout) == (0, "")
    result = run("status", "--db", pg, "--json")
    assert (result.returncode, result.stdout) == (0, "[]\n")


def test_the_agents_own_commands_do_not_load_the_central_libraries() -> None:
    code = "import sys, agent.cli; agent.cli._parser(); print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'nats')))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"
