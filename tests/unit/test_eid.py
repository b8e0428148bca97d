"""Eddystone-EID: vectors, period boundaries, the temporary-key roll-over, the table."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from agent.core.customers import EidCredential
from agent.core.eddystone import eid_service_data, parse_eid_frame
from agent.core.eid import (
    ROLLOVER_LEAD_S,
    EidTable,
    compute_eid,
    eids_around,
    naive_resolve,
    temporary_key,
)

IK = bytes.fromhex("e2a4c6e8a0b2d4f6182a3c4e50627486")


def spec_eid(ik: bytes, k: int, t: int) -> bytes:
    """Written again straight from the specification's description, with struct, as a check
    on the implementation under test."""

    def aes(key: bytes, data: bytes) -> bytes:
        e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        return e.update(data) + e.finalize()

    tk_block = struct.pack(">11sBHH", b"\x00" * 11, 0xFF, 0, (t >> 16) & 0xFFFF)
    tk = aes(ik, tk_block)
    eid_block = struct.pack(">11sBI", b"\x00" * 11, k, (t >> k) << k)
    return aes(tk, eid_block)[:8]


# Computed with this implementation and with spec_eid above, documented in docs/eid.md.
VECTORS = [
    (IK, 10, 0, "447481c9a923c198"),
    (IK, 10, 1023, "447481c9a923c198"),  # same period as 0
    (IK, 10, 1024, "849141ba1d04fd83"),  # next period
    (IK, 10, 65535, "15af126a2668827d"),
    (IK, 10, 65536, "7635fedd1078b334"),  # temporary key rolls over
    (IK, 0, 12345, "c26ae8d70fb88525"),
    (IK, 15, 98304, "d0ce6a0ecd60eb22"),
]


@pytest.mark.parametrize(("ik", "k", "t", "expected"), VECTORS)
def test_vectors(ik: bytes, k: int, t: int, expected: str) -> None:
    assert compute_eid(ik, k, t) == spec_eid(ik, k, t)
    assert compute_eid(ik, k, t).hex() == expected


def test_period_boundary_and_temporary_key_roll_over() -> None:
    assert compute_eid(IK, 10, 2047) == compute_eid(IK, 10, 1024)
    assert compute_eid(IK, 10, 2048) != compute_eid(IK, 10, 2047)
    assert temporary_key(IK, 65535) != temporary_key(IK, 65536)
    assert temporary_key(IK, 0) == temporary_key(IK, 65535)
    # K = 15 spans the roll-over inside one period: the temporary key still changes.
    assert compute_eid(IK, 15, 65535) != compute_eid(IK, 15, 65536)


@given(st.binary(min_size=16, max_size=16), st.integers(0, 15), st.integers(0, 2**32 - 1))
def test_matches_the_spec_everywhere(ik: bytes, k: int, t: int) -> None:
    assert compute_eid(ik, k, t) == spec_eid(ik, k, t)


def test_frames_round_trip_and_others_are_ignored() -> None:
    eid = bytes(range(8))
    assert parse_eid_frame(eid_service_data(-20, eid)) == (-20, eid)
    assert parse_eid_frame(bytes([0x00, 0xEE]) + bytes(18)) is None  # UID frame
    assert parse_eid_frame(bytes([0x30, 0x00]) + bytes(7)) is None  # too short
    assert parse_eid_frame(b"") is None


@given(st.binary(max_size=40))
def test_any_bytes_parse_or_give_none(data: bytes) -> None:
    parse_eid_frame(data)


def credential(n: int, k: int = 10, epoch: int = 1_700_000_000) -> EidCredential:
    return EidCredential(identity_key=n.to_bytes(16, "big"), rotation_exponent=k, epoch=epoch)


def advertised(c: EidCredential, unix: float) -> bytes:
    return compute_eid(c.identity_key, c.rotation_exponent, int(unix) - c.epoch)


def test_table_resolves_previous_current_and_next_period() -> None:
    now = 1_700_100_000.0
    table = EidTable()
    c = credential(1)
    table.upsert("c-1", c, now)
    assert table.resolve(advertised(c, now)) == "c-1"
    assert table.resolve(advertised(c, now - 1024)) == "c-1"  # a phone running late
    assert table.resolve(advertised(c, now + 1024)) == "c-1"  # or early
    assert table.resolve(advertised(c, now + 2048)) is None
    assert table.resolve(bytes(8)) is None


def test_advance_refreshes_only_customers_whose_period_rolled() -> None:
    now = 1_700_100_000.0
    table = EidTable()
    fast, slow = credential(1, k=4), credential(2, k=14)
    table.rebuild([("fast", fast), ("slow", slow)], now)
    later = now + 40  # fast rolled over at least twice, slow not
    refreshed = table.advance(later)
    assert 1 <= refreshed <= 3
    assert table.resolve(advertised(fast, later)) == "fast"
    assert table.resolve(advertised(slow, later)) == "slow"


def test_remove_stops_resolution_at_once() -> None:
    now = 1_700_100_000.0
    table = EidTable()
    c = credential(3)
    table.upsert("c-3", c, now)
    table.remove("c-3")
    assert table.resolve(advertised(c, now)) is None and len(table) == 0
    assert table.advance(now + 10_000) == 0


def test_a_batch_of_upserts_reuses_freed_slots_and_the_later_record_wins() -> None:
    """A resync hands the table runs of records: a customer may come twice in one run (the
    later version wins), and slots freed by removals are filled before the arrays grow."""
    now = 1_700_100_000.0
    table = EidTable()
    table.upsert_many([(f"c-{n}", credential(n)) for n in range(10)], now)
    for n in range(4):
        table.remove(f"c-{n}")
    slots = len(table._ids)
    old, new = credential(100), credential(101)
    batch = [("c-5", old), ("x-1", credential(200)), ("c-5", new), ("x-2", credential(201))]
    table.upsert_many(batch, now)
    assert len(table._ids) == slots  # four freed slots, two new customers: no growth
    assert len(table) == 8
    assert table.resolve(advertised(new, now)) == "c-5"
    assert table.resolve(advertised(old, now)) is None  # the earlier record left nothing
    assert table.resolve(advertised(credential(5), now)) is None
    assert table.resolve(advertised(credential(201), now)) == "x-2"
    assert table.advance(now + 3 * 1024) >= 8  # every held customer still rolls over
    assert table.resolve(advertised(new, now + 3 * 1024)) == "c-5"


@given(st.lists(st.floats(min_value=0, max_value=5000), min_size=1, max_size=20))
def test_current_eid_always_resolves_as_time_advances(steps: list[float]) -> None:
    now = 1_700_100_000.0
    table = EidTable()
    creds = {f"c{n}": credential(n, k=n % 8 + 3) for n in range(5)}
    table.rebuild(creds.items(), now)
    for step in sorted(steps):
        t = now + step
        table.advance(t)
        for customer_id, c in creds.items():
            assert table.resolve(advertised(c, t)) == customer_id


def test_naive_baseline_agrees() -> None:
    now = 1_700_100_000.0
    creds = [(f"c{n}", credential(n)) for n in range(20)]
    table = EidTable()
    table.rebuild(creds, now)
    eid = advertised(creds[7][1], now)
    assert naive_resolve(eid, creds, now) == table.resolve(eid) == "c7"


@given(st.binary(min_size=16, max_size=16), st.integers(0, 15), st.integers(0, 2**20))
def test_batched_periods_match_single_computation(ik: bytes, k: int, period: int) -> None:
    from agent.core.eid import period_eids

    periods = [p for p in (period - 1, period, period + 1) if p >= 0]
    expected = [compute_eid(ik, k, (p << k) & 0xFFFFFFFF) for p in periods]
    assert period_eids(ik, k, periods) == expected


@given(
    st.binary(min_size=16, max_size=16),
    st.integers(0, 15),
    st.integers(0, 2**32 + 2**20),
)
def test_the_inlined_table_path_equals_the_general_computation(
    identity_key: bytes, k: int, counter: int
) -> None:
    # eids_around inlines the usual case for the table build; around period 0, a temporary
    # key roll-over and the 32-bit counter wrap it must agree with compute_eid per period.
    credential = EidCredential(identity_key, k, 0)
    eids, period = eids_around(credential, float(counter))
    assert period == counter >> k
    expected = tuple(
        compute_eid(identity_key, k, p << k) for p in (period - 1, period, period + 1) if p >= 0
    )
    assert eids == expected


def test_roll_over_is_done_ahead_of_the_boundary_in_bounded_slices() -> None:
    epoch, k = 1_700_000_000, 10
    creds = [(f"c{n}", credential(n, k=k, epoch=epoch)) for n in range(1200)]
    boundary = epoch + 98 * 1024  # every customer rolls over here, all at once
    table = EidTable()
    table.rebuild(creds, boundary - 500)
    assert not table.advance_slice(boundary - ROLLOVER_LEAD_S - 1, 500)  # nothing due yet
    early = boundary - ROLLOVER_LEAD_S + 1
    slices = 1
    while table.advance_slice(early, 500):  # at most 500 customers per slice
        slices += 1
        # Between slices every customer still resolves their current EID.
        assert all(table.resolve(advertised(c, early)) == cid for cid, c in creds)
    assert slices == 3  # 1200 customers: 500 + 500 + 200
    # Before the boundary: the coming period's 'next' EID already resolves, and so does the
    # period about to become 'previous but one' (dropped only once the boundary has passed).
    c0 = creds[0][1]
    assert table.resolve(advertised(c0, boundary + 1024)) == "c0"
    assert table.resolve(advertised(c0, boundary - 2048)) == "c0"
    after = boundary + 1
    while table.advance_slice(after, 500):
        pass
    assert table.resolve(advertised(c0, boundary - 2048)) is None
    assert table.resolve(advertised(c0, after)) == "c0"
    assert table.resolve(advertised(c0, boundary + 1024)) == "c0"


def test_a_clock_jump_of_many_periods_lands_on_the_current_period() -> None:
    c = credential(9, k=4)
    table = EidTable()
    table.upsert("c9", c, 1_700_100_000.0)
    later = 1_700_100_000.0 + 16 * 1000  # a thousand periods on
    table.advance(later)
    assert table.resolve(advertised(c, later)) == "c9"
    assert table.resolve(advertised(c, 1_700_100_000.0)) is None
