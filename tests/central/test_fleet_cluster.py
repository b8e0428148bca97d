"""A fleet of real agents through a 3-node NATS cluster with JetStream into PostgreSQL, with a
NATS node (the stream's leader) and an ingest process killed with SIGKILL mid-run and brought
back.

The agents are the fleet benchmark's (benchmarks/fleet/agents.py: `bootstrap.build` +
`AgentDaemon` each, with its own SQLite database, outbox, sent log and MQTT link), run in
worker processes, one worker per node, so the agents of the killed node lose their broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import main
from benchmarks.fleet.agents import worker_main
from benchmarks.fleet.plan import TMPFS
from benchmarks.fleet.processes import Child, ask_all
from simulators.nats_cluster import NatsCluster
from tests.central.support import ingest_process, kill, query, stop
from tests.helpers import eventually


@pytest.fixture
def cluster(tmp_path) -> Iterator[NatsCluster]:
    instance = NatsCluster(3, workdir=tmp_path / "nats")
    instance.start()
    try:
        yield instance
    finally:
        instance.close()


async def stream_leader(cluster: NatsCluster):
    import nats

    from central.nats_source import stream_name

    nc = await nats.connect(cluster.nats_url.split(",")[0])
    try:
        info = await nc.jetstream().stream_info(stream_name("retail/v1"))
    finally:
        await nc.close()
    leader = info.cluster.leader if info.cluster else None
    return next((n for n in cluster.nodes if n.name == leader), None)


async def run_fleet(
    cluster: NatsCluster,
    pg: str,
    tmp_path: Path,
    capsys,
    *,
    per_node: int,
    rate: float,
    step_s: float,
) -> None:
    def consumer(name: str):
        return ingest_process(
            "--broker",
            cluster.nats_url,
            "--db",
            pg,
            "--group",
            "fleet",
            "--replicas",
            "3",
            "--ack-wait",
            "3",
            "--probe-after",
            "3",
            "--resend-after",
            "2",
            "--batch-max",
            "200",
            log=tmp_path / f"{name}.log",
        )

    consumers = [consumer("ingest-a"), consumer("ingest-b")]
    data = Path(tempfile.mkdtemp(prefix="central-fleet-", dir=TMPFS))
    workers: list[Child] = []
    try:
        for index, node in enumerate(cluster.nodes):
            stores = [f"n{index + 1}-{i:03d}" for i in range(per_node)]
            workers.append(
                Child(f"agents-{node.name}", worker_main, node.mqtt_url, stores, str(data))
            )
        ask_all(workers, "start", timeout=180)  # every agent connected
        await eventually(
            lambda: all("pulling from" in (tmp_path / f"ingest-{x}.log").read_text() for x in "ab"),
            message="both consumers pulling",
        )
        for worker in workers:
            worker.send("step", rate, step_s)
        await asyncio.sleep(step_s / 3)
        # The node that leads the stream, the hardest loss: for the seconds JetStream takes to
        # elect another leader (7 s seen), what the agents publish is acknowledged by their
        # node and dropped, answers to resend requests included. Holes are asked for again
        # and silent tails probed again (central/watcher.py) until everything is in.
        leader = await stream_leader(cluster)
        victim = leader or cluster.nodes[-1]
        cluster.kill_node(victim)  # its agents lose their broker, with what it held
        kill(consumers[0])  # and one consumer, whatever it had not acknowledged
        await asyncio.sleep(step_s / 3)
        cluster.start_node(victim)
        consumers[0] = consumer("ingest-a")
        for worker in workers:
            worker.reply(timeout=120)
        drained = ask_all(workers, "drain", timeout=180)
        last_seq: dict[str, int] = {}
        for _stamps, seqs in drained:
            last_seq.update(seqs)
        assert len(last_seq) == 3 * per_node

        def complete() -> bool:
            rows = dict(query(pg, "SELECT store, contiguous_seq FROM retail_store_progress"))
            return all(rows.get(store, 0) >= seq for store, seq in last_seq.items())

        try:
            await eventually(complete, timeout=90, message="every store contiguous")
        except AssertionError:
            rows = {
                r[0]: r[1:]
                for r in query(
                    pg, "SELECT store, contiguous_seq, max_seq FROM retail_store_progress"
                )
            }
            behind = {
                s: (seq, rows.get(s)) for s, seq in last_seq.items() if rows.get(s, (0, 0))[0] < seq
            }
            logs = "".join((tmp_path / f"ingest-{x}.log").read_text() for x in "ab")
            first = next(iter(behind), "")
            asked = [line for line in logs.splitlines() if f"asked {first} " in line]
            raise AssertionError(
                f"{len(behind)} stores behind (last seq, (contiguous, max)), e.g. {first}: "
                f"{behind.get(first)}; requests to it: {asked}"
            ) from None
        counts = dict(query(pg, "SELECT store, count(*) FROM retail_events GROUP BY store"))
        highest = dict(query(pg, "SELECT store, max(seq) FROM retail_events GROUP BY store"))
        for store, seq in last_seq.items():
            # Exactly once and contiguous: as many rows as the highest seq, from 1 up.
            assert counts[store] == highest[store] >= seq
        assert query(pg, "SELECT count(*) FROM retail_known_losses")[0][0] == 0
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["central", "status", "--db", pg, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert len(status) == 3 * per_node
        assert all(row["open_holes"] == 0 for row in status)
        total = sum(counts.values())
        asked = sum((tmp_path / f"ingest-{x}.log").read_text().count("asked ") for x in "ab")
        print(f"fleet: {len(last_seq)} agents, {total} events, {asked} resend requests")
    finally:
        for worker in workers:
            worker.send("stop")
        for worker in workers:
            with contextlib.suppress(TimeoutError, EOFError):
                worker.reply(timeout=60)
            worker.end()
        for process in consumers:
            stop(process)
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.timeout(180)  # ~40 s alone; more when the machine is shared
async def test_a_fleet_through_the_cluster_survives_a_killed_node_and_consumer(
    cluster: NatsCluster, pg: str, tmp_path, capsys
) -> None:
    """The node that leads the stream is the one killed."""
    await run_fleet(cluster, pg, tmp_path, capsys, per_node=17, rate=2.0, step_s=6.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_long_form_a_bigger_fleet_for_longer(
    cluster: NatsCluster, pg: str, tmp_path, capsys
) -> None:
    await run_fleet(cluster, pg, tmp_path, capsys, per_node=50, rate=4.0, step_s=30.0)
