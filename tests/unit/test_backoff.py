import random

import pytest

from agent.sync.backoff import Backoff


def test_first_retry_is_under_a_second_and_delays_grow_to_the_cap() -> None:
    backoff = Backoff(0.5, 120.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(20)]
    assert 0 < delays[0] < 1.0
    assert max(delays) <= 120.0
    assert min(delays[-5:]) >= 60.0  # at the cap, jitter keeps at least half of it
    assert delays[3] > delays[0]


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(0.5, 30.0, random.Random(2))
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_jitter_spreads_stores_that_fail_together() -> None:
    firsts = {round(Backoff(0.5, 60, random.Random(seed)).next_delay(), 4) for seed in range(50)}
    assert len(firsts) > 40


def test_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="first_s"):
        Backoff(5, 1, random.Random())
