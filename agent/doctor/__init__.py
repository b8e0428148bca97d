"""`retail-edge doctor -c FILE`: what a store device needs before it goes live, one line each.

Each check returns a :class:`Check` (`ok`, `warn`, `FAIL` or `skip`, what was found, and for a
failure the fix). The command exits non-zero when any check failed; a warning (something the
agent survives, such as a device whose adapter is simulated) does not fail it.
"""

from __future__ import annotations

from agent.doctor.report import Check, Outcome, run_doctor

__all__ = ["Check", "Outcome", "run_doctor"]
