"""What staff should do for the customer who just arrived: the playbook's rules applied to the
consenting customer's profile and local history (contract 8.8; docs/suggestions.md).

`suggest` is pure and deterministic: the same record, visits, clock and key give the same
suggestions, and a campaign's holdout group (a keyed hash of customer id and campaign, so it
is the same customer set in every store holding the key) is withheld, not shown, so the
central side can compare outcomes between the two groups.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from agent.core.clock import rfc3339
from agent.core.events import JsonValue
from agent.core.playbook import Playbook, Rule
from agent.core.profile_facts import Offer, ProfileFacts

_HASH_SPACE = float(2**64)


@dataclass(frozen=True, slots=True)
class LiveTicket:
    """The customer's ticket in a queue, if they hold one (joined with their pass)."""

    queue: str
    queue_label: str
    number: int
    state: str  # "waiting" | "called"


@dataclass(frozen=True, slots=True)
class ArrivalContext:
    now: datetime  # aware
    zone: tzinfo  # the store's time zone (birthdays are local dates)
    earlier_visits: tuple[datetime, ...] = ()  # this store, before this visit, any order
    ticket: LiveTicket | None = None
    # What staff recorded here on earlier visits (not yet in central's record).
    staff_notes: tuple[str, ...] = ()
    staff_preferences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: str
    rule: str
    priority: int
    wording: str
    fields: dict[str, JsonValue] = field(default_factory=dict)
    campaign: str | None = None
    text: tuple[tuple[str, str], ...] = ()
    queue: str | None = None
    role: str | None = None
    holdout_percent: float = 0.0  # the rule's; not part of what the tablet is sent

    @property
    def offer_id(self) -> str | None:
        value = self.fields.get("offer_id")
        return value if isinstance(value, str) else None

    def as_json(self) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = {"kind": self.kind, "rule": self.rule}
        data |= self.fields
        data["wording"] = self.wording
        if self.text:
            data["text"] = dict(self.text)
        for key, value in (
            ("campaign", self.campaign),
            ("queue", self.queue),
            ("role", self.role),
        ):
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True, slots=True)
class Suggestions:
    shown: tuple[Suggestion, ...] = ()
    withheld: tuple[Suggestion, ...] = ()  # the holdout group's: recorded, never shown

    @property
    def shown_kinds(self) -> list[str]:
        return _unique(s.kind for s in self.shown)

    @property
    def withheld_kinds(self) -> list[str]:
        return _unique(s.kind for s in self.withheld)


def in_holdout(key: bytes, customer_id: str, campaign: str, percent: float) -> bool:
    """The customer is in the campaign's holdout group: HMAC-SHA256 of campaign and customer
    under the chain's key, read as a number in [0, 1), below `percent` / 100. Deterministic,
    independent between campaigns, and unguessable without the key."""
    if percent <= 0:
        return False
    message = campaign.encode() + b"\x00" + customer_id.encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SPACE < percent / 100.0


def suggest(
    customer_id: str,
    facts: ProfileFacts,
    context: ArrivalContext,
    playbook: Playbook,
    holdout_key: bytes,
) -> Suggestions:
    """The suggestions for one arrival, most important first, and those the holdout keeps."""
    if not playbook.enabled:
        return Suggestions()
    offers = sorted((o for o in facts.offers if o.until > context.now), key=lambda o: o.until)
    welcome = _welcome_offer(playbook, offers)
    shown: list[Suggestion] = []
    withheld: list[Suggestion] = []
    # Rules in priority order (a stable sort: equal priorities keep the written order), each
    # applied only while the card has room: past its limit nothing would have been shown, so
    # nothing is "withheld" either (the holdout compares what staff saw with what they would
    # have seen), and a long playbook costs only the rules it reaches.
    for rule in sorted(playbook.rules, key=lambda r: r.priority):
        if not rule.enabled:
            continue
        for suggestion in _apply(rule, facts, context, offers, welcome):
            if len(shown) >= playbook.max_shown:
                return Suggestions(tuple(shown), tuple(withheld))
            campaign = suggestion.campaign
            if campaign is not None and in_holdout(
                holdout_key, customer_id, campaign, suggestion.holdout_percent
            ):
                withheld.append(suggestion)
            else:
                shown.append(suggestion)
    return Suggestions(tuple(shown), tuple(withheld))


