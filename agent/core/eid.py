"""Eddystone-EID: the rotating identifier an opted-in customer's phone advertises (contract §5).

Computed as in the Eddystone-EID specification, with the time counter T = unix time - epoch
(contract §5) and K = the record's rotation exponent:

    temporary key = AES-128-ECB(identity key, 00*11 | FF | 00 00 | T >> 16 as 2 bytes)
    EID           = AES-128-ECB(temporary key, 00*11 | K | (T >> K) << K as 4 bytes)[:8]

all integers big-endian. The temporary key changes every 65536 s, the EID every 2**K s.

The resolution table keeps, for every consenting customer, the EIDs of the previous, current
and next period (the phone's clock may be a little off) in one hash index, so resolving an
advertisement is a single lookup; customers whose period is about to roll over are refreshed
from a heap of due times, ahead of the boundary and in bounded slices (`EidTable`).
"""

from __future__ import annotations

import heapq
import struct
from array import array
from collections.abc import Iterable, Sequence
from itertools import islice

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from agent.core.customers import EidCredential
from agent.core.eid_batch import CHUNK, windows
from agent.core.eid_index import EidIndex

_PAD = bytes(11)
_TK_BLOCK = struct.Struct(">11xB2xH")  # 00*11 | FF | 00 00 | T >> 16
_THREE_BLOCKS = struct.Struct(">11xBI11xBI11xBI")  # 00*11 | K | period start, three times


_ECB = modes.ECB()  # noqa: S305 - single blocks, as the specification says


def _aes(key: bytes, blocks: bytes) -> bytes:
    # ECB over whole blocks produces all of its output in update(); finalize() adds nothing,
    # and skipping it matters when building the table for 100k customers.
    return Cipher(algorithms.AES(key), _ECB).encryptor().update(blocks)


def temporary_key(identity_key: bytes, time_counter: int) -> bytes:
    block = _PAD + b"\xff\x00\x00" + ((time_counter >> 16) & 0xFFFF).to_bytes(2, "big")
    return _aes(identity_key, block)


def compute_eid(identity_key: bytes, rotation_exponent: int, time_counter: int) -> bytes:
    """The 8-byte EID a beacon with this key advertises at this time counter."""
    if not 0 <= rotation_exponent <= 15:
        raise ValueError("rotation exponent must be 0-15")
    counter = time_counter & 0xFFFFFFFF
    masked = (counter >> rotation_exponent) << rotation_exponent
    block = _PAD + bytes([rotation_exponent]) + masked.to_bytes(4, "big")
    return _aes(temporary_key(identity_key, counter), block)[:8]


def period_eids(identity_key: bytes, rotation_exponent: int, periods: list[int]) -> list[bytes]:
    """The EIDs of several periods at once: one AES context per temporary key, and all the
    blocks of that key in one ECB call. Building the table for 100k customers is dominated
    by creating cipher contexts, so this is ~3x faster than calling `compute_eid` per period."""
    k = rotation_exponent
    high = ((periods[0] << k) & 0xFFFFFFFF) >> 16
    if all(((p << k) & 0xFFFFFFFF) >> 16 == high for p in periods):  # the usual case
        tk = _aes(identity_key, _PAD + b"\xff\x00\x00" + high.to_bytes(2, "big"))
        kb = bytes([k])
        encrypted = _aes(
            tk, b"".join(_PAD + kb + ((p << k) & 0xFFFFFFFF).to_bytes(4, "big") for p in periods)
        )
        return [encrypted[i : i + 8] for i in range(0, 16 * len(periods), 16)]
    by_tk: dict[int, list[int]] = {}
    for period in periods:
        by_tk.setdefault(((period << k) & 0xFFFFFFFF) >> 16, []).append(period)
    out: dict[int, bytes] = {}
    for high, group in by_tk.items():
        tk = _aes(identity_key, _PAD + b"\xff\x00\x00" + high.to_bytes(2, "big"))
        blocks = b"".join(
            _PAD + bytes([k]) + ((p << k) & 0xFFFFFFFF).to_bytes(4, "big") for p in group
        )
        encrypted = _aes(tk, blocks)
        for index, period in enumerate(group):
            out[period] = encrypted[16 * index : 16 * index + 8]
    return [out[p] for p in periods]


def eids_around(credential: EidCredential, now_unix: float) -> tuple[tuple[bytes, ...], int]:
    """The EIDs of the previous, current and next period, and the current period index."""
    k = credential.rotation_exponent
    period = max(0, int(now_unix) - credential.epoch) >> k
    base = (period - 1) << k
    last = (period + 1) << k
    if period > 0 and last <= 0xFFFFFFFF and base >> 16 == last >> 16:
        # The usual case, inlined for the table build: one temporary key, three blocks
        # packed by one struct call.
        tk = _aes(credential.identity_key, _TK_BLOCK.pack(0xFF, base >> 16))
        out = _aes(tk, _THREE_BLOCKS.pack(k, base, k, base + (1 << k), k, last))
        return (out[0:8], out[16:24], out[32:40]), period
    periods = [p for p in (period - 1, period, period + 1) if p >= 0]
    return tuple(period_eids(credential.identity_key, k, periods)), period


