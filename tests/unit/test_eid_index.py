"""EidIndex against a dict, under random puts and discards, and its size under churn."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.core.eid_index import EidIndex

# Small keys collide on purpose: long probe runs that wrap around the end of the arrays are
# where backward-shift deletion can go wrong.
_KEYS = st.integers(min_value=0, max_value=300) | st.integers(min_value=0, max_value=2**64 - 1)
_OPS = st.lists(st.tuples(st.booleans(), _KEYS, st.integers(0, 5)), max_size=400)


@given(_OPS)
def test_behaves_as_a_dict(ops: list[tuple[bool, int, int]]) -> None:
    index, model = EidIndex(), dict[int, int]()
    for is_put, key, value in ops:
        if is_put:
            index.put(key, value)
            if key:
                model[key] = value
        else:
            index.discard(key, value)
            if model.get(key) == value:
                del model[key]
        assert len(index) == len(model)
    for key, value in model.items():
        assert index.get(key) == value
    for _, key, _ in ops:
        assert index.get(key) == model.get(key, -1)


def test_discard_keeps_another_value_for_the_key() -> None:
    index = EidIndex()
    index.put(7, 1)
    index.discard(7, 2)  # another customer's entry: left alone
    assert index.get(7) == 1
    index.discard(7, 1)
    assert index.get(7) == -1 and len(index) == 0


def test_zero_is_never_stored() -> None:
    index = EidIndex()
    index.put(0, 3)
    assert index.get(0) == -1 and len(index) == 0


def test_roll_over_churn_does_not_grow_it() -> None:
    # Every period each customer gains one EID and loses one: the live count stays the same,
    # and so must the capacity (a dict grew at each roll-over: the soak's RSS steps).
    customers = 5_000
    index = EidIndex(4 * customers)
    capacity = index.capacity
    key = 1
    live: list[tuple[int, int]] = []
    for slot in range(customers):
        for _ in range(3):
            index.put(key, slot)
            live.append((key, slot))
            key = (key * 6364136223846793005 + 1442695040888963407) % 2**64 or 1
    for _period in range(20):
        for slot in range(customers):
            index.put(key, slot)
            live.append((key, slot))
            key = (key * 6364136223846793005 + 1442695040888963407) % 2**64 or 1
        for old_key, old_slot in live[:customers]:
            index.discard(old_key, old_slot)
        del live[:customers]
    assert len(index) == 3 * customers
    assert index.capacity == capacity
    assert all(index.get(k) == s for k, s in live)


def test_growth_places_runs_that_wrap_past_the_last_place() -> None:
    """Keys whose home after growth is the last place or near it: placed at once by the
    growth, their run wraps around to the first places, and every one is found, replaced and
    discarded as before."""
    index = EidIndex()
    held: dict[int, int] = {}
    for m in range(1, 200):
        # 129 is the capacity after the first growth; 1027 a later one's neighbourhood.
        for key in (129 * m + 128, 129 * m + 127, 1027 * m + 1026):
            index.put(key, m)
            held[key] = m
    assert len(index) == len(held)
    assert all(index.get(key) == value for key, value in held.items())
    for key in list(held)[::3]:
        index.discard(key, held.pop(key))
    assert all(index.get(key) == value for key, value in held.items())
    assert len(index) == len(held)