def _welcome_offer(playbook: Playbook, offers: Sequence[Offer]) -> Offer | None:
    prefixes = [r.welcome_offer_prefix for r in playbook.rules if r.kind == "first_visit"]
    for offer in offers:
        if any(prefix and offer.id.startswith(prefix) for prefix in prefixes):
            return offer
    return None


def _apply(
    rule: Rule,
    facts: ProfileFacts,
    context: ArrivalContext,
    offers: Sequence[Offer],
    welcome: Offer | None,
) -> list[Suggestion]:
    fields: dict[str, JsonValue] | None
    match rule.kind:
        case "first_visit":
            fields = _first_visit(rule, facts, context, welcome)
        case "birthday":
            fields = _birthday(rule, facts, context)
        case "tier":
            fields = (
                {"tier": facts.tier}
                if facts.tier and (not rule.tiers or facts.tier in rule.tiers)
                else None
            )
        case "segment":
            segment = facts.segment
            fields = (
                {"code": segment.code, "label": segment.label}
                if segment and (not rule.segments or segment.code in rule.segments)
                else None
            )
        case "frequency":
            fields = _frequency(rule, facts, context)
        case "basket":
            fields = _basket(rule, facts)
        case "note":
            fields = _note(facts, context)
        case "ticket":
            ticket = context.ticket
            fields = (
                None
                if ticket is None or (rule.queue is not None and ticket.queue != rule.queue)
                else {
                    "queue": ticket.queue,
                    "queue_label": ticket.queue_label,
                    "number": ticket.number,
                    "state": ticket.state,
                }
            )
        case "offer":
            return [
                _made(rule, _offer_fields(o), campaign=rule.campaign or o.id)
                for o in [o for o in offers if o is not welcome][: rule.max_offers]
            ]
    return [] if fields is None else [_made(rule, fields, campaign=rule.campaign)]


def _made(rule: Rule, fields: dict[str, JsonValue], *, campaign: str | None) -> Suggestion:
    wording = rule.wording or f"sugg_{rule.kind}"
    if rule.kind == "frequency" and not rule.wording:
        wording = f"sugg_frequency_{fields['pattern']}"
    if rule.kind == "first_visit" and not rule.wording:
        wording = f"sugg_first_visit_{fields['scope']}"
    # The holdout needs a campaign; without a percent the campaign is only a label for central.
    return Suggestion(
        kind=rule.kind,
        rule=rule.id,
        priority=rule.priority,
        wording=wording,
        fields=fields,
        campaign=campaign if (rule.campaign or rule.holdout_percent > 0) else None,
        text=rule.text,
        queue=rule.queue,
        role=rule.role,
        holdout_percent=rule.holdout_percent,
    )


def _offer_fields(offer: Offer) -> dict[str, JsonValue]:
    fields: dict[str, JsonValue] = {
        "offer_id": offer.id,
        "title": offer.title,
        "until": rfc3339(offer.until),
    }
    if offer.conditions:
        fields["conditions"] = offer.conditions
    return fields


def _first_visit(
    rule: Rule, facts: ProfileFacts, context: ArrivalContext, welcome: Offer | None
) -> dict[str, JsonValue] | None:
    new_to_chain = facts.first_seen_at is not None and context.now - facts.first_seen_at <= (
        timedelta(days=rule.new_within_days)
    )
    if new_to_chain:
        scope = "chain"
    elif not context.earlier_visits:
        scope = "store"
    else:
        return None
    fields: dict[str, JsonValue] = {"scope": scope}
    if welcome is not None:
        fields |= _offer_fields(welcome)
    return fields


