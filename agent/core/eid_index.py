"""A map from 64-bit EIDs to small integers, held in two flat arrays.

The EID table keeps three or four EIDs for every consenting customer. As a `dict` of 8-byte
`bytes` keys that cost ~280 bytes per customer (a 48-byte object per EID plus the dict's
slots), and because a dict never shrinks, each period roll-over (add the new EIDs, delete the
old ones) left it larger: the agent's RSS rose ~3 MB at every boundary in the hour-long soak
(benchmarks/soak_memory.py). Here an entry is 12 bytes in place: the EID as an unsigned 64-bit
integer and a 32-bit value, in open addressing with linear probing. Deletion shifts the
following entries back (no tombstones), so churn never grows it; only more live entries do.

EIDs are AES output, uniformly random, so the key itself modulo the capacity is the hash.
Key 0 marks an empty place, so an EID whose 64 bits are all zero (probability 2**-64 per
period and customer) is never stored; that phone is not recognised by BLE for that period.
"""

from __future__ import annotations

from array import array

MAX_LOAD = 0.75  # grow beyond this; linear probing stays short below it
_MIN_CAPACITY = 64


class EidIndex:
    __slots__ = ("_capacity", "_keys", "_size", "_values")

    def __init__(self, expected_entries: int = 0) -> None:
        self._capacity, self._keys, self._values = _allocate(expected_entries)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        return self._capacity

    def get(self, key: int) -> int:
        """The value stored for ``key``, or -1."""
        keys, capacity = self._keys, self._capacity
        place = key % capacity
        while True:
            held = keys[place]
            if held == key:
                return self._values[place] if key else -1
            if not held:
                return -1
            place += 1
            if place == capacity:
                place = 0

    def put(self, key: int, value: int) -> None:
        """Store ``key`` -> ``value`` (replacing another value for the same key)."""
        if not key:
            return  # the empty marker (module docstring)
        if (self._size + 1) > self._capacity * MAX_LOAD:
            self._grow()
        keys, capacity = self._keys, self._capacity
        place = key % capacity
        while True:
            held = keys[place]
            if held == key:
                self._values[place] = value
                return
            if not held:
                keys[place] = key
                self._values[place] = value
                self._size += 1
                return
            place += 1
            if place == capacity:
                place = 0

    def discard(self, key: int, value: int) -> None:
        """Remove ``key`` if it maps to ``value`` (never another customer's entry)."""
        if not key:
            return
        keys, values, capacity = self._keys, self._values, self._capacity
        place = key % capacity
        while True:
            held = keys[place]
            if not held:
                return
            if held == key:
                break
            place += 1
            if place == capacity:
                place = 0
        if values[place] != value:
            return
        # Backward shift: move each following entry of the run into the hole unless its home
        # place lies cyclically after the hole (then it is already reachable where it is).
        hole, scan = place, place
        while True:
            scan += 1
            if scan == capacity:
                scan = 0
            held = keys[scan]
            if not held:
                break
            home = held % capacity
            if (hole < scan and hole < home <= scan) or (
                hole > scan and (home > hole or home <= scan)
            ):
                continue
            keys[hole] = held
            values[hole] = values[scan]
            hole = scan
        keys[hole] = 0
        values[hole] = 0
        self._size -= 1

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        self._capacity, self._keys, self._values = _allocate(2 * self._size)
        self._size = 0
        for place, key in enumerate(old_keys):
            if key:
                self.put(key, old_values[place])


def _allocate(expected_entries: int) -> tuple[int, array[int], array[int]]:
    capacity = max(_MIN_CAPACITY, int(expected_entries / MAX_LOAD) + 1)
    return capacity, array("Q", bytes(8 * capacity)), array("I", bytes(4 * capacity))
