"""AES-128 over a batch of keys (numpy) against FIPS-197 and `cryptography`, and the EID table
built through the batch against the table built one customer at a time."""

from __future__ import annotations

import random

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from agent.core import eid_batch
from agent.core.aes_batch import encrypt, encrypt_blocks, expand_keys
from agent.core.customers import EidCredential
from agent.core.eid import EidTable, compute_eid
from agent.core.eid_batch import usual_windows


def reference(key: bytes, blocks: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(blocks)  # noqa: S305


def test_fips_197_appendix_c1() -> None:
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    plaintext = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert encrypt(key, plaintext).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


def test_fips_197_appendix_a1_key_expansion() -> None:
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    words = expand_keys(np.frombuffer(key, dtype=np.uint8).reshape(1, 16))
    assert words.shape == (11, 1, 4)
    assert words[1, 0].tobytes().hex() == "a0fafe1788542cb123a339392a6c7605"
    assert words[10, 0].tobytes().hex() == "d014f9a8c9ee2589e13f0cc8b6630ca6"


@pytest.mark.parametrize(("keys", "per_key"), [(1000, 1), (400, 3), (1, 1), (7, 3), (33, 2)])
def test_bit_exact_with_cryptography_on_random_keys(keys: int, per_key: int) -> None:
    rng = random.Random(1000 * keys + per_key)
    key_bytes = rng.randbytes(16 * keys)
    blocks = rng.randbytes(16 * keys * per_key)
    out = encrypt(key_bytes, blocks, per_key)
    size = 16 * per_key
    for n in range(keys):
        expected = reference(key_bytes[16 * n : 16 * n + 16], blocks[size * n : size * (n + 1)])
        assert out[size * n : size * (n + 1)] == expected, n


def test_empty_batches_and_shapes() -> None:
    assert encrypt(b"", b"") == b""
    assert encrypt_blocks(np.zeros((0, 16), np.uint8), np.zeros((0, 3, 16), np.uint8)).shape == (
        0,
        3,
        16,
    )
    assert encrypt_blocks(np.zeros((5, 16), np.uint8), np.zeros((5, 0, 16), np.uint8)).shape == (
        5,
        0,
        16,
    )
    with pytest.raises(ValueError, match="blocks"):
        encrypt(bytes(16), bytes(16), 2)
    with pytest.raises(ValueError, match="blocks"):
        encrypt_blocks(np.zeros((2, 16), np.uint8), np.zeros((3, 1, 16), np.uint8))


def test_strided_inputs_give_the_same_ciphertexts() -> None:
    """Views that are not C-contiguous (a slice of every other key) are copied, not misread."""
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 256, (20, 16), dtype=np.uint8)
    blocks = rng.integers(0, 256, (20, 2, 16), dtype=np.uint8)
    out = encrypt_blocks(keys[::2], blocks[::2])
    for n in range(10):
        assert out[n].tobytes() == reference(keys[2 * n].tobytes(), blocks[2 * n].tobytes())


NOW = 5_000_000_000.0  # late enough for a time counter near 2**32 with epoch >= 0


def awkward_credentials(count: int) -> list[tuple[str, EidCredential]]:
    """Customers in every case `_window` distinguishes: the usual one, period 0 (epoch now or
    later), a temporary-key boundary inside the three periods, the 32-bit counter's end."""
    rng = random.Random(17)
    out = []
    for n in range(count):
        k = rng.randrange(16)
        case = n % 5
        if case == 0:  # a temporary key boundary (every 65536 s of counter) in the window
            counter = 65536 * rng.randrange(1, 60000) + rng.randrange(-(1 << k), 1 << k)
        elif case == 1:  # period 0, or a epoch in the future
            counter = -rng.randrange(0, 3) * (1 << k)
        elif case == 2:  # the time counter about to wrap at 2**32
            counter = 0xFFFFFFFF - rng.randrange(0, 3 << k)
        else:
            counter = rng.randrange(1 << 20, 1 << 31)
        epoch = max(0, int(NOW) - counter)
        out.append((f"c{n}", EidCredential(rng.randbytes(16), k, epoch)))
    return out


def state(table: EidTable) -> tuple[object, ...]:
    return (
        dict(table._slot_of),
        list(table._ids),
        bytes(table._keys),
        list(table._periods),
        list(table._eids),
        list(table._retiring),
        {when: sorted(slots) for when, slots in table._due.items()},
    )


BATCH_MIN = eid_batch.BATCH_MIN
ONE_BY_ONE = 1 << 40  # as a BATCH_MIN: never batched


def one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eid_batch, "BATCH_MIN", ONE_BY_ONE)


def test_the_batch_covers_the_boundary_cases() -> None:
    records = awkward_credentials(500)
    periods = [max(0, int(NOW) - c.epoch) >> c.rotation_exponent for _, c in records]
    k = [c.rotation_exponent for _, c in records]
    straddling = [
        p > 0 and ((p - 1) << e) >> 16 != ((p + 1) << e) >> 16
        for p, e in zip(periods, k, strict=True)
    ]
    assert sum(straddling) > 50
    assert periods.count(0) > 50
    assert sum(((p + 1) << e) > 0xFFFFFFFF for p, e in zip(periods, k, strict=True)) > 20