def birthday_offset(month: int, day: int, today: date) -> int:
    """Days from ``today`` to the nearest occurrence of the birthday (negative: it was that
    many days ago), looking at last year, this year and next year so a window across the
    year end works. A 29 February birthday is kept on 28 February in other years."""
    offsets = []
    for year in (today.year - 1, today.year, today.year + 1):
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        moment = date(year, month, 28 if (month, day) == (2, 29) and not leap else day)
        offsets.append((moment - today).days)
    return min(offsets, key=abs)


def _birthday(
    rule: Rule, facts: ProfileFacts, context: ArrivalContext
) -> dict[str, JsonValue] | None:
    if facts.birthday is None:
        return None
    month, day = facts.birthday
    today = context.now.astimezone(context.zone).date()
    offset = birthday_offset(month, day, today)
    if abs(offset) > rule.within_days:
        return None
    return {"date": f"{month:02d}-{day:02d}", "in_days": offset}


def _frequency(
    rule: Rule, facts: ProfileFacts, context: ArrivalContext
) -> dict[str, JsonValue] | None:
    now = context.now
    earlier = sorted(context.earlier_visits)
    # This visit counts: "3rd visit this month" includes today's.
    here_30 = 1 + sum(1 for t in earlier if now - t <= timedelta(days=30))
    here_90 = 1 + sum(1 for t in earlier if now - t <= timedelta(days=90))
    days_since = (now - earlier[-1]).days if earlier else None
    if days_since is not None and days_since >= rule.absent_days:
        pattern = "back"
    elif here_30 >= rule.min_visits_30d:
        pattern = "regular"
    elif here_90 > 1 or facts.visits_90d:
        pattern = "summary"
    else:
        return None
    return {
        "pattern": pattern,
        "visits_30d": here_30,
        "visits_90d": here_90,
        "chain_visits_90d": facts.visits_90d,
        "days_since_last": days_since,
        "months_since_last": None if days_since is None else days_since // 30,
    }


def _basket(rule: Rule, facts: ProfileFacts) -> dict[str, JsonValue] | None:
    if not facts.basket:
        return None
    items: list[JsonValue] = []
    for item in facts.basket[: rule.max_items]:
        entry: dict[str, JsonValue] = {"name": item.name}
        entry |= {
            key: value
            for key, value in (
                ("sku", item.sku),
                ("size", item.size),
                ("price", item.price),
                ("currency", item.currency),
                ("in_stock", item.in_stock),
            )
            if value not in ("", None)
        }
        items.append(entry)
    return {"items": items, "more": max(0, len(facts.basket) - rule.max_items)}


def _note(facts: ProfileFacts, context: ArrivalContext) -> dict[str, JsonValue] | None:
    notes = _unique(n for n in (facts.notes, *context.staff_notes) if n)
    preferences = _unique((*facts.preferences, *context.staff_preferences))
    if not notes and not preferences:
        return None
    fields: dict[str, JsonValue] = {}
    if notes:
        fields["notes"] = list(notes)
    if preferences:
        fields["preferences"] = list(preferences)
    return fields


def _unique(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


_OFFER_FIELDS = ("offer_id", "title", "until", "conditions")


def still_shown(suggestion: dict[str, JsonValue], now: datetime) -> dict[str, JsonValue] | None:
    """A stored suggestion as a tablet may show it now: an offer that expired since is never
    shown (contract 8.8), and a welcome keeps its words without the expired offer."""
    until = suggestion.get("until")
    if not isinstance(until, str):
        return suggestion
    try:
        expired = datetime.fromisoformat(until.replace("Z", "+00:00")) <= now
    except ValueError:
        expired = True
    if not expired:
        return suggestion
    if suggestion.get("kind") == "offer":
        return None
    return {key: value for key, value in suggestion.items() if key not in _OFFER_FIELDS}
