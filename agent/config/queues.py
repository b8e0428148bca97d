"""`[queues.<id>]`: one table per virtual queue (contract §2, 8.6 and 8.7)."""

from __future__ import annotations

import re

from agent.config.model import QueueConfig
from agent.config.reader import Table, describe_kind

QUEUE_ID_PATTERN = r"[a-z0-9-]{1,32}"
COUNTER_PATTERN = r"[A-Za-z0-9 ._-]{1,16}"  # short: a tablet and the board show it as is


def parse_queues(root: Table) -> tuple[QueueConfig, ...]:
    t = root.table("queues")
    if t is None:
        return ()
    queues = []
    for queue_id in t.names():  # the table's keys are the queue ids
        q = t.table(queue_id)
        if q is None:
            continue
        if not re.fullmatch(QUEUE_ID_PATTERN, queue_id):
            t.bad(queue_id, f"queue id must match {QUEUE_ID_PATTERN}")
        queues.append(
            QueueConfig(
                id=queue_id,
                label=q.string("label", queue_id),
                window_token=q.choice("window_token", ("rotating", "static"), "rotating"),
                max_waiting=q.integer("max_waiting", 200, minimum=1, maximum=10_000),
                default_service_s=q.integer("default_service_s", 300, minimum=10, maximum=7200),
                servers=q.integer("servers", 1, minimum=1, maximum=100),
                grace_s=q.integer("grace_s", 180, minimum=10, maximum=3600),
                auto_no_show_s=q.integer("auto_no_show_s", 600, minimum=0, maximum=86400),
                snooze_places=q.integer("snooze_places", 3, minimum=1, maximum=50),
                notify_position=q.integer("notify_position", 2, minimum=0, maximum=1000),
                notify_eta_s=q.optional_integer("notify_eta_s", minimum=0, maximum=86400),
                counters=_counters(q),
                walkout_grace_s=q.integer("walkout_grace_s", 120, minimum=0, maximum=86400),
                entry=q.boolean("entry", default=False),
            )
        )
        q.finish()
    return tuple(queues)


def _counters(q: Table) -> tuple[str, ...]:
    if not q.has("counters"):
        return ()
    raw = q.raw("counters")
    if not isinstance(raw, list):
        q.bad("counters", f"must be an array of counter names, got {describe_kind(raw)}")
        return ()
    names: list[str] = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, str) or not re.fullmatch(COUNTER_PATTERN, entry):
            shown = describe_kind(entry)
            q.bad(
                "counters",
                f"entry {n + 1}: must be a string matching {COUNTER_PATTERN}, got {shown}",
            )
        elif entry in names:
            q.bad("counters", f"entry {n + 1}: {entry!r} is listed twice")
        else:
            names.append(entry)
    return tuple(names)
