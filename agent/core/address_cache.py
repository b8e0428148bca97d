"""Per-address memory for BLE: what an address's EID resolved to, bounded in size.

In a busy store phones rotate their addresses constantly; every remembered address costs
memory (BlueZ's own cache grows without bound, bleak #500), so this one is an LRU with a cap.
Unresolved addresses are remembered briefly too, so a stranger's phone advertising ten times
a second is looked up once, not ten times — and nothing about it is kept beyond the TTL.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Entry:
    eid: bytes
    customer_id: str | None
    expires: float


class AddressCache:
    def __init__(self, capacity: int, resolved_ttl_s: float, unresolved_ttl_s: float) -> None:
        self.capacity = capacity
        self._resolved_ttl = resolved_ttl_s
        self._unresolved_ttl = unresolved_ttl_s
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, address: str, eid: bytes, now: float) -> tuple[bool, str | None]:
        """(hit, customer): on a hit the customer, or None for a known stranger."""
        entry = self._entries.get(address)
        if entry is None or entry.eid != eid or entry.expires < now:
            return False, None
        self._entries.move_to_end(address)
        return True, entry.customer_id

    def store(self, address: str, eid: bytes, customer_id: str | None, now: float) -> None:
        ttl = self._resolved_ttl if customer_id is not None else self._unresolved_ttl
        self._entries[address] = _Entry(eid, customer_id, now + ttl)
        self._entries.move_to_end(address)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def purge(self, now: float) -> int:
        """Drop every entry past its TTL; returns how many. Without this an expired entry
        stayed until the LRU bound pushed it out: a stranger's address kept beyond its TTL,
        and the cache grew to its bound in every store (the soak's RSS crept for ~20 min)."""
        expired = [address for address, entry in self._entries.items() if entry.expires < now]
        for address in expired:
            del self._entries[address]
        return len(expired)

    def forget_customer(self, customer_id: str) -> None:
        for address in [a for a, e in self._entries.items() if e.customer_id == customer_id]:
            del self._entries[address]
