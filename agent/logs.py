"""How the agent logs: plain lines for a person, or one JSON object per line for log shipping.

Both go to standard error, which systemd sends to the journal. The libraries the agent runs
on log routine things at INFO under their own names (uvicorn's "Started server process" under
`uvicorn.error`, httpx's "HTTP Request: ... 409 Conflict" for every answered request, the
demo's simulated "nobody waits" calls included); the agent says what matters under its own
logger names instead, so those libraries speak only from WARNING up.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Routine at INFO; their warnings and errors still show.
QUIET_LIBRARIES = ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", ...extra fields, "exc"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        # default=str: an extra field that is not JSON (a Path, an enum) is still shipped.
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    # At INFO the libraries keep to warnings; asked for DEBUG, everyone speaks.
    quiet = logging.WARNING if root.level == logging.INFO else logging.NOTSET
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(quiet)
