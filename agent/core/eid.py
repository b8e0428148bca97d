"""Eddystone-EID: the rotating identifier an opted-in customer's phone advertises (contract §5).

Computed as in the Eddystone-EID specification, with the time counter T = unix time - epoch
(contract §5) and K = the record's rotation exponent:

    temporary key = AES-128-ECB(identity key, 00*11 | FF | 00 00 | T >> 16 as 2 bytes)
    EID           = AES-128-ECB(temporary key, 00*11 | K | (T >> K) << K as 4 bytes)[:8]

all integers big-endian. The temporary key changes every 65536 s, the EID every 2**K s.

The resolution table keeps, for every consenting customer, the EIDs of the previous, current
and next period (the phone's clock may be a little off) in one dict, so resolving an
advertisement is a single lookup; customers whose period is about to roll over are refreshed
from a heap of due times, ahead of the boundary and in bounded slices (`EidTable`).
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from agent.core.customers import EidCredential

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


@dataclass(slots=True)
class _Entry:
    credential: EidCredential
    eids: tuple[bytes, ...]  # previous, current and next period around `period`
    period: int  # the period index the eids were computed around
    retiring: tuple[bytes, ...] = ()  # still resolvable, dropped once `period` has begun


class EidTable:
    """EID -> customer for previous/current/next period of every consenting customer.

    Keeping it current is work per customer at two moments of each period: *prefetch*
    (shortly before the next period begins: add the EIDs around it, keeping the old ones)
    and *retire* (once it has begun: drop the EIDs no longer in the window). Either only
    widens the window for a while (a phone a period ahead or behind still resolves), so the
    work can be spread over slices (`advance_slice`) without a customer ever failing to
    resolve. The work is kept as buckets of customers by due time, not an item per customer
    (customers mostly share due times; a tuple each cost ~100 bytes per customer), and what
    a bucket asks of a customer is checked against the customer's entry when it is due.
    """

    def __init__(self) -> None:
        self._by_eid: dict[bytes, str] = {}
        self._entries: dict[str, _Entry] = {}
        self._due: dict[float, list[str]] = {}  # due unix time -> customers
        self._times: list[float] = []  # heap of the keys of _due
        self._periods: dict[int, int] = {}  # one int object per period index in use

    def __len__(self) -> int:
        return len(self._entries)

    def resolve(self, eid: bytes) -> str | None:
        return self._by_eid.get(eid)

    def upsert(self, customer_id: str, credential: EidCredential, now_unix: float) -> None:
        self.remove(customer_id)
        self._add(customer_id, credential, now_unix)

    def remove(self, customer_id: str) -> None:
        entry = self._entries.pop(customer_id, None)
        if entry is None:
            return
        for eid in entry.eids + entry.retiring:
            if self._by_eid.get(eid) == customer_id:  # never drop another customer's entry
                del self._by_eid[eid]

    def rebuild(self, records: Iterable[tuple[str, EidCredential]], now_unix: float) -> None:
        # One tight loop (locals, no per-customer method call): at 100k customers the Python
        # bookkeeping around the two AES calls was as costly as AES itself.
        by_eid: dict[bytes, str] = {}
        entries: dict[str, _Entry] = {}
        due: dict[float, list[str]] = {}
        periods: dict[int, int] = {}
        for customer_id, credential in records:
            eids, period = eids_around(credential, now_unix)
            period = periods.setdefault(period, period)
            entries[customer_id] = _Entry(credential, eids, period)
            for eid in eids:
                by_eid[eid] = customer_id
            due.setdefault(_prefetch_due(credential, period), []).append(customer_id)
        times = list(due)
        heapq.heapify(times)
        self._by_eid, self._entries, self._due, self._times = by_eid, entries, due, times
        self._periods = periods

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
        times, due, entries = self._times, self._due, self._entries
        refreshed = 0
        budget = max_items
        while times and times[0] <= now_unix:
            when = times[0]
            customers = due[when]
            while customers and budget:
                customer_id = customers.pop()
                budget -= 1
                entry = entries.get(customer_id)
                if entry is None:
                    continue  # removed since
                credential = entry.credential
                if when == _prefetch_due(credential, entry.period):
                    self._prefetch(customer_id, entry, now_unix)
                    refreshed += 1
                elif entry.retiring and when == _start(credential, entry.period):
                    self._retire(customer_id, entry)
                # else: refreshed or replaced since this was scheduled
            if customers:
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

    def _schedule(self, when: float, customer_id: str) -> None:
        customers = self._due.get(when)
        if customers is None:
            self._due[when] = [customer_id]
            heapq.heappush(self._times, when)
        else:
            customers.append(customer_id)

    def _prefetch(self, customer_id: str, entry: _Entry, now_unix: float) -> None:
        credential = entry.credential
        k = credential.rotation_exponent
        # The coming period, or the current one if the clock jumped past several.
        target = max(entry.period + 1, max(0, int(now_unix) - credential.epoch) >> k)
        eids, period = eids_around(credential, credential.epoch + (target << k))
        for eid in eids:
            self._by_eid[eid] = customer_id
        entry.retiring = tuple(e for e in entry.eids + entry.retiring if e not in eids)
        entry.eids, entry.period = eids, self._periods.setdefault(period, period)
        self._schedule(_start(credential, period), customer_id)  # retire
        self._schedule(_prefetch_due(credential, period), customer_id)

    def _retire(self, customer_id: str, entry: _Entry) -> None:
        for eid in entry.retiring:
            if self._by_eid.get(eid) == customer_id:
                del self._by_eid[eid]
        entry.retiring = ()

    def _add(self, customer_id: str, credential: EidCredential, now_unix: float) -> None:
        eids, period = eids_around(credential, now_unix)
        period = self._periods.setdefault(period, period)
        self._entries[customer_id] = _Entry(credential, eids, period)
        for eid in eids:
            self._by_eid[eid] = customer_id
        self._schedule(_prefetch_due(credential, period), customer_id)


def _start(credential: EidCredential, period: int) -> float:
    return float(credential.epoch + (period << credential.rotation_exponent))


def _prefetch_due(credential: EidCredential, period: int) -> float:
    """When to add the EIDs around the period after ``period``: ROLLOVER_LEAD_S before it
    begins, or half a period before for short periods."""
    k = credential.rotation_exponent
    lead = min(ROLLOVER_LEAD_S, (1 << k) / 2)
    return credential.epoch + ((period + 1) << k) - lead


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