def time_counter(credential: EidCredential, unix_time: float) -> int:
    return max(0, int(unix_time) - credential.epoch)


# Roll-over work is done ahead of each period boundary, in slices: with every customer on
# the same epoch and exponent, all of them roll over at the same second, and refreshing them
# at once held the event loop for 0.95 s at 100 000 customers (benchmarks/loop_lag.py).
ROLLOVER_LEAD_S = 60.0  # start adding the coming period's EIDs this long before it begins

_THREE_EIDS = struct.Struct(">Q8xQ8xQ8x")  # the first 8 bytes of three AES blocks
_EID_BYTES = 8


def _window(key: bytes, k: int, epoch: int, now_unix: float) -> tuple[tuple[int, ...], int]:
    """`eids_around` as 64-bit integers (0 where a period does not exist: before period 0)."""
    period = max(0, int(now_unix) - epoch) >> k
    base = (period - 1) << k
    last = (period + 1) << k
    if period > 0 and last <= 0xFFFFFFFF and base >> 16 == last >> 16:
        tk = _aes(key, _TK_BLOCK.pack(0xFF, base >> 16))
        return _THREE_EIDS.unpack(
            _aes(tk, _THREE_BLOCKS.pack(k, base, k, base + (1 << k), k, last))
        ), period
    periods = [p for p in (period - 1, period, period + 1) if p >= 0]
    eids = [int.from_bytes(e, "big") for e in period_eids(key, k, periods)]
    return (0, *eids) if period == 0 else tuple(eids), period


def _window_of(key: bytes, k: int, period: int) -> Sequence[int]:
    return _window(key, k, 0, period << k)[0]


def _around(
    records: Sequence[tuple[str, EidCredential]], now_unix: float
) -> tuple[list[int], Sequence[Sequence[int]]]:
    """The current period and the window's EIDs of each record's credential."""
    now = int(now_unix)
    periods = [max(0, now - c.epoch) >> c.rotation_exponent for _, c in records]
    keys = b"".join(c.identity_key for _, c in records)
    return periods, windows(keys, [c.rotation_exponent for _, c in records], periods, _window_of)


