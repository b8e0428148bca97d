"""Acknowledgements recorded by ranges (issue 17): exactly the acknowledged seqs move to the
sent log, in one transaction, however they are spread; the publisher records the PUBACKs that
arrive during a write together in the next one."""

from __future__ import annotations

from pathlib import Path

from agent.core.clock import ManualClock
from agent.core.events import PrivacyErased
from agent.store.database import Database
from agent.store.outbox import Outbox


def test_scattered_and_repeated_seqs_move_exactly_once(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", store_id="s-1")
    outbox = Outbox(db, "s-1", ManualClock())
    with db.atomic():
        outbox.append([PrivacyErased(f"c-{i}", 0) for i in range(12)])
    acked = [10, 1, 2, 3, 7, 9, 3, 12]  # unordered, a gap, a repeat
    assert outbox.acknowledge(acked) == 7
    left = [e.seq for e in outbox.pending(0, 100)]
    assert left == [4, 5, 6, 8, 11]
    sent = [seq for (seq,) in db.conn.execute("SELECT seq FROM outbox_sent ORDER BY seq")]
    assert sent == [1, 2, 3, 7, 9, 10, 12]
    # Acknowledging again (a write cut short by a disconnect, retried) changes nothing.
    assert outbox.acknowledge([1, 2, 3]) == 0
    assert [e.seq for e in outbox.pending(0, 100)] == left
    db.close()
