"""The suggestion rules (contract 8.8, issue 15) with a fake clock: each rule, their order, the
birthday window across a year end and time zones, expired offers, and the holdout."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.core.clock import ManualClock
from agent.core.playbook import Playbook, Rule, default_playbook
from agent.core.profile_facts import clean_profile, profile_facts
from agent.core.suggestions import (
    ArrivalContext,
    LiveTicket,
    birthday_offset,
    in_holdout,
    suggest,
)

KEY = b"k" * 32
PARIS = ZoneInfo("Europe/Paris")


def context(clock: ManualClock, **changes: object) -> ArrivalContext:
    return replace(ArrivalContext(now=clock.now(), zone=PARIS), **changes)  # type: ignore[arg-type]


def kinds(profile: dict, ctx: ArrivalContext, playbook: Playbook | None = None) -> list[str]:
    result = suggest("c-1", profile_facts(profile), ctx, playbook or default_playbook(), KEY)
    return [s.kind for s in result.shown]


def test_a_first_timer_in_the_chain_is_welcomed_with_the_welcome_offer() -> None:
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    profile = {
        "first_seen_at": "2026-03-02T09:30:00Z",
        "offers": [
            {
                "id": "welcome-10",
                "title": "10 % off your first basket",
                "until": "2026-04-01T00:00:00Z",
            },
            {"id": "o-spring", "title": "Spring set", "until": "2026-03-20T00:00:00Z"},
        ],
    }
    result = suggest("c-1", profile_facts(profile), context(clock), default_playbook(), KEY)
    first = next(s for s in result.shown if s.kind == "first_visit")
    assert first.fields["scope"] == "chain"
    assert first.fields["offer_id"] == "welcome-10"
    assert first.wording == "sugg_first_visit_chain"
    # The welcome offer is not offered a second time as an ordinary offer.
    assert [s.offer_id for s in result.shown if s.kind == "offer"] == ["o-spring"]


def test_first_visit_to_this_store_and_not_after() -> None:
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    old_customer = {"first_seen_at": "2024-01-01T00:00:00Z", "visits_90d": 4}
    ctx = context(clock)
    result = suggest("c-1", profile_facts(old_customer), ctx, default_playbook(), KEY)
    assert [s.fields["scope"] for s in result.shown if s.kind == "first_visit"] == ["store"]
    seen_before = context(clock, earlier_visits=(clock.now() - timedelta(days=3),))
    assert "first_visit" not in kinds(old_customer, seen_before)


@pytest.mark.parametrize(
    ("today", "birthday", "offset"),
    [
        (datetime(2026, 12, 29, 12, tzinfo=UTC), "01-02", 4),  # ahead, across the year end
        (datetime(2027, 1, 3, 12, tzinfo=UTC), "12-30", -4),  # behind, across the year end
        (datetime(2026, 6, 10, 12, tzinfo=UTC), "06-10", 0),
        (datetime(2027, 2, 27, 12, tzinfo=UTC), "02-29", 1),  # kept on 28 Feb outside leap years
    ],
)
def test_birthday_window_across_the_year_end(today: datetime, birthday: str, offset: int) -> None:
    clock = ManualClock(today)
    result = suggest(
        "c-1", profile_facts({"birthday": birthday}), context(clock), default_playbook(), KEY
    )
    (made,) = [s for s in result.shown if s.kind == "birthday"]
    assert made.fields == {"date": birthday, "in_days": offset}


def test_birthday_uses_the_stores_local_date_and_the_rules_window() -> None:
    # 23:30 UTC on 31 Dec is already 1 Jan in Paris: a 08-01 birthday is 7 days off locally
    # (inside the window), 8 days off by the UTC date (outside it).
    clock = ManualClock(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert birthday_offset(1, 8, clock.now().astimezone(PARIS).date()) == 7
    assert "birthday" in kinds({"birthday": "01-08"}, context(clock))
    assert "birthday" not in kinds({"birthday": "01-08"}, context(clock, zone=UTC))
    narrow = Playbook(rules=(Rule("bday", "birthday", within_days=3),))
    assert kinds({"birthday": "01-05"}, context(clock), narrow) == []
    assert kinds({"birthday": "01-04"}, context(clock), narrow) == ["birthday"]


def test_an_expired_offer_is_never_suggested_and_the_soonest_comes_first() -> None:
    clock = ManualClock(datetime(2026, 5, 1, 12, tzinfo=UTC))
    profile = {
        "offers": [
            {"id": "late", "title": "Late", "until": "2026-06-30T00:00:00Z"},
            {"id": "gone", "title": "Expired", "until": "2026-05-01T11:59:59Z"},
            {
                "id": "soon",
                "title": "Soon",
                "until": "2026-05-02T00:00:00Z",
                "conditions": "from 30 €",
            },
            {"id": "mid", "title": "Mid", "until": "2026-05-15T00:00:00Z"},
            {"id": "far", "title": "Far", "until": "2027-01-01T00:00:00Z"},
        ]
    }
    result = suggest("c-1", profile_facts(profile), context(clock), default_playbook(), KEY)
    offers = [s for s in result.shown if s.kind == "offer"]
    assert [s.offer_id for s in offers] == ["soon", "mid", "late"]  # max_offers = 3
    assert offers[0].fields["conditions"] == "from 30 €"
    assert "gone" not in str([s.as_json() for s in result.shown])
    clock.advance(24 * 3600)  # "soon" has expired by now
    later = suggest("c-1", profile_facts(profile), context(clock), default_playbook(), KEY)
    assert [s.offer_id for s in later.shown if s.kind == "offer"] == ["mid", "late", "far"]


def test_frequency_from_local_visits_and_the_chain() -> None:
    clock = ManualClock(datetime(2026, 5, 20, 12, tzinfo=UTC))
    now = clock.now()
    regular = context(clock, earlier_visits=(now - timedelta(days=2), now - timedelta(days=9)))
    result = suggest("c-1", profile_facts({"visits_90d": 7}), regular, default_playbook(), KEY)
    (freq,) = [s for s in result.shown if s.kind == "frequency"]
    assert freq.wording == "sugg_frequency_regular"
    assert freq.fields["visits_30d"] == 3 and freq.fields["chain_visits_90d"] == 7
    back = context(clock, earlier_visits=(now - timedelta(days=125),))
    result = suggest("c-1", profile_facts({}), back, default_playbook(), KEY)
    (freq,) = [s for s in result.shown if s.kind == "frequency"]
    assert freq.wording == "sugg_frequency_back" and freq.fields["months_since_last"] == 4
    assert "frequency" not in kinds({}, context(clock))  # nothing to say about a first visit


def test_tier_segment_basket_note_and_ticket() -> None:
    clock = ManualClock(datetime(2026, 5, 20, 12, tzinfo=UTC))
    profile = {
        "tier": "gold",
        "segment": {"code": "R5F4M3", "label": "Loyal, high value"},
        "notes": "Prefers the fragrance-free range",
        "preferences": ["tea"],
        "basket": [
            {
                "sku": "A1",
                "name": "Rose face cream",
                "size": "50 ml",
                "price": 24.9,
                "currency": "EUR",
                "in_stock": True,
            },
            {"name": "Body oil"},
        ],
    }
    ticket = LiveTicket("advice", "Advice", 12, "waiting")
    ctx = context(
        clock,
        ticket=ticket,
        staff_preferences=("green tea",),
        earlier_visits=(clock.now() - timedelta(days=1),),
    )
    result = suggest("c-1", profile_facts(profile), ctx, default_playbook(), KEY)
    by_kind = {s.kind: s for s in result.shown}
    assert result.shown[0].kind == "ticket"  # the default playbook ranks it first
    assert by_kind["ticket"].fields == {
        "queue": "advice",
        "queue_label": "Advice",
        "number": 12,
        "state": "waiting",
    }
    assert by_kind["tier"].fields == {"tier": "gold"}
    assert by_kind["segment"].fields == {"code": "R5F4M3", "label": "Loyal, high value"}
    assert by_kind["basket"].fields["items"] == [
        {
            "name": "Rose face cream",
            "sku": "A1",
            "size": "50 ml",
            "price": 24.9,
            "currency": "EUR",
            "in_stock": True,
        },
        {"name": "Body oil"},
    ]
    assert by_kind["note"].fields == {
        "notes": ["Prefers the fragrance-free range"],
        "preferences": ["tea", "green tea"],
    }
    only_vip = Playbook(
        rules=(
            Rule("vip", "tier", tiers=("platinum",)),
            Rule("rfm", "segment", segments=("R1F1M1",)),
        )
    )
    assert kinds(profile, ctx, only_vip) == []


def test_order_follows_priority_then_the_written_order_and_respects_max_shown() -> None:
    clock = ManualClock(datetime(2026, 6, 9, 12, tzinfo=UTC))
    profile = {
        "tier": "gold",
        "birthday": "06-10",
        "notes": "x",
        "segment": {"code": "S", "label": "L"},
    }
    playbook = Playbook(
        rules=(
            Rule("n", "note", priority=5),
            Rule("t", "tier", priority=50),
            Rule("s", "segment", priority=50),
            Rule("b", "birthday", priority=1),
            Rule("off", "tier", priority=0, enabled=False),
        ),
        max_shown=3,
    )
    assert kinds(profile, context(clock), playbook) == ["birthday", "note", "tier"]
    assert kinds(profile, context(clock), replace(playbook, enabled=False)) == []


def test_holdout_is_deterministic_per_campaign_and_at_the_configured_rate() -> None:
    ids = [f"c-{n:06d}" for n in range(100_000)]
    held = sum(in_holdout(KEY, cid, "spring-2026", 10.0) for cid in ids)
    assert 9_000 <= held <= 11_000, held  # 10 % within ±1 % of the ids
    assert abs(held / len(ids) - 0.10) <= 0.01
    again = sum(in_holdout(KEY, cid, "spring-2026", 10.0) for cid in ids[:1000])
    first = sum(in_holdout(KEY, cid, "spring-2026", 10.0) for cid in ids[:1000])
    assert again == first
    # Another campaign draws another group; another key too.
    group_a = {cid for cid in ids[:20_000] if in_holdout(KEY, cid, "spring-2026", 10.0)}
    group_b = {cid for cid in ids[:20_000] if in_holdout(KEY, cid, "autumn-2026", 10.0)}
    assert 0 < len(group_a & group_b) < len(group_a) / 4
    assert not in_holdout(KEY, "c-1", "x", 0.0)
    assert all(in_holdout(KEY, cid, "x", 100.0) for cid in ids[:100])


def test_a_held_out_customer_gets_the_campaigns_suggestion_withheld() -> None:
    clock = ManualClock(datetime(2026, 6, 9, 12, tzinfo=UTC))
    playbook = Playbook(
        rules=(
            Rule("bday", "birthday", campaign="bday-2026", holdout_percent=50.0),
            Rule("tier", "tier"),
        )
    )
    profile = profile_facts({"birthday": "06-09", "tier": "gold"})
    results = {
        cid: suggest(cid, profile, context(clock), playbook, KEY)
        for cid in (f"c-{n}" for n in range(200))
    }
    withheld = [r for r in results.values() if r.withheld]
    assert 60 <= len(withheld) <= 140
    for cid, result in results.items():
        held = in_holdout(KEY, cid, "bday-2026", 50.0)
        assert (result.withheld_kinds == ["birthday"]) is held
        assert ("birthday" in result.shown_kinds) is not held
        assert "tier" in result.shown_kinds  # no campaign, no holdout
        assert all(s.campaign == "bday-2026" for s in result.withheld)


def test_clean_profile_keeps_only_well_formed_8_8_fields() -> None:
    cleaned = clean_profile(
        {
            "tier": "gold",
            "birthday": "02-30",
            "segment": {"code": "S1"},
            "first_seen_at": "yesterday",
            "visits_90d": -1,
            "offers": [
                {"id": "o1", "title": "T", "until": "2026-01-01T00:00:00Z"},
                {"id": "o2"},
                7,
            ],
            "basket": [{"name": "Cream", "price": "cheap"}, {"sku": "no-name"}],
        }
    )
    assert cleaned == {
        "tier": "gold",
        "offers": [{"id": "o1", "title": "T", "until": "2026-01-01T00:00:00Z"}],
        "basket": [{"name": "Cream", "price": "cheap"}],
    }
    assert profile_facts(cleaned).basket[0].price is None
    assert clean_profile({"birthday": "12-31", "visits_90d": 3})["birthday"] == "12-31"


def test_a_stored_card_loses_offers_that_expired_since() -> None:
    from agent.core.profile_facts import without_expired_offers
    from agent.core.suggestions import still_shown

    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    offer = {"kind": "offer", "offer_id": "o1", "title": "T", "until": "2026-05-01T11:00:00Z"}
    welcome = {
        "kind": "first_visit",
        "scope": "chain",
        "offer_id": "w",
        "title": "W",
        "until": "2026-04-30T00:00:00Z",
    }
    tier = {"kind": "tier", "tier": "gold"}
    assert still_shown(offer, now) is None
    assert still_shown(welcome, now) == {"kind": "first_visit", "scope": "chain"}
    assert still_shown(tier, now) == tier
    assert still_shown(offer, now - timedelta(hours=2)) == offer
    profile = {
        "tier": "gold",
        "offers": [
            {"id": "a", "title": "A", "until": "2026-05-02T00:00:00Z"},
            {"id": "b", "title": "B", "until": "2026-05-01T00:00:00Z"},
        ],
    }
    assert [o["id"] for o in without_expired_offers(profile, now)["offers"]] == ["a"]  # type: ignore[union-attr, index]


def test_the_rules_target_queue_and_role_travel_with_the_suggestion() -> None:
    clock = ManualClock(datetime(2026, 6, 9, 12, tzinfo=UTC))
    playbook = Playbook(
        rules=(Rule("vip", "tier", queue="advice", role="manager", campaign="vip-care"),)
    )
    (made,) = suggest("c-1", profile_facts({"tier": "gold"}), context(clock), playbook, KEY).shown
    assert made.as_json() == {
        "kind": "tier",
        "rule": "vip",
        "tier": "gold",
        "wording": "sugg_tier",
        "campaign": "vip-care",
        "queue": "advice",
        "role": "manager",
    }
