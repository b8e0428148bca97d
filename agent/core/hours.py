"""Opening hours: is the store open at a local time?"""

from __future__ import annotations

from datetime import datetime

Days = tuple[tuple[int, int] | None, ...]


def is_open(days: Days | None, local: datetime) -> bool:
    """``days`` holds per weekday (Monday first) the open interval in minutes since local
    midnight, or None when closed; ``days`` None means always open."""
    if days is None:
        return True
    today = days[local.weekday()]
    if today is None:
        return False
    minute = local.hour * 60 + local.minute
    return today[0] <= minute < today[1]
