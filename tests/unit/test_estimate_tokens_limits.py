"""Wait estimator, window tokens, rate limiter, opening hours: pure pieces."""

from __future__ import annotations

from datetime import datetime

from agent.core.estimate import AccuracyTracker, WaitEstimator, WaitRange, trimmed_mean
from agent.core.hours import is_open
from agent.core.ratelimit import RateLimiter
from agent.core.window_token import WindowTokens


def test_default_service_time_until_enough_samples_then_trimmed_mean() -> None:
    est = WaitEstimator(default_service_s=300, servers=1)
    for s in (100, 110, 120, 130):
        est.record_service(s)
    assert est.service_time() == 300
    est.record_service(10_000 - 9_000)  # one outlier among few samples
    assert est.service_time() == trimmed_mean([100, 110, 120, 130, 1000])
    assert trimmed_mean(list(range(1, 11)), trim=0.1) == 5.5


def test_estimate_grows_with_people_ahead_and_shrinks_with_servers() -> None:
    one = WaitEstimator(300, servers=1)
    two = WaitEstimator(300, servers=2)
    assert one.estimate(4, [], 0).high_s > one.estimate(1, [], 0).high_s
    assert two.estimate(4, [], 0).high_s < one.estimate(4, [], 0).high_s
    r = one.estimate(2, [], 0)
    assert r.low_s <= 600 <= r.high_s  # 2 ahead x 5 min lies in the range
    assert r.low_s % 60 == 0 and r.high_s % 60 == 0


def test_remaining_service_of_those_being_served_counts() -> None:
    est = WaitEstimator(300, servers=1)
    fresh = est.estimate(0, [10.0], 0)
    nearly_done = est.estimate(0, [290.0], 0)
    assert fresh.high_s > nearly_done.high_s


def test_slow_observed_throughput_widens_the_range_upwards() -> None:
    est = WaitEstimator(120, servers=1)
    model_only = est.estimate(3, [], 10_000)
    for i in range(6):  # one call every 10 minutes, far slower than the 2-minute model
        est.record_call(10_000 - 3000 + i * 600)
    cross_checked = est.estimate(3, [], 10_000)
    assert cross_checked.high_s > model_only.high_s


def test_a_whole_line_at_once_is_worked_out_as_the_formula_says() -> None:
    # Two counters of 300 s, both busy (100 s and 250 s in): the sooner frees in 50 s.
    est = WaitEstimator(300, servers=2)
    model_only = est.estimates(range(4), [100.0, 250.0], 10_000)
    # ahead 3: model = 50 + 3 / 2 x 300 = 500; low 0.85 x 500 = 425 -> 420 (down to the
    # minute); high 1.2 x 500 + 0.15 x 300 = 645 -> 660 (up to the minute).
    assert model_only[3] == WaitRange(420, 660)
    assert model_only[0] == WaitRange(0, 120)  # 50 s: low 42 -> 0, high 105 -> 120
    for i in range(6):  # a call every 10 minutes: an observed rate of 1 / 600 s
        est.record_call(10_000 - 3000 + i * 600)
    checked = est.estimates([3, 1], [100.0, 250.0], 10_000)
    # observed = 3 x 600 + 50 = 1850; low 0.85 x min(500, 1850) = 425 -> 420;
    # high 1.15 x 1850 + 45 = 2172.5 -> 2220.
    assert checked[0] == WaitRange(420, 2220)
    assert checked == [
        est.estimate(3, [100.0, 250.0], 10_000),
        est.estimate(1, [100.0, 250.0], 10_000),
    ]


def test_accuracy_tracker() -> None:
    tracker = AccuracyTracker()
    tracker.record(WaitRange(300, 600), 450)  # middle: error 0
    tracker.record(WaitRange(300, 600), 900)  # 450 off, and an under-estimate
    assert tracker.mean_absolute_error_s() == 225
    assert tracker.underestimate_share() == 0.5


def test_rotating_token_valid_for_its_period_and_the_previous_one_only() -> None:
    tokens = WindowTokens(b"k" * 32)
    token = tokens.rotating("advice", 6000.0)
    ok = {"mode": "rotating", "generation": 1}
    assert tokens.verify("advice", token, unix_time=6000.0, **ok)  # type: ignore[arg-type]
    assert tokens.verify("advice", token, unix_time=6060.0, **ok)  # type: ignore[arg-type]
    assert not tokens.verify("advice", token, unix_time=6120.0, **ok)  # type: ignore[arg-type]
    assert not tokens.verify("pickup", token, unix_time=6000.0, **ok)  # type: ignore[arg-type]
    assert not tokens.verify("advice", token, unix_time=6000.0, mode="static", generation=1)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert not tokens.verify("advice", forged, unix_time=6000.0, **ok)  # type: ignore[arg-type]
    other_key = WindowTokens(b"x" * 32).rotating("advice", 6000.0)
    assert not tokens.verify("advice", other_key, unix_time=6000.0, **ok)  # type: ignore[arg-type]
    for junk in ("", ".", "r.", "rX.abc", "s1", "r" + "9" * 80 + ".x"):
        assert not tokens.verify("advice", junk, unix_time=6000.0, **ok)  # type: ignore[arg-type]


def test_static_token_valid_until_its_generation_changes() -> None:
    tokens = WindowTokens(b"k" * 32)
    sticker = tokens.static("pickup", 1)
    assert tokens.verify("pickup", sticker, unix_time=1e9, mode="static", generation=1)
    assert not tokens.verify("pickup", sticker, unix_time=1e9, mode="static", generation=2)
    assert not tokens.verify("pickup", sticker, unix_time=1e9, mode="rotating", generation=1)


def test_rate_limiter_window_and_bounded_memory() -> None:
    limiter = RateLimiter(limit=2, window_s=60, max_keys=3)
    assert limiter.allow("a", 0) and limiter.allow("a", 1)
    assert not limiter.allow("a", 2)
    assert limiter.retry_after("a", 2) == 58
    assert limiter.allow("a", 61)
    for key in "bcdef":
        limiter.allow(key, 0)
    assert len(limiter._hits) == 3


def test_a_refund_gives_back_exactly_one_counted_place() -> None:
    limiter = RateLimiter(limit=2, window_s=60, max_keys=2)
    assert limiter.allow("a", 5) and limiter.allow("a", 5)
    limiter.refund("a", 5)
    assert limiter.allow("a", 6) and not limiter.allow("a", 7)
    limiter.refund("a", 4)  # never counted: nothing changes
    assert not limiter.allow("a", 7)
    limiter.refund("gone", 5)  # an unknown (or evicted) key: nothing to give back
    assert "gone" not in limiter._hits


def test_opening_hours() -> None:
    days = ((540, 1140), None, None, None, None, None, None)  # Mondays 09:00-19:00
    monday = datetime(2026, 3, 2, 8, 59)
    assert not is_open(days, monday)
    assert is_open(days, monday.replace(hour=9, minute=0))
    assert not is_open(days, monday.replace(hour=19, minute=0))
    assert not is_open(days, datetime(2026, 3, 3, 12, 0))
    assert is_open(None, monday)


def test_form_token_outlives_the_scanned_code_but_not_by_much() -> None:
    tokens = WindowTokens(b"k" * 32)
    form = tokens.form("advice", 6000.0)
    for mode in ("rotating", "static"):
        assert tokens.verify("advice", form, unix_time=6000.0 + 14 * 60, mode=mode, generation=1)
        assert not tokens.verify(
            "advice", form, unix_time=6000.0 + 17 * 60, mode=mode, generation=1
        )
    assert not tokens.verify("pickup", form, unix_time=6000.0, mode="rotating", generation=1)
