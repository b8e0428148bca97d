"""The playbook: which suggestions an arrival alert makes, in what order, worded how, and which
customers a campaign's holdout group keeps them from (issue 15; docs/suggestions.md).

A playbook is plain data. The config's `[playbook]` section builds one at start
(`agent.config.playbook`), the central service may replace it with a retained message, and
`agent.core.suggestions` applies it. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The suggestion kinds of contract 8.8, in the order the default playbook ranks them.
KINDS = (
    "ticket",
    "birthday",
    "first_visit",
    "offer",
    "basket",
    "tier",
    "segment",
    "frequency",
    "note",
)
Kind = Literal[
    "ticket", "birthday", "first_visit", "offer", "basket", "tier", "segment", "frequency", "note"
]
RULE_ID_PATTERN = r"[a-z0-9_.-]{1,48}"
CAMPAIGN_PATTERN = r"[A-Za-z0-9_.:-]{1,64}"
MAX_RULES = 200
# Longest override sentence a rule may carry (a tablet card line, not a letter).
MAX_TEXT_CHARS = 240


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the playbook. The thresholds apply to the rule's own kind only."""

    id: str
    kind: Kind
    # Lower first: the card lists what matters most now at the top.
    priority: int = 100
    enabled: bool = True
    # A campaign measured against a holdout group: `holdout_percent` of its customers (by a
    # keyed hash of customer and campaign, the same in every store) are not shown it.
    campaign: str | None = None
    holdout_percent: float = 0.0
    # The tablet words a suggestion by `wording` (a key of the pages' words; "" = the kind's
    # own), unless `text` holds a sentence for the tablet's language.
    wording: str = ""
    text: tuple[tuple[str, str], ...] = ()
    # Who should act: a queue (shown as its label) and a staff role, both free to leave out.
    queue: str | None = None
    role: str | None = None
    # birthday: within this many days before or after, in the store's time zone.
    within_days: int = 7
    # tier / segment: only these tiers or segment codes (empty: any).
    tiers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    # frequency: "3rd visit this month" from this many visits here in 30 days, "first visit
    # in 4 months" when the last one here was at least `absent_days` ago.
    min_visits_30d: int = 3
    absent_days: int = 90
    # offer: at most this many valid offers, soonest-expiring first.
    max_offers: int = 3
    # first_visit: the welcome offer is the valid offer whose id starts with this; "new to the
    # chain" means `first_seen_at` at most `new_within_days` ago.
    welcome_offer_prefix: str = "welcome"
    new_within_days: int = 1
    # basket: at most this many items listed.
    max_items: int = 6

    def text_for(self, language: str) -> str | None:
        return dict(self.text).get(language)


PlaybookSource = Literal["default", "config", "central"]


@dataclass(frozen=True, slots=True)
class Playbook:
    rules: tuple[Rule, ...]
    enabled: bool = True
    max_shown: int = 8  # suggestions on one card at most (the holdout's withheld ones aside)
    source: PlaybookSource = "default"
    version: int = 0  # the central playbook's version; a retained copy not newer is ignored


def default_playbook() -> Playbook:
    """One rule per kind, default thresholds, no campaign: what a store gets with no
    `[rules]` of its own."""
    return Playbook(
        rules=tuple(
            Rule(id=kind, kind=kind, priority=(index + 1) * 10)  # type: ignore[arg-type]
            for index, kind in enumerate(KINDS)
        )
    )


@dataclass(frozen=True, slots=True)
class ApplyPlaybook:
    """Command (from the retained `{p}/chain/playbook` topic): use this playbook instead of
    the config's, or go back to the config's (`playbook` None: the topic was cleared)."""

    playbook: Playbook | None
    # The message as received (JSON text), kept so a restart starts from it.
    document: str = ""
