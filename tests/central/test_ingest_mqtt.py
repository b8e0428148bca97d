"""The MQTT path into PostgreSQL through a real mosquitto (MQTT 5, shared subscription)."""

from __future__ import annotations

import json

from simulators.mosquitto import MosquittoBroker
from tests.central.support import Publisher, event, metric, query, running_ingest
from tests.helpers import eventually

P = "retail/v1"


async def test_single_events_and_arrays_are_stored_once_and_bad_input_is_counted(
    broker: MosquittoBroker, pg: str
) -> None:
    async with running_ingest(broker=broker.url, dsn=pg, client_id="c-1") as ingest:
        await eventually(
            lambda: metric(ingest, "central_broker_connects_total") == 1, message="connected"
        )
        publisher = Publisher(broker.port)
        first = event("s-1", 1)
        publisher.send(f"{P}/stores/s-1/events", first)
        batch = [event("s-1", seq) for seq in (2, 3, 4)]
        publisher.send(f"{P}/stores/s-1/events", batch)
        publisher.send(f"{P}/stores/s-1/events", first)  # redelivered: same id, seq
        publisher.send(f"{P}/stores/s-1/events", [batch[0], event("s-1", 5)])
        conflict = event("s-1", 2)  # another event claiming a stored seq: never stored
        publisher.send(f"{P}/stores/s-1/events", conflict)
        for bad in (
            b"not json",
            b"[]",
            json.dumps({**event("s-1", 6), "store": "s-2"}),  # another store's topic
            json.dumps({**event("s-1", 7), "seq": True}),
            json.dumps({**event("s-1", 8), "ts": "yesterday"}),
            json.dumps(event("s-1", 9, note="nul \u0000 inside")),
            b"\xff\xfe",
        ):
            publisher.send(f"{P}/stores/s-1/events", bad)
        publisher.send(f"{P}/stores/s-1/events", event("s-1", 10))
        publisher.send(f"{P}/stores/NOT A STORE/events", event("s-1", 11))

        await eventually(
            lambda: metric(ingest, "central_events_ingested_total") == 6, message="6 stored"
        )
        await eventually(
            lambda: metric(ingest, "central_malformed_dropped_total", {"reason": "bad_topic"}) == 1,
            message="the last message counted",
        )
        rows = query(pg, "SELECT seq, id, type, data, ts::text FROM retail_events ORDER BY seq")
        assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 10]
        assert rows[0][1] == first["id"] and rows[1][1] == batch[0]["id"]
        assert rows[0][3] == first["data"] and rows[0][2] == "queue.joined"
        assert rows[0][4] == "2026-12-01 10:00:00+00"
        assert metric(ingest, "central_event_duplicates_total") == 2
        assert metric(ingest, "central_event_conflicts_total") == 1
        reasons = {
            reason: metric(ingest, "central_malformed_dropped_total", {"reason": reason})
            for reason in ("not_json", "empty_array", "store_mismatch", "bad_seq", "bad_ts")
        }
        assert reasons == {**dict.fromkeys(reasons, 1.0), "not_json": 2.0}  # + the bad UTF-8
        assert metric(ingest, "central_malformed_dropped_total", {"reason": "nul_in_data"}) == 1
        # Poison never cost the connection.
        assert metric(ingest, "central_broker_connects_total") == 1
        publisher.close()


