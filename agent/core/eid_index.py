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

import numpy as np

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
        # All entries placed at once (numpy): rehashed one `put` at a time, the growth of an
        # empty table to a resync's 20k customers (60k EIDs, ten doublings) was a third of
        # the table's work. Sorted by home place, each entry goes to its home or just after
        # the one before, whichever is later: the places linear probing gives them.
        held = np.frombuffer(self._keys, dtype=np.uint64)
        live = np.flatnonzero(held)
        keys, values = held[live], np.frombuffer(self._values, dtype=np.uint32)[live]
        self._capacity, self._keys, self._values = _allocate(2 * self._size)
        homes = (keys % np.uint64(self._capacity)).astype(np.int64)
        order = np.argsort(homes, kind="stable")
        homes, keys, values = homes[order], keys[order], values[order]
        steps = np.arange(len(homes))
        places = np.maximum.accumulate(homes - steps) + steps if len(homes) else steps
        inside = places < self._capacity
        np.frombuffer(self._keys, dtype=np.uint64)[places[inside]] = keys[inside]
        np.frombuffer(self._values, dtype=np.uint32)[places[inside]] = values[inside]
        self._size = int(inside.sum())
        # Runs past the last place wrap around to the first: those few the usual way.
        for key, value in zip(keys[~inside].tolist(), values[~inside].tolist(), strict=True):
            self.put(key, value)


def _allocate(expected_entries: int) -> tuple[int, array[int], array[int]]:
    capacity = max(_MIN_CAPACITY, int(expected_entries / MAX_LOAD) + 1)
    return capacity, array("Q", bytes(8 * capacity)), array("I", bytes(4 * capacity))
