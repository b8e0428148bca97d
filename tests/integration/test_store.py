"""The SQLite store: durability settings, the one-agent lock, migrations, the outbox."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.core.clock import ManualClock
from agent.core.events import AgentStarted, PrivacyErased
from agent.errors import DatabaseLockedError, StorageError
from agent.store.database import Database
from agent.store.outbox import Outbox


def open_db(path: Path, store: str = "s-1", *, exclusive: bool = True) -> Database:
    return Database.open(path, store_id=store, exclusive=exclusive)


def test_wal_and_full_sync_are_on(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    try:
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        tables = set(db.db.table_names())
        assert {"meta", "outbox", "customers", "customer_tombstones"} <= tables
    finally:
        db.close()


def test_second_agent_on_the_same_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = open_db(path)
    try:
        with pytest.raises(DatabaseLockedError, match="already used by another retail-edge agent"):
            open_db(path)
        # ... also from another process, which is the case that matters.
        code = (
            "import sys; from pathlib import Path; from agent.store.database import Database\n"
            "from agent.errors import DatabaseLockedError\n"
            f"try: Database.open(Path({str(path)!r}), store_id='s-1')\n"
            "except DatabaseLockedError as e: print(e); sys.exit(3)\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 3, result.stderr
        assert "already used by another retail-edge agent" in result.stdout
        # Tools (such as `pair`) may still open it without the agent lock.
        tool = open_db(path, exclusive=False)
        tool.close()
    finally:
        db.close()
    open_db(path).close()  # the lock goes with the owner


def test_a_tool_writing_beside_the_agent_waits_instead_of_failing(tmp_path: Path) -> None:
    """`retail-edge pair` reads then writes while the agent commits in between: in WAL mode a
    deferred transaction then fails at once with "database is locked" (its snapshot is
    stale, so SQLite cannot wait). Both writes must land."""
    path = tmp_path / "a.db"
    agent, tool = open_db(path), open_db(path, exclusive=False)
    tool_has_read, agent_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def agent_writes() -> None:
        tool_has_read.wait(5)
        try:
            with agent.atomic():
                agent.set_meta("agent", "1")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        agent_done.set()

    writer = threading.Thread(target=agent_writes)
    writer.start()
    try:
        with tool.atomic():
            assert tool.meta("tool") is None  # the read that starts the snapshot
            tool_has_read.set()
            agent_done.wait(0.5)  # the agent's commit would land here with a deferred BEGIN
            tool.set_meta("tool", "1")
        writer.join(15)
        assert errors == [] and agent_done.is_set()
        assert (agent.meta("agent"), agent.meta("tool")) == ("1", "1")
    finally:
        writer.join(15)
        tool.close()
        agent.close()


def test_a_database_belongs_to_one_store(tmp_path: Path) -> None:
    open_db(tmp_path / "a.db", "s-1").close()
    with pytest.raises(StorageError, match="belongs to store 's-1'"):
        open_db(tmp_path / "a.db", "s-2")


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open database"):
        open_db(path)


def test_seq_is_contiguous_across_restarts_and_acknowledgements(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "a.db"
    seqs: list[int] = []
    for _ in range(3):
        db = open_db(path)
        outbox = Outbox(db, "s-1", clock)
        with db.atomic():
            entries = outbox.append([AgentStarted("1"), PrivacyErased("c-1", 1)])
        seqs += [e.seq for e in entries]
        outbox.acknowledge([entries[0].seq])  # deleting rows must not reuse numbers
        db.close()
    assert seqs == [1, 2, 3, 4, 5, 6]


def test_envelope_matches_the_contract(tmp_path: Path) -> None:
    clock = ManualClock()
    db = open_db(tmp_path / "a.db")
    outbox = Outbox(db, "s-1", clock)
    with db.atomic():
        (entry,) = outbox.append([PrivacyErased("c-1", 2)])
    envelope = json.loads(entry.body)
    assert set(envelope) == {"id", "store", "seq", "type", "ts", "data"}
    assert envelope["store"] == "s-1" and envelope["seq"] == 1
    assert envelope["type"] == "privacy.erased"
    assert envelope["ts"] == "2026-01-05T09:00:00.000Z"
    assert envelope["data"] == {"customer_id": "c-1", "records_deleted": 2}
    assert outbox.pending(0, 10)[0].body == entry.body  # stored byte-identical for resends
    db.close()


def test_append_outside_a_transaction_is_refused(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    with pytest.raises(RuntimeError, match="inside the state change's transaction"):
        Outbox(db, "s-1", ManualClock()).append([AgentStarted("1")])
    db.close()


def test_a_failed_state_change_leaves_no_event(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    outbox = Outbox(db, "s-1", ManualClock())
    with pytest.raises(ZeroDivisionError), db.atomic():
        outbox.append([AgentStarted("1")])
        _ = 1 / 0
    assert outbox.stats().depth == 0
    with db.atomic():
        (entry,) = outbox.append([AgentStarted("1")])
    assert entry.seq == 1  # the rolled-back number is not burnt
    db.close()


def test_retention_by_count_drops_oldest_and_announces_the_gap(tmp_path: Path) -> None:
    clock = ManualClock()
    db = open_db(tmp_path / "a.db")
    outbox = Outbox(db, "s-1", clock)
    with db.atomic():
        outbox.append([AgentStarted(str(i)) for i in range(1500)])
    dropped = outbox.enforce_retention(max_events=1000, max_age_s=10**9)
    assert len(dropped) == 1
    assert (dropped[0].from_seq, dropped[0].to_seq, dropped[0].count) == (1, 501, 501)
    stats = outbox.stats()
    assert stats.depth == 1000  # the bound holds including the announcement
    last = json.loads(outbox.pending(1499, 5)[-1].body)
    assert last["type"] == "outbox.dropped"
    assert last["data"] == {"from_seq": 1, "to_seq": 501, "count": 501, "reason": "max_events"}
    db.close()


def test_retention_by_age(tmp_path: Path) -> None:
    clock = ManualClock()
    db = open_db(tmp_path / "a.db")
    outbox = Outbox(db, "s-1", clock)
    with db.atomic():
        outbox.append([AgentStarted("old")] * 3)
    clock.advance(7200)
    with db.atomic():
        outbox.append([AgentStarted("new")])
    dropped = outbox.enforce_retention(max_events=10_000, max_age_s=3600)
    assert [(d.from_seq, d.to_seq, d.reason) for d in dropped] == [(1, 3, "max_age")]
    types = [json.loads(e.body)["type"] for e in outbox.pending(0, 10)]
    assert types == ["agent.started", "outbox.dropped"]
    assert outbox.enforce_retention(max_events=10_000, max_age_s=3600) == []
    db.close()


def test_a_ticket_never_links_to_a_customer_the_store_does_not_hold(tmp_path: Path) -> None:
    """A staff transition decided on the in-memory ticket before an erase and committed after
    it must not write the erased customer's id back into the ticket row."""
    import random
    from datetime import UTC, datetime

    from agent.core.customers import parse_customer_message
    from agent.core.queue import Ticket, TicketState
    from agent.store.customers import CustomerRepository
    from agent.store.tickets import TicketRepository
    from simulators.customers import demo_customer

    db = open_db(tmp_path / "a.db")
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    record = demo_customer(random.Random(1), 1)
    held = parse_customer_message(json.dumps(record).encode(), record["customer_id"])
    tickets = TicketRepository(db)
    with db.atomic():
        CustomerRepository(db).upsert(held, now)
        for ticket_id, customer in (("t-held", "c-00001"), ("t-gone", "c-99999")):
            tickets.save(
                Ticket(
                    ticket_id, "advice", 1, TicketState.CALLED, 1.0, now, "h", customer_id=customer
                )
            )
    links = dict(db.conn.execute("SELECT id, customer_id FROM tickets").fetchall())
    assert links == {"t-held": "c-00001", "t-gone": None}
    db.close()
