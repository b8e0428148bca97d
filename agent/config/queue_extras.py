"""`[priorities.<name>]` and `[appointments]`: who goes ahead in the virtual queues, and how
the day's booked appointments join them (issue 14; extensions to contract §2, see
docs/queue.md for the ordering rules these numbers feed)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.config.reader import Table, describe_kind

PRIORITY_NAME_PATTERN = r"[a-z0-9-]{1,32}"
TIER_PATTERN = r"[A-Za-z0-9_-]{1,32}"


@dataclass(frozen=True, slots=True)
class PriorityConfig:
    """One priority class. A ticket in it is ordered as if it had joined ``ahead_s`` earlier:
    bounded, so a later stream of priority tickets never holds anyone back for ever."""

    name: str
    label_fr: str
    label_en: str
    rank: int = 1  # 1 first: the tablet lists classes by rank; a tier picks the best rank
    ahead_s: int = 600
    # The customer record's `profile.tier` values that put a ticket in this class at join
    # (only for a customer who consented to `staff_profile`: the tablet shows the class).
    tiers: tuple[str, ...] = ()

    def label(self, locale: str) -> str:
        return self.label_fr if locale == "fr" else self.label_en


@dataclass(frozen=True, slots=True)
class AppointmentsConfig:
    """How an appointment from the central service's day list joins its queue."""

    # A check-in is accepted from this long before the booked time ...
    early_s: int = 900
    # ... and keeps the booked place until this long after it; later, the customer is
    # placed as a walk-in who joined at the check-in (docs/queue.md).
    late_s: int = 600
    # Not checked in this long after the booked time: the appointment is a no-show.
    no_show_after_s: int = 1800
    # Checked in on time, it is ordered as if it had joined this long before its booked
    # time: ahead of walk-ins who joined less than this before it (a bounded head start).
    ahead_s: int = 1800


def parse_priorities(root: Table) -> tuple[PriorityConfig, ...]:
    t = root.table("priorities")
    if t is None:
        return ()
    classes: list[PriorityConfig] = []
    owner: dict[str, str] = {}  # tier -> class that claims it
    for name in t.names():
        p = t.table(name)
        if p is None:
            continue
        if not re.fullmatch(PRIORITY_NAME_PATTERN, name):
            t.bad(name, f"priority class name must match {PRIORITY_NAME_PATTERN}")
        tiers = _tiers(p)
        for tier in tiers:
            if tier in owner:
                p.bad("tiers", f"tier {tier!r} is already mapped to priority class {owner[tier]!r}")
            owner.setdefault(tier, name)
        label_en = p.string("label_en", name)
        classes.append(
            PriorityConfig(
                name=name,
                label_fr=p.string("label_fr", label_en),
                label_en=label_en,
                rank=p.integer("rank", 1, minimum=1, maximum=100),
                ahead_s=p.integer("ahead_s", 600, minimum=0, maximum=4 * 3600),
                tiers=tiers,
            )
        )
        p.finish()
    return tuple(sorted(classes, key=lambda c: (c.rank, c.name)))


def _tiers(p: Table) -> tuple[str, ...]:
    if not p.has("tiers"):
        return ()
    raw = p.raw("tiers")
    if not isinstance(raw, list):
        p.bad("tiers", f"must be an array of tier names, got {describe_kind(raw)}")
        return ()
    tiers: list[str] = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, str) or not re.fullmatch(TIER_PATTERN, entry):
            p.bad("tiers", f"entry {n + 1}: must be a string matching {TIER_PATTERN}")
        elif entry not in tiers:
            tiers.append(entry)
    return tuple(tiers)


def parse_appointments(root: Table) -> AppointmentsConfig:
    t = root.table("appointments")
    if t is None:
        return AppointmentsConfig()
    early = t.integer("early_s", 900, minimum=0, maximum=4 * 3600)
    late = t.integer("late_s", 600, minimum=0, maximum=4 * 3600)
    no_show = t.integer("no_show_after_s", 1800, minimum=60, maximum=12 * 3600)
    if no_show < late:
        t.bad("no_show_after_s", f"must be at least late_s ({late}), got {no_show}")
    ahead = t.integer("ahead_s", 1800, minimum=0, maximum=4 * 3600)
    t.finish()
    return AppointmentsConfig(
        early_s=early, late_s=late, no_show_after_s=max(no_show, late), ahead_s=ahead
    )