class EidTable:
    """EID -> customer for previous/current/next period of every consenting customer.

    Keeping it current is work per customer at two moments of each period: *prefetch*
    (shortly before the next period begins: add the EIDs around it, keeping the old ones)
    and *retire* (once it has begun: drop the EID no longer in the window). Either only
    widens the window for a while (a phone a period ahead or behind still resolves), so the
    work can be spread over slices (`advance_slice`) without a customer ever failing to
    resolve. The work is kept as buckets of customers by due time, and what a bucket asks of
    a customer is checked against the customer's state when it is due.

    Held compactly (benchmarks/customer_memory.py): each customer has a *slot*, a row across
    flat arrays (identity key, exponent, epoch, period, the three EIDs as integers, the one
    retiring), and the EIDs point to slots through `EidIndex`, 12 bytes an entry. Python
    objects per customer (a dataclass, a tuple, a `bytes` per EID, a dict that only grew)
    were ~400 bytes, and ~590 after two roll-overs.
    """

    def __init__(self) -> None:
        self._reset(0)

    def _reset(self, customers: int) -> None:
        self._index = EidIndex(4 * customers)  # three EIDs each, four near a boundary
        self._slot_of: dict[str, int] = {}
        self._ids: list[str | None] = []  # slot -> customer (None: free)
        self._free: list[int] = []
        self._keys = bytearray()  # 16 bytes a slot
        self._exponents = bytearray()
        self._epochs = array("q")
        self._periods = array("q")  # the period the three EIDs are computed around
        self._eids = array("Q")  # three a slot: previous, current, next (0: none)
        self._retiring = array("Q")  # one a slot: resolvable until `period` begins (0: none)
        self._due: dict[float, array[int]] = {}  # due unix time -> slots
        self._times: list[float] = []  # heap of the keys of _due

    def __len__(self) -> int:
        return len(self._slot_of)

    def resolve(self, eid: bytes) -> str | None:
        if len(eid) != _EID_BYTES:
            return None
        slot = self._index.get(int.from_bytes(eid, "big"))
        return None if slot < 0 else self._ids[slot]

    def upsert(self, customer_id: str, credential: EidCredential, now_unix: float) -> None:
        self.upsert_many([(customer_id, credential)], now_unix)

    def upsert_many(self, records: list[tuple[str, EidCredential]], now_unix: float) -> None:
        """Hold these customers with these credentials (new or changed), in order."""
        for customer_id, _credential in records:
            self.remove(customer_id)
        # Slots freed by removals are reused first, so churn does not lengthen the arrays;
        # the rest are appended in one `extend` (a resync's 20k records in a few calls).
        periods, around = _around(records, now_unix)  # one AES batch for all of them
        reused = min(len(self._free), len(records))
        for i in range(reused):
            self._reuse_slot(*records[i], periods[i], around[i])
        if reused < len(records):
            self._append(records[reused:], periods[reused:], around[reused:])

    def remove(self, customer_id: str) -> None:
        slot = self._slot_of.pop(customer_id, None)
        if slot is None:
            return
        index, eids = self._index, self._eids
        for eid in (*eids[3 * slot : 3 * slot + 3], self._retiring[slot]):
            index.discard(eid, slot)
        self._ids[slot] = None
        eids[3 * slot : 3 * slot + 3] = array("Q", (0, 0, 0))
        self._retiring[slot] = 0
        self._keys[16 * slot : 16 * slot + 16] = bytes(16)  # the key is not kept once removed
        self._free.append(slot)

    def rebuild(self, records: Iterable[tuple[str, EidCredential]], now_unix: float) -> None:
        records = list(records)
        self.clear(len(records))
        self.extend(records, now_unix)

    def clear(self, expected_customers: int = 0) -> None:
        """Hold no one, sized for ``expected_customers`` to come (no regrowth while loading)."""
        self._reset(expected_customers)

    def extend(self, records: Iterable[tuple[str, EidCredential]], now_unix: float) -> None:
        """Add these customers (at start, a page at a time: no list of everyone's credentials
        is ever alive at once; here a chunk at a time, one AES batch each)."""
        iterator = iter(records)
        while chunk := list(islice(iterator, CHUNK)):
            self._append(chunk, *_around(chunk, now_unix))

    def _append(
        self,
        records: Sequence[tuple[str, EidCredential]],
        current: Sequence[int],
        around: Sequence[Sequence[int]],
    ) -> None:
        # One tight loop with locals: at 100k customers the bookkeeping around the AES was
        # as costly as the AES itself.
        index, ids, keys, exponents = self._index, self._ids, self._keys, self._exponents
        epochs, periods, all_eids, slot_of = self._epochs, self._periods, self._eids, self._slot_of
        retiring = self._retiring
        due: dict[float, list[int]] = {}
        for (customer_id, credential), period, eids in zip(records, current, around, strict=True):
            if customer_id in slot_of:
                self.remove(customer_id)
            k, epoch = credential.rotation_exponent, credential.epoch
            slot = len(ids)
            slot_of[customer_id] = slot
            ids.append(customer_id)
            keys += credential.identity_key
            exponents.append(k)
            epochs.append(epoch)
            periods.append(period)
            all_eids.extend(eids)
            retiring.append(0)
            for eid in eids:
                index.put(eid, slot)
            due.setdefault(_prefetch_due(k, epoch, period), []).append(slot)
        for when, slots in due.items():
            held = self._due.get(when)
            if held is None:
                self._due[when] = array("I", slots)
                heapq.heappush(self._times, when)
            else:
                held.extend(slots)

    def advance(self, now_unix: float) -> int:
        """All roll-over work due by now, at once; returns how many customers got the
        coming period's EIDs. (The agent itself uses `advance_slice`.)"""
        refreshed = 0
        while True:
            more, done = self._slice(now_unix, 1 << 30)
            refreshed += done
            if not more:
                return refreshed

    def advance_slice(self, now_unix: float, max_items: int) -> bool:
        """At most ``max_items`` customers' roll-over work due by now; True if more is due
        (call again, after letting other tasks run)."""
        return self._slice(now_unix, max_items)[0]

    def _slice(self, now_unix: float, max_items: int) -> tuple[bool, int]:
        times, due = self._times, self._due
        refreshed = 0
        budget = max_items
        while times and times[0] <= now_unix:
            when = times[0]
            slots = due[when]
            while slots and budget:
                budget, done = self._bucket_work(when, slots, budget, now_unix)
                refreshed += done
            if slots:
                return True, refreshed  # the budget ran out in this bucket
            del due[when]
            if times[0] == when:
                heapq.heappop(times)
            else:  # work scheduled meanwhile went before it (not expected: all is later)
                times.remove(when)
                heapq.heapify(times)
            if not budget:
                break
        return bool(times) and times[0] <= now_unix, refreshed

    def _bucket_work(
        self, when: float, slots: array[int], budget: int, now_unix: float
    ) -> tuple[int, int]:
        """Take work from a bucket while the budget lasts, then do it in the order taken, the
        prefetches' EIDs as one AES batch. Returns the budget left and the prefetch count."""
        ids, exponents, epochs, periods = self._ids, self._exponents, self._epochs, self._periods
        work: list[tuple[int, int]] = []  # (slot, the period to prefetch around, or -1: retire)
        taken: set[int] = set()
        now = int(now_unix)
        # A slot twice in a bucket (freed and reused): what its first work does decides what
        # the second asks, so the batch stops before it.
        while slots and budget and slots[-1] not in taken:
            slot = slots.pop()
            budget -= 1
            if ids[slot] is None:
                continue  # removed since
            k, epoch, period = exponents[slot], epochs[slot], periods[slot]
            if when == _prefetch_due(k, epoch, period):
                # The coming period, or the current one if the clock jumped past several.
                work.append((slot, max(period + 1, max(0, now - epoch) >> k)))
                taken.add(slot)
            elif self._retiring[slot] and when == _start(k, epoch, period):
                work.append((slot, -1))
                taken.add(slot)
            # else: refreshed, replaced or the slot reused since this was scheduled
        targets = [(slot, target) for slot, target in work if target >= 0]
        keys = b"".join(self._keys[16 * slot : 16 * slot + 16] for slot, _ in targets)
        computed = windows(
            keys, [exponents[s] for s, _ in targets], [t for _, t in targets], _window_of
        )
        ahead = iter(computed)
        for slot, target in work:
            if target >= 0:
                self._prefetch(slot, target, next(ahead))
            else:
                self._index.discard(self._retiring[slot], slot)
                self._retiring[slot] = 0
        return budget, len(targets)

    def _schedule(self, when: float, slot: int) -> None:
        slots = self._due.get(when)
        if slots is None:
            self._due[when] = array("I", (slot,))
            heapq.heappush(self._times, when)
        else:
            slots.append(slot)

    def _prefetch(self, slot: int, new_period: int, eids: Sequence[int]) -> None:
        """The EIDs around ``new_period`` (`_windows`) replace the slot's."""
        k, epoch, period = self._exponents[slot], self._epochs[slot], self._periods[slot]
        index, old = self._index, self._eids[3 * slot : 3 * slot + 3]
        index.discard(self._retiring[slot], slot)  # still there only after a clock jump
        self._retiring[slot] = 0
        for eid in old:
            if eid not in eids:
                if new_period == period + 1 and eid == old[0]:
                    self._retiring[slot] = eid  # the usual roll-over: kept until it begins
                else:
                    index.discard(eid, slot)
        for eid in eids:
            if eid not in old:
                index.put(eid, slot)
        self._eids[3 * slot : 3 * slot + 3] = array("Q", eids)
        self._periods[slot] = new_period
        if self._retiring[slot]:
            self._schedule(_start(k, epoch, new_period), slot)
        self._schedule(_prefetch_due(k, epoch, new_period), slot)

    def _reuse_slot(
        self, customer_id: str, credential: EidCredential, period: int, eids: Sequence[int]
    ) -> None:
        if customer_id in self._slot_of:  # twice in one batch: the later record wins
            self.remove(customer_id)
        key, k, epoch = credential.identity_key, credential.rotation_exponent, credential.epoch
        slot = self._free.pop()
        self._ids[slot] = customer_id
        self._keys[16 * slot : 16 * slot + 16] = key
        self._exponents[slot], self._epochs[slot], self._periods[slot] = k, epoch, period
        self._eids[3 * slot : 3 * slot + 3] = array("Q", eids)
        self._slot_of[customer_id] = slot
        for eid in eids:
            self._index.put(eid, slot)
        self._schedule(_prefetch_due(k, epoch, period), slot)


def _start(k: int, epoch: int, period: int) -> float:
    return float(epoch + (period << k))


def _prefetch_due(k: int, epoch: int, period: int) -> float:
    """When to add the EIDs around the period after ``period``: ROLLOVER_LEAD_S before it
    begins, or half a period before for short periods."""
    lead = min(ROLLOVER_LEAD_S, (1 << k) / 2)
    return epoch + ((period + 1) << k) - lead


def naive_resolve(
    eid: bytes, credentials: Iterable[tuple[str, EidCredential]], now_unix: float
) -> str | None:
    """The baseline the benchmark compares against: recompute everyone's EIDs per lookup."""
    for customer_id, credential in credentials:
        k = credential.rotation_exponent
        period = time_counter(credential, now_unix) >> k
        for p in (period - 1, period, period + 1):
            if p >= 0 and compute_eid(credential.identity_key, k, p << k) == eid:
                return customer_id
    return None
