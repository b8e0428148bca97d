"""The reference central ingest: events/s into PostgreSQL through each broker path.

What runs is the real command, `retail-edge central ingest` (its own process, as deployed),
against a private mosquitto (MQTT 5 shared subscription) and a private 3-node NATS cluster
(JetStream, stream and consumer with 3 replicas), into a fresh PostgreSQL database each time.

Measured, in one run:
- **one consumer's sustained rate**: a backlog of N single-event messages waits at the broker
  (queued in the consumer's session on mosquitto, stored in the stream on NATS), then one
  ingest process starts and drains it into the table; events/s from its start to the last row;
- **a fleet of real agents** (the fleet benchmark's workers: bootstrap.build + AgentDaemon each)
  publishing at a fixed offered rate through the broker into two ingest processes: events/s
  committed and the p99 age of an event at its insert (`received_at - ts`: the agent stamps `ts`
  in its commit transaction; both clocks are this machine's);
- baselines: PostgreSQL `COPY` of the same rows into a table with the same keys (the database's
  floor for this row shape), and each broker's own throughput with mosquitto's C clients
  (`mosquitto_pub -l` into `mosquitto_sub`). The `nats` CLI (`nats bench`) is not installed
  here (Debian ships only nats-server), so NATS's own figure is the C clients through its
  MQTT listener.

Run: `python -m benchmarks --only central_ingest` (full) or `--quick`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

from benchmarks.common import Figure, figure
from benchmarks.fleet.agents import worker_main
from benchmarks.fleet.plan import TMPFS
from benchmarks.fleet.processes import Child, ask_all
from central.schema import migrate
from simulators.mosquitto import MosquittoBroker
from simulators.nats_cluster import NatsCluster

ADMIN_DSN = "host=127.0.0.1 user=postgres dbname=postgres"
ROOT = Path(__file__).resolve().parents[1]
PREFIX = "retail/v1"
PUBLISHERS = 8  # mosquitto_pub processes, one store each, for the backlogs


@contextmanager
def database() -> Iterator[str]:
    name = f"re_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"host=127.0.0.1 user=postgres dbname={name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def envelope(store: str, seq: int) -> dict[str, object]:
    return {
        "id": f"{store}-{seq}-{uuid.uuid4().hex[:12]}",
        "store": store,
        "seq": seq,
        "type": "queue.joined",
        "ts": "2026-12-01T10:00:00.000Z",
        "data": {"queue": "advice", "ticket_id": f"t-{seq:06d}", "number": seq},
    }


def backlog_files(workdir: Path, events: int) -> list[tuple[str, Path]]:
    """One file of JSON lines per store (mosquitto_pub -l sends a line per message)."""
    files = []
    for index in range(PUBLISHERS):
        store = f"bench-{index:02d}"
        path = workdir / f"{store}.jsonl"
        lines = (json.dumps(envelope(store, seq)) for seq in range(1, events // PUBLISHERS + 1))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files.append((store, path))
    return files


def publish_backlog(port: int, files: list[tuple[str, Path]], *, v311: bool) -> float:
    """mosquitto_pub -l, one process per store, QoS 1; returns messages/s."""
    started = time.monotonic()
    processes = []
    for store, path in files:
        command = [
            "mosquitto_pub",
            "-h",
            "127.0.0.1",  # not "localhost", its default: a minimal Debian root has no /etc/hosts
            "-p",
            str(port),
            "-q",
            "1",
            "-l",
            "-t",
            f"{PREFIX}/stores/{store}/events",
            "-i",
            f"bench-pub-{store}",
        ]
        if v311:
            command += ["-V", "mqttv311"]
        processes.append(subprocess.Popen(command, stdin=path.open("rb")))
    for process in processes:
        process.wait(timeout=600)
    lines = sum(len(path.read_text().splitlines()) for _, path in files)
    return lines / (time.monotonic() - started)


def c_client_throughput(
    port: int, messages: int, workdir: Path, *, v311: bool
) -> tuple[float, int]:
    """4 `mosquitto_pub -l` (QoS 1, 32 in flight each) into one `mosquitto_sub` (QoS 1):
    (messages/s at the subscriber, messages received)."""
    version = ["-V", "mqttv311"] if v311 else ["-V", "5"]
    common = ["-h", "127.0.0.1", "-p", str(port), "-q", "1", *version]
    per = messages // 4
    lines = workdir / "c-lines.txt"
    lines.write_bytes((json.dumps(envelope("c-bench", 1)) + "\n").encode() * per)
    output = workdir / "c-sub.txt"
    with output.open("wb") as out:
        sub = subprocess.Popen(
            ["mosquitto_sub", *common, "-t", "cbench/#", "-i", "cbench-sub"], stdout=out
        )
    time.sleep(1.0)  # subscribed
    started = time.monotonic()
    pubs = []
    for i in range(4):
        with lines.open("rb") as source:
            pubs.append(
                subprocess.Popen(
                    ["mosquitto_pub", *common, "-l", "-M", "32", "-t", f"cbench/{i}"],
                    stdin=source,
                )
            )
    for process in pubs:
        process.wait(timeout=600)
    received, last_change = 0, time.monotonic()
    while time.monotonic() - last_change < 1.0:  # until the subscriber stops receiving
        time.sleep(0.05)
        count = output.read_bytes().count(b"\n")
        if count != received:
            received, last_change = count, time.monotonic()
    sub.terminate()
    sub.wait(timeout=10)
    return received / (last_change - started), received


def copy_floor(dsn: str, rows: int) -> float:
    """COPY of contract-shaped rows into a table with retail_events' keys: rows/s."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE copy_floor (store text, seq bigint, id text, type text,"
            " ts timestamptz, data jsonb, received_at timestamptz DEFAULT now(),"
            " PRIMARY KEY (store, seq))"
        )
        conn.execute("CREATE UNIQUE INDEX copy_floor_id ON copy_floor (id)")
        conn.commit()
        batch = [envelope(f"copy-{i % PUBLISHERS}", i // PUBLISHERS + 1) for i in range(rows)]
        started = time.monotonic()
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY copy_floor (store, seq, id, type, ts, data) FROM STDIN") as copy,
        ):
            for e in batch:
                copy.write_row(
                    (e["store"], e["seq"], e["id"], e["type"], e["ts"], json.dumps(e["data"]))
                )
        conn.commit()
        return rows / (time.monotonic() - started)


def ingest(broker: str, dsn: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent.cli",
                "--log-level",
                "WARNING",
                "central",
                "ingest",
                "--broker",
                broker,
                "--db",
                dsn,
                *extra,
            ],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM retail_events").fetchone()
        return int(row[0]) if row else 0


def wait_rows(dsn: str, expected: int, timeout_s: float) -> float:
    """Seconds until the table holds `expected` rows."""
    started = time.monotonic()
    while count(dsn) < expected:
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{count(dsn)} of {expected} rows after {timeout_s} s")
        time.sleep(0.1)
    return time.monotonic() - started


def drain_rate(
    broker: str, mqtt_port: int, events: int, workdir: Path, *, nats: bool
) -> tuple[float, float]:
    """(events/s of one consumer draining, messages/s of the backlog's publishers)."""
    """One ingest process draining a backlog that waits at the broker: events/s."""
    files = backlog_files(workdir, events)
    total = sum(len(p.read_text().splitlines()) for _, p in files)
    extra = ("--replicas", "3", "--group", "bench") if nats else ("--client-id", "bench-1")
    with database() as dsn:
        # First run: creates the tables and the session / durable consumer, then goes away.
        first = ingest(broker, dsn, workdir / "ingest.log", *extra)
        wait_until_subscribed(dsn)
        time.sleep(1.0)
        stop(first)
        published = publish_backlog(mqtt_port, files, v311=nats)
        time.sleep(1.0 if nats else 0.2)  # the stream has stored the last messages
        process = ingest(broker, dsn, workdir / "ingest.log", *extra)
        try:
            wait_rows(dsn, total, timeout_s=600)
        finally:
            stop(process)
        # From the first batch's insert to the last one's: the process's start-up is not in it.
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM max(received_at) - min(received_at)),"
                " count(DISTINCT received_at) FROM retail_events"
            ).fetchone()
        assert row is not None
        seconds, batches = float(row[0]), int(row[1])
    # The last batch's own time is not in the span: one average batch's worth is added.
    return total / (seconds * batches / max(1, batches - 1)), published