@pytest.mark.parametrize("count", [BATCH_MIN - 1, BATCH_MIN, 501])
def test_table_built_through_the_batch_equals_the_one_by_one_table(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = awkward_credentials(count)
    batched = EidTable()
    batched.upsert_many(records, NOW)
    batched.extend([(f"x{cid}", cred) for cid, cred in records], NOW)
    with monkeypatch.context() as patch:
        one_by_one(patch)
        single = EidTable()
        single.upsert_many(records, NOW)
        single.extend([(f"x{cid}", cred) for cid, cred in records], NOW)
    assert state(batched) == state(single)
    for customer_id, credential in records:
        k = credential.rotation_exponent
        period = max(0, int(NOW) - credential.epoch) >> k
        for p in (period - 1, period, period + 1):
            if p >= 0:
                eid = compute_eid(credential.identity_key, k, p << k)
                assert batched.resolve(eid) in (customer_id, f"x{customer_id}")


def test_upserts_into_freed_slots_go_through_the_batch_too(monkeypatch: pytest.MonkeyPatch) -> None:
    records = awkward_credentials(300)
    tables = []
    for batch_min in (BATCH_MIN, ONE_BY_ONE):
        monkeypatch.setattr(eid_batch, "BATCH_MIN", batch_min)
        table = EidTable()
        table.upsert_many(records, NOW)
        for customer_id, _ in records[::2]:
            table.remove(customer_id)
        # Changed keys for the removed ones and for some still held: slots reused, and appended.
        changed = [
            (cid, EidCredential(bytes(reversed(c.identity_key)), c.rotation_exponent, c.epoch))
            for cid, c in records[::3]
        ]
        table.upsert_many(changed, NOW + 7)
        tables.append(state(table))
    assert tables[0] == tables[1]


def rolling_together() -> list[tuple[str, EidCredential]]:
    """Groups sharing exponent and epoch (as the demo's customers do), so each roll-over is
    one bucket of many customers: some windows cross a temporary-key boundary on the way."""
    rng = random.Random(3)
    groups = [
        (10, 65536 * 300 - 1024 + 10),  # the next window crosses 65536 * 300
        (15, 65536 * 200 + 5),  # the window crosses a temporary-key boundary now
        (4, 123_456_789),
        (0, 65536 * 7 - 1),  # 1-second periods: every advance rolls over
    ]
    out = []
    for g, (k, counter) in enumerate(groups):
        for n in range(100):
            out.append((f"g{g}-{n}", EidCredential(rng.randbytes(16), k, int(NOW) - counter)))
    return out + awkward_credentials(100)


def test_roll_over_through_the_batch_equals_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    records = rolling_together()
    batches: list[tuple[int, int]] = []  # (customers, of them in the usual case)

    def counted(keys: bytes, exponents: list[int], periods: list[int]) -> object:
        usual, eids = usual_windows(keys, exponents, periods)
        batches.append((len(periods), int(usual.sum())))
        return usual, eids

    tables = []
    for batch_min in (BATCH_MIN, ONE_BY_ONE):
        monkeypatch.setattr(eid_batch, "BATCH_MIN", batch_min)
        monkeypatch.setattr(eid_batch, "usual_windows", counted)
        table = EidTable()
        table.upsert_many(records, NOW)
        refreshed = []
        for later in (NOW + 30, NOW + 1000, NOW + 70_000, NOW + 70_100):
            refreshed.append(table.advance(later))
            while table.advance_slice(later + 1, 37):
                pass
        tables.append((refreshed, state(table)))
    assert tables[0] == tables[1]
    # Roll-overs went through the batch, with customers of both kinds in one batch.
    rolled = [(n, usual) for n, usual in batches[1:] if n >= 100]
    assert rolled
    assert any(0 < usual < n for n, usual in batches)
    assert any(usual == 0 for n, usual in rolled)


def test_after_roll_over_every_customer_resolves_at_the_new_time() -> None:
    records = awkward_credentials(400)
    table = EidTable()
    table.upsert_many(records, NOW)
    later = NOW + 5000
    table.advance(later)
    for customer_id, credential in records:
        counter = max(0, int(later) - credential.epoch)
        if counter > 0xFFFFFFFF:
            continue
        eid = compute_eid(credential.identity_key, credential.rotation_exponent, counter)
        assert table.resolve(eid) == customer_id, customer_id


def test_a_slot_twice_in_one_roll_over_bucket_is_refreshed_once() -> None:
    """Removed customers' slots reused by others on the same epoch and exponent: the bucket
    holds those slots twice, and the second entry must see the first one's prefetch (done
    twice, the retiring EID would be dropped before its period ends)."""
    rng = random.Random(9)
    k, epoch = 10, int(NOW) - 1024 * 5000 - 100  # 100 s into a period
    first = [(f"a{n}", EidCredential(rng.randbytes(16), k, epoch)) for n in range(200)]
    table = EidTable()
    table.upsert_many(first, NOW)
    for customer_id, _ in first[:100]:
        table.remove(customer_id)
    second = [(f"b{n}", EidCredential(rng.randbytes(16), k, epoch)) for n in range(100)]
    table.upsert_many(second, NOW)  # into the freed slots, the same due time
    boundary = epoch + 1024 * 5001
    assert table.advance(boundary - 30) == 200  # each held customer once
    for customer_id, credential in first[100:] + second:
        for counter in (boundary - epoch - 1024, boundary - epoch - 1, boundary - epoch + 5):
            eid = compute_eid(credential.identity_key, k, counter)
            assert table.resolve(eid) == customer_id