async def test_two_consumers_share_the_stream_and_one_killed_mid_run_loses_nothing(
    broker: MosquittoBroker, pg: str, tmp_path, capsys
) -> None:
    import asyncio
    import time

    from agent.cli import main
    from tests.central.support import ingest_process, kill, stop

    def consumer(name: str):
        return ingest_process(
            "--broker",
            broker.url,
            "--db",
            pg,
            "--client-id",
            name,
            "--batch-max",
            "50",
            log=tmp_path / f"{name}.log",
        )

    first, second = consumer("member-a"), consumer("member-b")
    publisher = Publisher(broker.port)
    try:
        # Both members must be in the group before the first event, or one takes all.
        await eventually(
            lambda: all(
                "connected, group" in (tmp_path / f"{n}.log").read_text()
                for n in ("member-a", "member-b")
            ),
            message="both consumers subscribed",
        )
        stores, per_store = [f"s-{i}" for i in range(5)], 400
        sent: list[dict] = []
        infos = []
        for seq in range(1, per_store + 1):
            for store in stores:
                body = event(store, seq)
                sent.append(body)
                infos.append(
                    publisher.client.publish(f"{P}/stores/{store}/events", json.dumps(body), qos=1)
                )
            if seq == per_store // 3:
                kill(first)  # mid-stream: whatever it had not committed and acked comes back
                killed_at = time.monotonic()
            if seq == 2 * per_store // 3:
                first = consumer("member-a")  # same client id: its session, its unacked messages
            await asyncio.sleep(0.002)
        for info in infos:
            info.wait_for_publish(timeout=20)
        await eventually(
            lambda: query(pg, "SELECT count(*) FROM retail_events")[0][0] == len(sent),
            timeout=30,
            message="every event in the table",
        )
        assert time.monotonic() > killed_at
        rows = query(pg, "SELECT store, seq, id FROM retail_events ORDER BY store, seq")
        assert sorted(r[2] for r in rows) == sorted(e["id"] for e in sent)
        for store in stores:
            assert [r[1] for r in rows if r[0] == store] == list(range(1, per_store + 1))

        await eventually(
            lambda: (
                query(pg, "SELECT min(contiguous_seq) FROM retail_store_progress")[0][0]
                == per_store
            ),
            message="the watcher saw every store contiguous",
        )
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["central", "status", "--db", pg, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert [s["store"] for s in status] == stores
        for row in status:
            assert (row["contiguous_seq"], row["open_holes"], row["known_losses"]) == (
                per_store,
                0,
                0,
            )
            assert 0 <= row["seconds_since_last_event"] < 60
        assert await asyncio.to_thread(main, ["central", "status", "--db", pg]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == len(stores)
        assert lines[0].startswith("s-0 contiguous_seq=400 open_holes=0 known_losses=0 ")
    finally:
        publisher.close()
        stop(first)
        stop(second)


async def test_nothing_is_acknowledged_before_its_commit(
    broker: MosquittoBroker, pg: str, tmp_path
) -> None:
    """A consumer stuck before its commit and then killed: the broker still has every event."""
    import asyncio

    import psycopg

    from tests.central.support import ingest_process, kill, stop

    log = tmp_path / "ingest.log"
    args = ("--broker", broker.url, "--db", pg, "--client-id", "member-a")
    consumer = ingest_process(*args, log=log)
    await eventually(lambda: "connected, group" in log.read_text(), message="subscribed")
    publisher = Publisher(broker.port)
    sent = [event("s-1", seq) for seq in range(1, 11)]
    with psycopg.connect(pg) as blocker:
        # The table is locked: the consumer receives the events but cannot commit them.
        blocker.execute("LOCK TABLE retail_events IN ACCESS EXCLUSIVE MODE")
        for body in sent:
            publisher.send(f"{P}/stores/s-1/events", body)
        await eventually(
            lambda: bool(query(pg, "SELECT 1 FROM pg_locks WHERE NOT granted")),
            message="the consumer waiting on the lock",
        )
        kill(consumer)
        blocker.rollback()
    assert query(pg, "SELECT count(*) FROM retail_events")[0][0] == 0
    consumer = ingest_process(*args, log=log)  # same client id: the same broker session
    try:
        await eventually(
            lambda: query(pg, "SELECT count(*) FROM retail_events")[0][0] == 10,
            timeout=20,
            message="the unacknowledged events delivered again",
        )
        ids = [r[0] for r in query(pg, "SELECT id FROM retail_events ORDER BY seq")]
        assert ids == [e["id"] for e in sent]
    finally:
        publisher.close()
        stop(consumer)
        await asyncio.sleep(0)