def wait_until_subscribed(dsn: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn) as conn:
                if conn.execute("SELECT to_regclass('retail_events')").fetchone() != (None,):
                    return
        except psycopg.OperationalError:
            pass
        time.sleep(0.1)


def fleet_run(
    urls: list[str],
    broker: str,
    workdir: Path,
    *,
    per_worker: int,
    rate: float,
    seconds: float,
    nats: bool,
) -> tuple[float, float, float, int]:
    """(events/s committed, p50 and p99 age at insert in ms, events) for a fleet of agents."""
    data = Path(tempfile.mkdtemp(prefix="central-bench-", dir=TMPFS))
    # Its own group: the drain run's member has a persistent session in group "central", and an
    # offline member of a shared subscription still gets its share queued (docs/central.md).
    extra = ("--replicas", "3", "--group", "fleet") if nats else ("--group", "fleet")
    with database() as dsn:
        consumers = [
            ingest(
                broker,
                dsn,
                workdir / "fleet-ingest.log",
                *extra,
                *(() if nats else ("--client-id", f"fleet-{i}")),
            )
            for i in range(2)
        ]
        workers = []
        try:
            wait_until_subscribed(dsn)
            time.sleep(1.5)
            for index, url in enumerate(urls):
                stores = [f"w{index}-{i:03d}" for i in range(per_worker)]
                workers.append(Child(f"bench-agents-{index}", worker_main, url, stores, str(data)))
            ask_all(workers, "start", timeout=300)
            wait_rows(dsn, len(urls) * per_worker, timeout_s=60)  # every agent.started in
            began = time.monotonic()
            with psycopg.connect(dsn) as conn:
                conn.execute("SELECT 1")
            mark = _now(dsn)
            ask_all(workers, "step", rate, seconds, timeout=seconds + 120)
            drained = ask_all(workers, "drain", timeout=300)
            expected = sum(sum(seqs.values()) for _, seqs in drained)
            wait_rows(dsn, expected, timeout_s=120)
            elapsed = time.monotonic() - began
            with psycopg.connect(dsn) as conn:
                row = conn.execute(
                    "SELECT count(*),"
                    " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)),"
                    " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts))"
                    " FROM retail_events WHERE received_at >= %s AND type <> 'agent.started'",
                    (mark,),
                ).fetchone()
            assert row is not None
            events = int(row[0])
            return events / elapsed, float(row[1]) * 1000, float(row[2]) * 1000, events
        finally:
            for worker in workers:
                worker.send("stop")
            for worker in workers:
                with suppress(TimeoutError, EOFError):
                    worker.reply(timeout=60)
                worker.end()
            for process in consumers:
                stop(process)
            shutil.rmtree(data, ignore_errors=True)


