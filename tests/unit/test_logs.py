"""The JSON log format: one object per line with ts, level, logger, message and the extras."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from agent.logs import JsonFormatter


def test_a_record_becomes_one_json_line_with_its_extra_fields() -> None:
    record = logging.LogRecord(
        "agent.sync.link", logging.WARNING, __file__, 1, "lost %s", ("broker",), None
    )
    record.__dict__.update({"door": "main", "path": Path("/var/lib/x")})
    try:
        int("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    doc = json.loads(line)
    assert doc["level"] == "WARNING" and doc["logger"] == "agent.sync.link"
    assert doc["message"] == "lost broker" and doc["ts"].endswith("Z") and len(doc["ts"]) == 24
    assert doc["door"] == "main" and doc["path"] == "/var/lib/x"
    assert doc["exc"].startswith("Traceback") and "ValueError: invalid literal" in doc["exc"]
    assert len(line.splitlines()) == 1  # a traceback stays inside the one line
    assert "args" not in doc and "msg" not in doc and "exc_info" not in doc


def test_libraries_routine_lines_are_quiet_and_the_agents_are_not() -> None:
    # httpx logs "HTTP Request: POST ... 409 Conflict" at INFO for every answered request
    # (the demo's counter calling an empty queue), uvicorn "Started server process" under
    # uvicorn.error: neither is an operator's business; their warnings still are.
    from agent.logs import QUIET_LIBRARIES, configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    try:
        configure_logging("INFO", "json")
        for name in ("httpx", "uvicorn.error"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
            assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
        assert logging.getLogger("agent.sync.link").isEnabledFor(logging.INFO)
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        configure_logging("DEBUG", "text")
        assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)  # asked for: everything
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
