"""Per-store sequence book-keeping, pure: from what is in the table above a store's contiguous
point, the new contiguous point, the highest `seq` and the holes between them.

A `seq` counts as closed when its event is stored or when an `outbox.dropped` announcement
covers it (a known loss): the store said it is gone for good, so the contiguous point moves
past it and nobody asks for it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Range = tuple[int, int]  # inclusive (from_seq, to_seq)


@dataclass(frozen=True, slots=True)
class Progress:
    contiguous_seq: int
    max_seq: int
    holes: list[Range]  # missing and not announced, in order


def advance(contiguous: int, stored: Sequence[int], losses: Iterable[Range]) -> Progress:
    """`stored`: the stored seqs above `contiguous`, ascending; `losses`: announced ranges."""
    closed = _merge([(s, s) for s in stored] + [r for r in losses if r[1] > contiguous])
    max_seq = max(contiguous, stored[-1] if stored else 0)
    holes: list[Range] = []
    cursor = contiguous  # every seq <= cursor is closed or lies in a hole already listed
    for low, high in closed:
        if high <= cursor:
            continue
        if low > cursor + 1:
            if low - 1 > max_seq:  # an announcement beyond the last stored event: no hole yet
                break
            holes.append((cursor + 1, low - 1))
        cursor = max(cursor, high)
    # With no hole, the contiguous point is the highest seq known (stored or announced).
    new_contiguous = holes[0][0] - 1 if holes else cursor
    return Progress(new_contiguous, max(max_seq, new_contiguous), holes)


def _merge(ranges: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def missing(holes: Iterable[Range]) -> int:
    return sum(high - low + 1 for low, high in holes)


def requests_for(hole: Range, span: int) -> list[Range]:
    """A hole as resend requests of at most `span` events each (the agent's limit)."""
    low, high = hole
    return [(start, min(high, start + span - 1)) for start in range(low, high + 1, span)]