def _now(dsn: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        return row[0]


def run(quick: bool = False) -> list[Figure]:
    backlog = 2_000 if quick else 100_000
    c_messages = 8_000 if quick else 200_000
    per_worker, rate, seconds = (3, 2.0, 1.5) if quick else (50, 4.0, 15.0)
    workdir = Path(tempfile.mkdtemp(prefix="central-bench-"))
    figures: list[Figure] = []
    with database() as dsn:
        with psycopg.connect(dsn) as conn:
            migrate(conn)
        copy = copy_floor(dsn, backlog)
    (workdir / "mosquitto").mkdir()
    # No limit on a client's queue: the backlog waits in the consumer's session.
    broker = MosquittoBroker(workdir=workdir / "mosquitto", extra_config="max_queued_messages 0")
    broker.start()
    try:
        mqtt_drain, mqtt_in = drain_rate(broker.url, broker.port, backlog, workdir, nats=False)
        mqtt_c, mqtt_c_got = c_client_throughput(broker.port, c_messages, workdir, v311=False)
        mqtt_fleet = fleet_run(
            [broker.url] * 2,
            broker.url,
            workdir,
            per_worker=per_worker,
            rate=rate,
            seconds=seconds,
            nats=False,
        )
    finally:
        broker.close()
    cluster = NatsCluster(3, workdir=workdir / "nats")
    cluster.start()
    try:
        nats_drain, nats_in = drain_rate(
            cluster.nats_url, cluster.nodes[0].mqtt_port, backlog, workdir, nats=True
        )
        nats_c, nats_c_got = c_client_throughput(
            cluster.nodes[0].mqtt_port, c_messages // 4, workdir, v311=True
        )
        nats_fleet = fleet_run(
            [n.mqtt_url for n in cluster.nodes[:2]],
            cluster.nats_url,
            workdir,
            per_worker=per_worker,
            rate=rate,
            seconds=seconds,
            nats=True,
        )
    finally:
        cluster.close()
    shutil.rmtree(workdir, ignore_errors=True)

    stores = 2 * per_worker
    figures += [
        figure(
            "8 mosquitto_pub -l into mosquitto (the backlog, queued for the consumer)",
            round(mqtt_in),
            round(mqtt_drain),
            "messages/s",
            "-",
            "QoS 1, one event per message; baseline: one consumer draining it",
        ),
        figure(
            "8 mosquitto_pub -l into a NATS node's MQTT listener, stored in the R3 stream",
            round(nats_in),
            round(nats_drain),
            "messages/s",
            "-",
            "QoS 1, MQTT 3.1.1; baseline: one consumer draining it",
        ),
        figure(
            "one consumer drains a backlog, mosquitto -> PostgreSQL",
            round(mqtt_drain),
            round(copy),
            "events/s",
            "-",
            f"{backlog} single-event messages; baseline: COPY of the same rows (DB floor)",
        ),
        figure(
            "one consumer drains a backlog, 3-node NATS JetStream (R3) -> PostgreSQL",
            round(nats_drain),
            round(copy),
            "events/s",
            "-",
            "baseline: COPY of the same rows",
        ),
        figure(
            "mosquitto's C clients through mosquitto",
            round(mqtt_c),
            round(mqtt_drain),
            "messages/s",
            "-",
            f"{mqtt_c_got} of {c_messages} received; baseline: one ingest consumer",
        ),
        figure(
            "mosquitto's C clients through a NATS node's MQTT listener",
            round(nats_c),
            round(nats_drain),
            "messages/s",
            "-",
            f"QoS 1, MQTT 3.1.1, {nats_c_got} of {c_messages // 4} received; no nats CLI here",
        ),
        figure(
            f"fleet of {stores} agents, mosquitto -> 2 ingests",
            round(mqtt_fleet[0]),
            round(stores * rate),
            "events/s",
            "= offered",
            f"offered {rate:g}/s per store for {seconds:g} s; age at insert p50/p99 "
            f"{mqtt_fleet[1]:.1f}/{mqtt_fleet[2]:.1f} ms; {mqtt_fleet[3]} events",
        ),
        figure(
            f"fleet of {stores} agents, NATS cluster -> 2 ingests",
            round(nats_fleet[0]),
            round(stores * rate),
            "events/s",
            "= offered",
            f"age at insert p50/p99 {nats_fleet[1]:.1f}/{nats_fleet[2]:.1f} ms; "
            f"{nats_fleet[3]} events",
        ),
    ]
    return figures


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
